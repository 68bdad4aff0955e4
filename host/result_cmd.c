/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm result open | inspect: the customer's check of a sealed result
 * (docs/result.md §2, docs/result-cli.md). The checks run in a fixed order
 * and stop at the first that fails:
 *
 *   framing      commit record (an output disk), framing, canonical header and
 *                trailer, the signature over the bundle (lib: outdisk_open,
 *                result_verify)
 *   evidence     the trailer's evidence is genuine, as the key broker verifies
 *                it (measurement: kbs_evidence_verify)
 *   binding      it binds report_data = SHA-512(D || signing key)
 *   runtime_log  the trailer's runtime log replays to the evidence's RTMR3 or
 *                PCR 15 (and is the log the evidence itself carries)
 *   events       it measured result-key, order-id, luks-header and
 *                job-manifest, each once, with the header's values
 *   reference    the measurements against --reference
 *   decrypt      (open) every chunk, then a safe extraction (result_extract)
 *
 * Everything in the bundle is hostile until checked: text from it is
 * printed only in the forms the checks allow (hex, validated names), and
 * the extracted file names with their control bytes replaced.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/cvm.h"
#include "host/market.h"
#include "host/result_cmd.h"
#include "lib/lib.h"
#include "measurement/platform.h"

/* Each stage's name and the error code its refusals carry (framing and decrypt: lib's own). */
const struct stage_info result_stages[ST__MAX] = {
	[ST_FRAMING] = { "framing", NULL },
	[ST_EVIDENCE] = { "evidence", "E_RESULT_EVIDENCE" },
	[ST_BINDING] = { "binding", "E_RESULT_BINDING" },
	[ST_RUNTIME_LOG] = { "runtime_log", "E_RESULT_EVENTLOG" },
	[ST_EVENTS] = { "events", "E_RESULT_EVENT" },
	[ST_REFERENCE] = { "reference", "E_RESULT_REFERENCE" },
	[ST_DECRYPT] = { "decrypt", NULL },
};

/* ---- usage ---- */

static void help(FILE *f, bool open)
{
	if (open)
		fputs("Usage: cvm result open BUNDLE|OUTPUT_DISK --key KEY -o DIR [options]\n"
		      "\n"
		      "Verifies a sealed result, then decrypts it and extracts its files into "
		      "DIR,\n"
		      "which must not exist. The checks, in order, stopping at the first that\n"
		      "fails: framing (the commit record of an output disk, the bundle's framing,\n"
		      "its signature), evidence (genuine, as the key broker verifies it), binding\n"
		      "(it binds the bundle), runtime_log (it replays to the evidence's RTMR3 or\n"
		      "PCR 15), events (result-key, order-id, luks-header and job-manifest were\n"
		      "measured with the header's values), reference (with --reference), decrypt.\n"
		      "\n"
		      "  --key KEY            the recipient's key (cvm keygen)\n"
		      "  -o, --output DIR     where the files go (made only when all is well)\n"
		      "  --max-size BYTES     at most this much file data, as the tar's headers\n"
		      "                       declare it (K, M, G suffixes; default 4G)\n"
		      "  --max-entries N      at most N files and directories (default 100000)\n"
		      "                       Only regular files and directories with relative\n"
		      "                       names are extracted: a sparse file, a link, a "
		      "device\n"
		      "                       or a name with '..' is refused (E_RESULT_SPARSE,\n"
		      "                       E_RESULT_UNSAFE)\n",
		      f);
	else
		fputs("Usage: cvm result inspect BUNDLE|OUTPUT_DISK [options]\n"
		      "\n"
		      "Prints a sealed result's header and runs every check that needs no key:\n"
		      "framing, evidence, binding, runtime_log, events and, with --reference,\n"
		      "reference. Nothing is decrypted.\n"
		      "\n",
		      f);
	fputs("  --order FILE         the signed order the result must be for: its signature,\n"
	      "                       then the header's order id, order digest and inputs,\n"
	      "                       and the evidence's binding (MRCONFIGID, HOST_DATA or\n"
	      "                       the runtime log's order event) must be this order's\n"
	      "  --reference FILE     the image the result must come from: its builder's signed\n"
	      "                       manifest (cvm image build, docs/image.md) or reference\n"
	      "                       values (JSON, docs/verify.md). TPM evidence needs\n"
	      "                       tpm.ak_sha256 (the pinned AK; in --pins for a manifest)\n"
	      "  --builder PUBKEY     with a manifest: the image builder's key; the manifest's\n"
	      "                       signature (FILE with .sig for .json) must be its\n"
	      "  --signature SIG      with a manifest: its signature file, if not beside it\n"
	      "  --pins FILE          with a manifest: reference values for what it leaves\n"
	      "                       unpredicted, and tpm.ak_sha256, luks_header_sha256\n"
	      "  --accept-unpinned-image\n"
	      "                       open without --reference: accept a result from an image\n"
	      "                       nobody pinned (the measurements are NOT compared)\n"
	      "  --test-roots PEM     also trust these roots (test PKI only; never in production)\n"
	      "  --certs DIR          SNP: the VCEK chain from DIR instead of the evidence's\n"
	      "  --collateral DIR     TDX: Intel PCS collateral; without it the TCB status is\n"
	      "                       not checked, and the output says so\n"
	      "  --rpc URL, --contract ADDRESS, --chain-order ID\n"
	      "                       before anything else, the Market contract's order ID\n"
	      "                       must hold a posted result whose SHA-256 is the\n"
	      "                       bundle's (a file, not a disk), with the bundle's\n"
	      "                       evidence and its order's digest (E_RESULT_CHAIN)\n"
	      "  --json               print what was verified as one JSON object\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "Exit status:\n"
	      "  0  every check passed (open: and the files were extracted)\n"
	      "  1  refused; one line on stderr names the first failed check (E_...)\n"
	      "  2  usage error, unreadable input, or DIR cannot be made\n",
	      f);
}

/* Digits only, then with suffixes one of K, M, G; 1 to 2^50. */
static int parse_limit(const char *s, bool suffixes, uint64_t *out)
{
	size_t n = strspn(s, "0123456789");
	unsigned shift = 0;
	uint64_t v;

	if (n == 0 || n > 16)
		return -EINVAL;
	if (suffixes && s[n] && !s[n + 1])
		shift = s[n] == 'K' ? 10 : s[n] == 'M' ? 20 : s[n] == 'G' ? 30 : 64;
	else if (s[n])
		return -EINVAL;
	if (shift == 64)
		return -EINVAL;
	v = strtoull(s, NULL, 10);
	if (v == 0 || v > (1ull << 50) >> shift)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* The options that go together, and those that exclude each other. */
static int opts_check(const struct opts *o)
{
	if (o->open && (!o->key || !o->out)) {
		log_error("open needs --key KEY and -o DIR; see 'cvm result open --help'");
		return -EINVAL;
	}
	if (!o->open && (o->key || o->out)) {
		log_error("inspect takes no key and writes nothing; see 'cvm result open'");
		return -EINVAL;
	}
	if (o->open && !o->reference && !o->accept_unpinned) {
		log_error("open needs --reference (the image's signed manifest, or reference "
			  "values); --accept-unpinned-image opens a result from an image nobody "
			  "pinned");
		return -EINVAL;
	}
	if (o->reference && o->accept_unpinned) {
		log_error("--reference and --accept-unpinned-image exclude each other");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum {
		OPT_KEY = 256,
		OPT_REF,
		OPT_TROOTS,
		OPT_CERTS,
		OPT_COLL,
		OPT_JSON,
		OPT_ORDER,
		OPT_BUILDER,
		OPT_SIG,
		OPT_PINS,
		OPT_ANY,
		OPT_MAXSIZE,
		OPT_MAXENTRIES,
		OPT_RPC,
		OPT_CONTRACT,
		OPT_CHAIN_ORDER
	};
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, OPT_KEY },
		{ "output", required_argument, NULL, 'o' },
		{ "reference", required_argument, NULL, OPT_REF },
		{ "test-roots", required_argument, NULL, OPT_TROOTS },
		{ "certs", required_argument, NULL, OPT_CERTS },
		{ "collateral", required_argument, NULL, OPT_COLL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "order", required_argument, NULL, OPT_ORDER },
		{ "builder", required_argument, NULL, OPT_BUILDER },
		{ "signature", required_argument, NULL, OPT_SIG },
		{ "pins", required_argument, NULL, OPT_PINS },
		{ "accept-unpinned-image", no_argument, NULL, OPT_ANY },
		{ "max-size", required_argument, NULL, OPT_MAXSIZE },
		{ "max-entries", required_argument, NULL, OPT_MAXENTRIES },
		{ "rpc", required_argument, NULL, OPT_RPC },
		{ "contract", required_argument, NULL, OPT_CONTRACT },
		{ "chain-order", required_argument, NULL, OPT_CHAIN_ORDER },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *verb = o->open ? "open" : "inspect";
	int c;

	o->lim = (struct result_limits){ RESULT_MAX_SIZE, RESULT_MAX_ENTRIES };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, o->open ? "ho:" : "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KEY:
			o->key = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case OPT_REF:
			o->reference = optarg;
			break;
		case OPT_TROOTS:
			o->test_roots = optarg;
			break;
		case OPT_CERTS:
			o->certs = optarg;
			break;
		case OPT_COLL:
			o->collateral = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_ORDER:
			o->order = optarg;
			break;
		case OPT_BUILDER:
			o->builder = optarg;
			break;
		case OPT_SIG:
			o->signature = optarg;
			break;
		case OPT_PINS:
			o->pins = optarg;
			break;
		case OPT_ANY:
			o->accept_unpinned = true;
			break;
		case OPT_MAXSIZE:
			if (!o->open || parse_limit(optarg, true, &o->lim.max_size) < 0) {
				log_error(
					"--max-size: open only, bytes (K, M, G suffixes) from 1 to "
					"2^50");
				return -EINVAL;
			}
			break;
		case OPT_MAXENTRIES:
			if (!o->open || parse_limit(optarg, false, &o->lim.max_entries) < 0) {
				log_error("--max-entries: open only, a number from 1 to 2^50");
				return -EINVAL;
			}
			break;
		case OPT_RPC:
			o->rpc = optarg;
			break;
		case OPT_CONTRACT:
			o->contract = optarg;
			break;
		case OPT_CHAIN_ORDER:
			if (parse_chain_id_arg("--chain-order", optarg, &o->chain_order) < 0)
				return -EINVAL;
			break;
		case 'h':
			help(stdout, o->open);
			exit(EXIT_OK);
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm result %s --help'",
				  argv[optind - 1], verb);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		log_error("expected one BUNDLE or OUTPUT_DISK; see 'cvm result %s --help'", verb);
		return -EINVAL;
	}
	o->input = argv[optind];
	return opts_check(o);
}

/* ---- stages ---- */

__attribute__((format(printf, 3, 4))) static void stage_ok(struct run *r, enum stage s,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail[s], sizeof(r->detail[s]), fmt, ap);
	va_end(ap);
	r->state[s] = STAGE_OK;
}

/* Not checked, and why: printed as such, never as a pass. */
__attribute__((format(printf, 3, 4))) static void stage_skip(struct run *r, enum stage s,
							     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail[s], sizeof(r->detail[s]), fmt, ap);
	va_end(ap);
	r->state[s] = STAGE_SKIPPED;
}

/* A refusal: the stage's code (when it has one) and why; returns -1. */
__attribute__((format(printf, 3, 4))) static int stage_fail(struct run *r, enum stage s,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail[s], sizeof(r->detail[s]), fmt, ap);
	va_end(ap);
	r->state[s] = STAGE_FAILED;
	if (result_stages[s].code)
		snprintf(r->error, sizeof(r->error), "%s: %s", result_stages[s].code, r->detail[s]);
	else
		snprintf(r->error, sizeof(r->error), "%s", r->detail[s]);
	return -1;
}

/* A usage problem that only the bundle's platform reveals; returns -1. */
__attribute__((format(printf, 2, 3))) static int usage_fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->usage = 1;
	return -1;
}

static const char *failure_of(const struct verdict *v, char *buf, size_t cap)
{
	const struct check_result *f = verdict_first_failure(v);

	snprintf(buf, cap, "%s: %s", f ? check_name(f->check) : "none",
		 f ? f->detail : "no check ran");
	return buf;
}

/* ---- framing ---- */

/* ---- the order ---- */

/* --order FILE: the customer's signed order (exit 2 unreadable, 1 refused). */
static int load_order(struct run *r)
{
	_cleanup_free_ uint8_t *text = NULL;
	char err[320];
	size_t len;
	int rc = file_read(r->o.order, ORDER_TEXT_MAX, &text, &len);

	if (rc < 0)
		return usage_fail(r, "%s: %s", r->o.order, strerror(-rc));
	if (order_parse((const char *)text, len, NULL, &r->order, err, sizeof(err)) < 0)
		return stage_fail(r, ST_FRAMING, "E_RESULT_ORDER: %s: %s", r->o.order, err);
	r->have_order = true;
	return 0;
}

/* The header names the order: its id, its digest, and its inputs with their header digests. */
static int check_order_header(struct run *r)
{
	const struct order *o = &r->order;

	if (load_order(r) < 0)
		return -1;
	if (strcmp(o->id, r->in.order_id))
		return stage_fail(r, ST_FRAMING,
				  "E_RESULT_ORDER: the bundle is for order %s, not %s",
				  r->in.order_id, o->id);
	if (CRYPTO_memcmp(o->sha256, r->in.order_sha256, 32))
		return stage_fail(r, ST_FRAMING,
				  "E_RESULT_ORDER: the bundle is for another order of id %s (its "
				  "order_sha256 differs)",
				  o->id);
	if (o->ninputs != r->in.ninputs)
		return stage_fail(r, ST_FRAMING, "E_RESULT_ORDER: %zu inputs, the order has %zu",
				  r->in.ninputs, o->ninputs);
	for (size_t i = 0; i < o->ninputs; i++)
		if (strcmp(o->inputs[i].name, r->in.inputs[i].name) ||
		    CRYPTO_memcmp(o->inputs[i].luks_header_sha256,
				  r->in.inputs[i].luks_header_sha256, 32))
			return stage_fail(
				r, ST_FRAMING,
				"E_RESULT_ORDER: input %zu is %s with another header than "
				"the order's %s",
				i, r->in.inputs[i].name, o->inputs[i].name);
	return 0;
}

/* The evidence was launched for the order (docs/order.md §4). */
static int check_order_binding(struct run *r)
{
	_cleanup_free_ char *log = NULL;
	struct kbs_evidence e = r->ev;
	char err[320];
	size_t len;

	if (!r->have_order)
		return 0;
	if (!e.runtime_log && r->in.eventlog && jcs_serialize(r->in.eventlog, &log, &len) == 0)
		e.runtime_log = log;
	if (order_evidence_check(&e, &r->order, err, sizeof(err)) < 0)
		return stage_fail(r, ST_EVENTS, "E_RESULT_ORDER: %s", err);
	return 0;
}

/* A bundle file starts with its magic; anything else is taken for an output disk. */
static int check_framing(struct run *r)
{
	char err[512];
	uint8_t m[4] = { 0 };
	struct stat st;
	ssize_t n;
	int fd = open(r->o.input, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return usage_fail(r, "%s", strerror(e));
	}
	r->src = (struct result_source){ .fd = fd, .size = (uint64_t)st.st_size };
	n = S_ISREG(st.st_mode) ? pread(fd, m, 4, 0) : 0;
	/* a file cut inside the magic is a bundle cut short, not a disk */
	if (n > 0 && !memcmp(m, RESULT_MAGIC, (size_t)n) && (n == 4 || st.st_size == n)) {
		r->disk = false;
	} else {
		r->disk = true;
		if (outdisk_open(fd, &r->src, err, sizeof(err)) < 0)
			return stage_fail(r, ST_FRAMING, "%s", err);
	}
	if (result_verify(&r->src, &r->in, err, sizeof(err)) < 0)
		return stage_fail(r, ST_FRAMING, "%s", err);
	r->have_info = true;
	if (r->o.order && check_order_header(r) < 0)
		return -1;
	stage_ok(r, ST_FRAMING,
		 "%s%llu chunk%s, canonical header and trailer, signed by the result-signing key",
		 r->disk ? "commit record matches the bundle; " : "",
		 (unsigned long long)r->in.chunks, r->in.chunks == 1 ? "" : "s");
	return 0;
}

/* ---- evidence ---- */

/*
 * The primary evidence carries nothing that no check reads (docs/result.md
 * §2): only its platform's members; an SNP report exactly as its raw bytes
 * give it, certificates only of the kinds the chain uses; a TPM quote of
 * message, signature and PCRs. TDX's cc_eventlog (the firmware's RTMR0-2
 * log) is the exception the broker makes too: RTMR0-2 are compared as
 * reference values instead.
 */
static int check_shape(struct run *r, const cJSON *primary)
{
	if (r->pl->shape_exact && !r->pl->shape_exact(primary, &r->ev))
		return stage_fail(r, ST_EVIDENCE,
				  "format: the %s evidence carries something no check reads",
				  r->pl->name);
	return 0;
}

/* The options that apply to one platform's evidence only. */
static int options_fit(struct run *r)
{
	unsigned given = (r->o.certs ? PLATFORM_OPT_CERTS : 0) |
			 (r->o.collateral ? PLATFORM_OPT_COLLATERAL : 0) |
			 (r->o.test_roots ? PLATFORM_OPT_TEST_ROOTS : 0);
	char why[160];

	if (platform_options_misfit(r->pl, given, why, sizeof(why)))
		return usage_fail(r, "%s", why);
	if (!platform_key_pinned(r->pl, &r->ref))
		return usage_fail(r,
				  "%s evidence proves nothing without a pinned attestation "
				  "key: give --reference with %s.%s",
				  r->pl->title, r->pl->name, r->pl->key_pin->name);
	return 0;
}

static int load_evidence(struct run *r)
{
	const cJSON *primary = cJSON_GetObjectItemCaseSensitive(r->in.evidence, "primary");
	struct snp_certs certs;
	char err[256];
	int rc;

	if (kbs_tee_parse(r->in.tee, &r->tee) < 0 || !(r->pl = platform_get(r->tee)))
		return stage_fail(r, ST_EVIDENCE, "unknown TEE");
	if (options_fit(r) < 0)
		return -1;
	if (kbs_evidence_parse(r->tee, primary, &r->ev, err, sizeof(err)) < 0)
		return stage_fail(r, ST_EVIDENCE, "format: %s", err);
	if (check_shape(r, primary) < 0)
		return -1;
	if (!r->o.certs)
		return 0;
	rc = snp_certs_load_dir(r->o.certs, &certs, err, sizeof(err));
	if (rc < 0)
		return usage_fail(r, "--certs %s: %s", r->o.certs, err);
	snp_certs_free(&r->ev.certs);
	r->ev.certs = certs;
	return 0;
}

static int make_verifier(struct run *r)
{
	char err[256];

	if (platform_verifiers_new(r->pl, r->o.test_roots, r->o.collateral, 0, &r->pv, err,
				   sizeof(err)) < 0)
		return usage_fail(r, "%s", err);
	return 0;
}

/*
 * What the evidence must meet to count as genuine, before any reference
 * value is compared: the reference's acceptance rules (debug, migration
 * agent, SMT, product, the VMPL, accepted TCB levels, the pinned AK)
 * without its expected values, which the reference stage compares last.
 */
static void acceptance_of(const struct reference *full, struct reference *a)
{
	*a = *full;
	a->has_snp = a->has_tdx = a->has_tpm = a->has_luks_header_sha256 = false;
	a->snp.has_measurement = a->snp.has_host_data = a->snp.has_policy = false;
	a->snp.has_min_tcb = a->snp.has_report_data = false;
	a->snp.has_family_id = a->snp.has_image_id = false;
	a->snp.has_id_key_digest = a->snp.has_author_key_digest = false;
	a->tdx.has_mrtd = a->tdx.has_mrconfigid = a->tdx.has_mrowner = false;
	a->tdx.has_mrownerconfig = a->tdx.has_report_data = false;
	memset(a->tdx.has_rtmr, 0, sizeof(a->tdx.has_rtmr));
	memset(a->tpm.has_pcr, 0, sizeof(a->tpm.has_pcr));
}

static void evidence_summary(struct run *r)
{
	stage_ok(r, ST_EVIDENCE, "%s%s", r->pl->genuine,
		 (r->pl->opts & PLATFORM_OPT_COLLATERAL) && !r->v.tcb_status_checked
			 ? "; TCB status NOT checked (no --collateral)"
			 : "");
}

/* Genuine first (no report_data), then bound: a refusal names the first of the two that fails. */
static int check_evidence(struct run *r)
{
	struct reference accept;
	struct verdict vb;
	char why[512];
	int rc;

	if (load_evidence(r) < 0 || make_verifier(r) < 0)
		return -1;
	acceptance_of(&r->ref, &accept);
	rc = kbs_evidence_verify(&r->ev, r->pv.snp, r->pv.tdx, &accept, NULL, r->reg, &r->reglen,
				 &r->v);
	r->have_v = true;
	if (rc < -1)
		return usage_fail(r, "%s", strerror(-rc));
	if (rc < 0)
		return stage_fail(r, ST_EVIDENCE, "%s", failure_of(&r->v, why, sizeof(why)));
	evidence_summary(r);
	rc = kbs_evidence_verify(&r->ev, r->pv.snp, r->pv.tdx, &accept, r->in.report_data, r->reg,
				 &r->reglen, &vb);
	if (rc < -1)
		return usage_fail(r, "%s", strerror(-rc));
	if (rc < 0)
		return stage_fail(r, ST_BINDING, "the evidence does not bind this bundle (%s)",
				  failure_of(&vb, why, sizeof(why)));
	stage_ok(r, ST_BINDING, "the evidence binds report_data = SHA-512(D || signing key)");
	return 0;
}

/* ---- the runtime log ---- */

/* The copy of the log that the evidence may carry must be the trailer's log. */
static bool same_log(const char *copy, const cJSON *log)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;

	return json_parse(copy, strlen(copy), &j) == 0 && jcs_equal(j, log);
}

static int check_runtime_log(struct run *r)
{
	_cleanup_free_ char *text = NULL;
	struct verdict v;
	char err[200];
	size_t len;

	if (jcs_serialize(r->in.eventlog, &text, &len) < 0)
		return stage_fail(r, ST_RUNTIME_LOG, "the trailer's eventlog cannot be serialized");
	if (r->ev.runtime_log && !same_log(r->ev.runtime_log, r->in.eventlog))
		return stage_fail(r, ST_RUNTIME_LOG,
				  "the evidence carries another runtime log than the trailer");
	if (runtime_log_parse(text, len, &r->log, err, sizeof(err)) < 0)
		return stage_fail(r, ST_RUNTIME_LOG, "%s", err);
	r->have_log = true;
	if (!r->pl->runtime_reg) {
		if (r->ev.runtime_log)
			return stage_fail(r, ST_RUNTIME_LOG,
					  "%s has no runtime register to bind a runtime log",
					  r->pl->title);
		stage_skip(r, ST_RUNTIME_LOG,
			   "not bound: %s has no runtime register (the log is not evidence)",
			   r->pl->title);
		return 0;
	}
	verdict_init(&v, r->tee);
	if (runtime_log_check(text, len, r->tee, r->reg, NULL, &v) < 0 || !verdict_ok(&v))
		return stage_fail(r, ST_RUNTIME_LOG, "%s", failure_of(&v, err, sizeof(err)));
	stage_ok(r, ST_RUNTIME_LOG, "%s", v.results[v.n - 1].detail);
	return 0;
}

/* The one event of the bound register with this name, and that it measured want. */
static int check_event(struct run *r, const char *name, const void *want, size_t n,
		       const char *what)
{
	const struct runtime_event *found = NULL;

	for (size_t i = 0; i < r->log.n; i++) {
		const struct runtime_event *e = &r->log.events[i];

		if (!runtime_event_binds(e, r->tee) || strcmp(e->name, name))
			continue;
		if (found)
			return stage_fail(r, ST_EVENTS, "the runtime log measured %s twice", name);
		found = e;
	}
	if (!found)
		return stage_fail(r, ST_EVENTS, "the runtime log has no %s event", name);
	if (found->len != n || memcmp(found->value, want, n))
		return stage_fail(r, ST_EVENTS, "the %s event is not the header's %s", name, what);
	return 0;
}

/* One luks-header event per input, in the header's order, each its input's digest. */
static int check_input_events(struct run *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->log.n; i++) {
		const struct runtime_event *e = &r->log.events[i];

		if (!runtime_event_binds(e, r->tee) || strcmp(e->name, "luks-header"))
			continue;
		if (k == r->in.ninputs || e->len != 32 ||
		    memcmp(e->value, r->in.inputs[k].luks_header_sha256, 32))
			return stage_fail(r, ST_EVENTS,
					  "the luks-header events are not the header's inputs");
		k++;
	}
	if (k != r->in.ninputs)
		return stage_fail(r, ST_EVENTS, "the runtime log measured %zu of %zu inputs", k,
				  r->in.ninputs);
	return 0;
}

static int check_events(struct run *r)
{
	if (!r->pl->runtime_reg) {
		if (check_order_binding(r) < 0)
			return -1;
		stage_skip(r, ST_EVENTS,
			   "not measured: %s has no runtime register; the header's order, "
			   "inputs and job manifest are bound by report_data%s",
			   r->pl->title, r->have_order ? " and the order by HOST_DATA" : " only");
		return 0;
	}
	if (check_event(r, "result-key", r->in.signing_pub, 33, "signing_pubkey") < 0 ||
	    check_event(r, "order", r->in.order_sha256, 32, "order_sha256") < 0 ||
	    check_input_events(r) < 0 ||
	    check_event(r, "job-manifest", r->in.job_manifest_sha256, 32, "job_manifest_sha256") <
		    0 ||
	    check_order_binding(r) < 0)
		return -1;
	stage_ok(r, ST_EVENTS,
		 "result-key, order, %zu luks-header and job-manifest measured with the header's "
		 "values%s",
		 r->in.ninputs, r->have_order ? "; the evidence is bound to the order" : "");
	return 0;
}

/* ---- reference values ---- */

static int check_reference(struct run *r)
{
	_cleanup_free_ struct reference *cands = NULL;
	char why[512];
	size_t n = 0;
	int rc;

	if (!r->o.reference) {
		stage_skip(r, ST_REFERENCE,
			   "measurements NOT compared: --accept-unpinned-image, no --reference");
		return 0;
	}
	rc = refsrc_candidates(&r->rsrc, r->tee, &cands, &n, why, sizeof(why));
	if (rc == -ENOMEM)
		return usage_fail(r, "%s", strerror(-rc));
	if (rc == 0 && !r->rsrc.is_manifest && !platform_in_reference(r->pl, &r->ref))
		return stage_fail(r, ST_REFERENCE, "%s has no reference values for %s",
				  r->o.reference, r->pl->name);
	if (rc < 0)
		return stage_fail(r, ST_REFERENCE, "%s", why);
	rc = kbs_evidence_verify_any(&r->ev, r->pv.snp, r->pv.tdx, cands, n, r->in.report_data,
				     r->reg, &r->reglen, &r->vref);
	r->have_vref = true;
	if (rc < -1)
		return usage_fail(r, "%s", strerror(-rc));
	if (rc == 0 && r->ref.has_luks_header_sha256) {
		/* the reference's volume must be one of the inputs (the solution's, typically) */
		size_t i = 0;

		while (i + 1 < r->in.ninputs &&
		       memcmp(r->in.inputs[i].luks_header_sha256, r->ref.luks_header_sha256, 32))
			i++;
		rc = verdict_compare(&r->vref, CHECK_LUKS_HEADER, "an input's LUKS header",
				     r->in.inputs[i].luks_header_sha256, r->ref.luks_header_sha256,
				     32);
	}
	if (rc < 0)
		return stage_fail(r, ST_REFERENCE, "%s", failure_of(&r->vref, why, sizeof(why)));
	stage_ok(r, ST_REFERENCE, "the measurements match %s (%zu checks)", r->rsrc.label,
		 r->vref.n);
	return 0;
}

/* ---- decryption and the files ---- */

static struct run *walk_run;
static size_t walk_root;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct run *r = walk_run;
	struct file_entry *f;

	(void)type;
	if (ftw->level == 0)
		return 0;
	f = realloc(r->files, (r->nfiles + 1) * sizeof(*f));
	if (!f)
		return -1;
	r->files = f;
	f = &r->files[r->nfiles];
	f->path = strdup(path + walk_root);
	if (!f->path)
		return -1;
	f->size = S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size;
	f->dir = S_ISDIR(st->st_mode);
	r->nfiles++;
	return 0;
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct file_entry *)a)->path, ((const struct file_entry *)b)->path);
}

static int list_files(struct run *r)
{
	walk_run = r;
	walk_root = strlen(r->o.out) + 1;
	if (nftw(r->o.out, walk_one, 16, FTW_PHYS) != 0)
		return -1;
	qsort(r->files, r->nfiles, sizeof(*r->files), file_cmp);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static int decrypt(struct run *r)
{
	char err[512], part[4096];

	if (result_extract_limited(&r->src, &r->in, &r->key, r->o.out, &r->o.lim, err,
				   sizeof(err)) < 0) {
		/* the local disk is the customer's trouble, not a refusal of the result */
		if (!strncmp(err, "E_RESULT_OUTPUT", 15))
			return usage_fail(r, "%s", err);
		/*
		 * A refusal comes after result_extract made DIR.part: what it holds
		 * is incomplete, so it goes (only regular files and directories,
		 * made here; no link is followed).
		 */
		snprintf(part, sizeof(part), "%s.part", r->o.out);
		nftw(part, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		return stage_fail(r, ST_DECRYPT, "%s", err);
	}
	if (list_files(r) < 0)
		return usage_fail(r, "%s: cannot list what was extracted", r->o.out);
	stage_ok(r, ST_DECRYPT, "every chunk authenticated; %zu entr%s extracted into %s",
		 r->nfiles, r->nfiles == 1 ? "y" : "ies", r->o.out);
	return 0;
}

static int run_checks(struct run *r)
{
	if (check_framing(r) < 0 || check_evidence(r) < 0 || check_runtime_log(r) < 0 ||
	    check_events(r) < 0 || check_reference(r) < 0)
		return -1;
	return r->o.open ? decrypt(r) : 0;
}

/* ---- the verbs ---- */

static int read_inputs(struct run *r)
{
	char err[512];
	struct stat st;
	int rc;

	reference_defaults(&r->ref);
	if (r->o.open && (lstat(r->o.out, &st) == 0 || errno != ENOENT)) {
		log_error("%s already exists; results are extracted into a new directory",
			  r->o.out);
		return -EEXIST;
	}
	if (!r->o.reference && (r->o.builder || r->o.signature || r->o.pins)) {
		log_error("--builder, --signature and --pins go with --reference MANIFEST");
		return -EINVAL;
	}
	if (r->o.reference) {
		rc = refsrc_load(r->o.reference, r->o.builder, r->o.signature, r->o.pins, &r->rsrc,
				 err, sizeof(err));
		if (rc < 0) {
			log_error("%s", err);
			return rc == -EBADMSG || rc == -EKEYREJECTED ? -EKEYREJECTED : -EINVAL;
		}
		r->ref = r->rsrc.ref;
	}
	if (!r->o.rpc != !r->o.contract || !r->o.rpc != !r->o.chain_order) {
		log_error("--rpc, --contract and --chain-order go together");
		return -EINVAL;
	}
	if (r->o.rpc) {
		struct chain_opts co;

		chain_opts_init(&co);
		co.rpc = r->o.rpc;
		co.contract = r->o.contract;
		rc = market_check_result(&co, r->o.chain_order, r->o.input, err, sizeof(err));
		if (rc < 0) {
			if (*err) /* else the node's failure was logged */
				log_error("%s: %s", r->o.input, err);
			return rc == -EKEYREJECTED ? -EKEYREJECTED : -EINVAL;
		}
	}
	if (r->o.open && result_key_load(r->o.key, &r->key, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EINVAL;
	}
	return 0;
}

static void run_free(struct run *r)
{
	refsrc_free(&r->rsrc);
	order_free(&r->order);
	result_key_wipe(&r->key);
	if (r->have_info)
		result_info_free(&r->in);
	kbs_evidence_free(&r->ev);
	runtime_log_free(&r->log);
	platform_verifiers_free(&r->pv);
	if (r->src.fd >= 0)
		close(r->src.fd);
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	free(r);
}

static int result_run(struct run *r)
{
	bool ok = run_checks(r) == 0;

	/* Nothing to show of an input that could not even be read. */
	if (r->state[ST_FRAMING] != STAGE_NOT_RUN && r->o.json)
		result_print_json(r, ok);
	else if (r->state[ST_FRAMING] != STAGE_NOT_RUN)
		result_print_text(r, ok);
	fflush(stdout);
	if (ok && r->in.partial)
		log_error("%s: warning: PARTIAL result: the job's output is incomplete",
			  r->o.input);
	if (ok)
		return EXIT_OK;
	log_error("%s: %s", r->o.input, r->error);
	return r->usage ? EXIT_USAGE : EXIT_REJECTED;
}

static int result_verb(int argc, char **argv, bool open)
{
	struct run *r = calloc(1, sizeof(*r));
	int rc = 0;

	if (!r) {
		log_error_errno(-ENOMEM, "cvm result");
		return EXIT_USAGE;
	}
	r->o.open = open;
	r->src.fd = -1;
	if (parse_args(argc, argv, &r->o) < 0 || (rc = read_inputs(r)) < 0)
		rc = rc == -EKEYREJECTED ? EXIT_REJECTED : EXIT_USAGE;
	else
		rc = result_run(r);
	run_free(r);
	return rc;
}

static void usage(FILE *f)
{
	fputs("Usage: cvm result open BUNDLE|OUTPUT_DISK --key KEY -o DIR [options]\n"
	      "       cvm result inspect BUNDLE|OUTPUT_DISK [options]\n"
	      "\n"
	      "'cvm result open --help' and 'cvm result inspect --help' describe them.\n",
	      f);
}

int result_main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "open") || !strcmp(argv[1], "inspect"))) {
		static char prog[32];
		const bool open = !strcmp(argv[1], "open");

		snprintf(prog, sizeof(prog), "cvm result %s", argv[1]);
		log_set_prog(prog);
		return result_verb(argc - 1, argv + 1, open);
	}
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return EXIT_OK;
	}
	usage(stderr);
	return EXIT_USAGE;
}
