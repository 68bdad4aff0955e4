/* SPDX-License-Identifier: Apache-2.0 */
/* cvm verify: is this evidence genuine, and does it say what we expect? */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "lib/lib.h"
#include "measurement/platform.h"

static void help(FILE *f)
{
	fputs("Usage: cvm verify EVIDENCE [options]\n"
	      "\n"
	      "Verifies a raw SEV-SNP attestation report (0x4A0 bytes, versions 2 to 5), a TDX\n"
	      "quote (version 4 or 5), or a TEE backend's evidence as JSON (Trustee's shapes,\n"
	      "as 'cvm kbs-client --evidence' writes it; the only form of a TPM quote): its\n"
	      "signature, its certificate chain up to a built-in, pinned vendor root (a TPM\n"
	      "quote: its pinned attestation key), and its claims against reference values.\n"
	      "\n"
	      "Options:\n"
	      "  --reference FILE     reference values (JSON; see docs/verify.md), or an image\n"
	      "                       manifest (cvm image build; docs/image.md): the evidence\n"
	      "                       must match one launch of the image; a TPM quote needs\n"
	      "                       tpm.ak_sha256 (in --pins for a manifest)\n"
	      "  --builder PUBKEY     with a manifest: the image builder's key; the manifest's\n"
	      "                       signature (FILE with .sig for .json) must be its\n"
	      "  --signature SIG      with a manifest: its signature file, if not beside it\n"
	      "  --pins FILE          with a manifest: reference values for what it leaves\n"
	      "                       unpredicted, and tpm.ak_sha256, luks_header_sha256\n"
	      "  --report-data HEX    expected report_data, up to 64 bytes, zero-padded\n"
	      "  --certs DIR          SNP: vcek (or vlek), optional ask (or asvk) and ark, each\n"
	      "                       .pem or .der, or ask_ark.pem as AMD's KDS serves it;\n"
	      "                       the AMD ASK/ASVK and ARK are built in (JSON evidence\n"
	      "                       carries its own cert_chain)\n"
	      "  --collateral DIR     TDX: Intel PCS collateral (TCB info, QE identity, CRLs);\n"
	      "                       without it the TCB status is not checked, and the output\n"
	      "                       says so\n"
	      "  --runtime-log FILE   cvm-agent's CEL-JSON runtime event log: replayed against\n"
	      "                       the quote's RTMR3 (TDX) or PCR 15 (TPM), its events\n"
	      "                       printed; needed for luks_header_sha256 in --reference\n"
	      "  --test-roots PEM     also trust these roots (test PKI only; never in production)\n"
	      "  --now RFC3339        time for certificate and collateral validity\n"
	      "                       (default: the current time)\n"
	      "  --json               print {\"verified\", \"platform\", \"checks\", \"claims\"}\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "Exit status:\n"
	      "  0  genuine and matching every reference value given\n"
	      "  1  rejected; one line on stderr names the first failed check\n"
	      "  2  usage error or unreadable file\n",
	      f);
}

struct opts {
	const char *evidence, *reference, *report_data, *certs, *collateral, *test_roots, *now;
	const char *runtime_log, *builder, *signature, *pins;
	bool json;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum {
		OPT_REF = 256,
		OPT_RD,
		OPT_CERTS,
		OPT_COLL,
		OPT_TROOTS,
		OPT_NOW,
		OPT_JSON,
		OPT_RTLOG,
		OPT_BUILDER,
		OPT_SIG,
		OPT_PINS
	};
	static const struct option longopts[] = {
		{ "reference", required_argument, NULL, OPT_REF },
		{ "report-data", required_argument, NULL, OPT_RD },
		{ "certs", required_argument, NULL, OPT_CERTS },
		{ "collateral", required_argument, NULL, OPT_COLL },
		{ "test-roots", required_argument, NULL, OPT_TROOTS },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "runtime-log", required_argument, NULL, OPT_RTLOG },
		{ "builder", required_argument, NULL, OPT_BUILDER },
		{ "signature", required_argument, NULL, OPT_SIG },
		{ "pins", required_argument, NULL, OPT_PINS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REF:
			o->reference = optarg;
			break;
		case OPT_RD:
			o->report_data = optarg;
			break;
		case OPT_CERTS:
			o->certs = optarg;
			break;
		case OPT_COLL:
			o->collateral = optarg;
			break;
		case OPT_TROOTS:
			o->test_roots = optarg;
			break;
		case OPT_NOW:
			o->now = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_RTLOG:
			o->runtime_log = optarg;
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
		case 'h':
			help(stdout);
			exit(EXIT_OK);
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm verify --help'",
				  argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		log_error("expected one EVIDENCE file; see 'cvm verify --help'");
		return -EINVAL;
	}
	o->evidence = argv[optind];
	return 0;
}

/* What one run verifies, and what it found. */
struct run {
	struct opts o;
	struct reference ref;
	struct refsrc src;
	uint8_t report_data[64];
	int64_t now;
	const struct platform *pl; /* NULL: evidence of no known form */
	size_t len;		   /* of the evidence file */
	struct kbs_evidence ev;	   /* the evidence, raw or JSON, taken apart */
	bool json_evidence;
	struct verdict v;
	cJSON *claims;
	char summary[96]; /* what the evidence is, when genuine */
	char note[192];	  /* what was not checked */
	uint8_t reg[48];  /* the runtime register the evidence holds: RTMR3 or PCR 15 */
};

static void print_events(const struct run *r, const struct runtime_log *log)
{
	printf("  runtime events (%s):\n", r->pl->runtime_label);
	runtime_log_print(stdout, log, r->pl->id, "    ");
}

static void print_text(const struct run *r, const struct runtime_log *log)
{
	for (size_t i = 0; i < r->v.n; i++)
		printf("  %-4s %-22s %s\n", r->v.results[i].ok ? "ok" : "FAIL",
		       check_name(r->v.results[i].check), r->v.results[i].detail);
	if (log)
		print_events(r, log);
	if (verdict_ok(&r->v))
		printf("%s: verified: %s, %zu checks passed%s\n", r->o.evidence, r->summary, r->v.n,
		       r->note);
	else
		printf("%s: rejected\n", r->o.evidence);
}

/* The events of the register the evidence holds, as claims. */
static void add_event_claims(struct run *r, const struct runtime_log *log)
{
	cJSON *a;

	if (!r->claims || !(a = cJSON_AddArrayToObject(r->claims, "runtime_events")))
		return;
	for (size_t i = 0; i < log->n; i++) {
		cJSON *o;

		if (!runtime_event_binds(&log->events[i], r->pl->id) ||
		    !(o = runtime_event_to_json(&log->events[i])))
			continue;
		if (!cJSON_AddItemToArray(a, o))
			cJSON_Delete(o);
	}
}

/* Was a launch register (SNP measurement, MRTD or an RTMR, PCRs) compared with the reference? */
static bool measurement_compared(const struct verdict *v)
{
	for (size_t i = 0; i < v->n; i++) {
		enum cvm_check c = v->results[i].check;

		if (v->results[i].ok && (c == CHECK_MEASUREMENT || c == CHECK_MRTD ||
					 c == CHECK_RTMR || c == CHECK_PCR))
			return true;
	}
	return false;
}

static void print_json(const struct run *r)
{
	_cleanup_(cJSON_Deletep) cJSON *o = verdict_to_json(&r->v);
	_cleanup_free_ char *s = NULL;
	const struct platform *vp = platform_get(r->v.platform);

	if (!o)
		return;
	if (vp && (vp->opts & PLATFORM_OPT_COLLATERAL)) {
		/* TCB status, QE identity and revocation: all three come from collateral. */
		cJSON_AddBoolToObject(o, "collateral_checked", r->o.collateral != NULL);
		cJSON_AddBoolToObject(o, "tcb_status_checked", r->v.tcb_status_checked);
		if (r->v.tcb_status_checked) {
			cJSON_AddStringToObject(o, "tcb_status", r->v.tcb_status);
			cJSON_AddStringToObject(o, "qe_tcb_status", r->v.qe_tcb_status);
		}
	}
	cJSON_AddBoolToObject(o, "measurement_compared", measurement_compared(&r->v));
	if (r->claims)
		cJSON_AddItemReferenceToObject(o, "claims", r->claims);
	else
		cJSON_AddNullToObject(o, "claims");
	s = cJSON_Print(o);
	if (s)
		printf("%s\n", s);
}

/* ---- the evidence ---- */

/* Takes the evidence apart; 0 with no platform when it is of no known form. */
static int load_evidence(struct run *r, const uint8_t *buf, size_t len)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	const struct platform *pl;
	size_t i = 0;
	char err[200];

	r->len = len;
	while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
		i++;
	if (i == len || buf[i] != '{' || len == SNP_REPORT_SIZE) {
		pl = platform_of_raw(buf, len);
		if (len > CVM_CAP_EVIDENCE) {
			verdict_init(&r->v, PLATFORM_NONE);
			return verdict_fail(&r->v, CHECK_FORMAT, "larger than %u bytes",
					    CVM_CAP_EVIDENCE);
		}
		if (!pl)
			return 0;
		r->ev.platform = pl->id;
		if (pl->from_raw(buf, len, &r->ev) < 0) {
			verdict_init(&r->v, pl->id);
			return verdict_fail(&r->v, CHECK_FORMAT, "out of memory");
		}
		r->pl = pl;
		return 0;
	}
	r->json_evidence = true;
	if (json_parse((const char *)buf, len, &doc) < 0 || !(pl = platform_of_json(doc)))
		return 0;
	if (kbs_evidence_parse(pl->id, doc, &r->ev, err, sizeof(err)) < 0) {
		verdict_init(&r->v, pl->id);
		return verdict_fail(&r->v, CHECK_FORMAT, "%s", err);
	}
	r->pl = pl;
	return 0;
}

/* Whether the options fit the evidence's platform: a usage question, asked before verifying. */
static int evidence_usage(struct run *r)
{
	unsigned given = (r->o.certs ? PLATFORM_OPT_CERTS : 0) |
			 (r->o.collateral ? PLATFORM_OPT_COLLATERAL : 0) |
			 (r->o.test_roots ? PLATFORM_OPT_TEST_ROOTS : 0);
	char why[160];

	if (platform_options_misfit(r->pl, given, why, sizeof(why))) {
		log_error("%s: %s", r->o.evidence, why);
		return -EINVAL;
	}
	if (r->pl->raw_needs && !r->json_evidence && !r->o.certs) {
		log_error("%s: %s needs %s", r->o.evidence, r->pl->noun, r->pl->raw_needs);
		return -EINVAL;
	}
	if (!platform_key_pinned(r->pl, &r->ref)) {
		log_error("%s: %s needs --reference with %s.%s (the pinned key)", r->o.evidence,
			  r->pl->noun, r->pl->name, r->pl->key_pin->name);
		return -EINVAL;
	}
	return 0;
}

/* --certs DIR in place of the chain the evidence carries; 1 when refused (v says why). */
static int load_certs(struct run *r)
{
	struct snp_certs certs = { 0 };
	char err[256];
	int rc;

	if (!r->o.certs)
		return 0;
	rc = snp_certs_load_dir(r->o.certs, &certs, err, sizeof(err));
	if (rc == -EBADMSG) {
		verdict_init(&r->v, r->pl->id);
		verdict_fail(&r->v, CHECK_CERTIFICATES, "%s", err);
		return 1;
	}
	if (rc < 0) {
		log_error("%s", err);
		return -EINVAL;
	}
	snp_certs_free(&r->ev.certs);
	r->ev.certs = certs;
	return 0;
}

/* Through the platform's row, as the key broker verifies. */
static int verify_platform(struct run *r)
{
	struct platform_verifiers pv;
	const struct check_result *first = &r->v.results[0];
	size_t reglen;
	char err[256];
	int rc = load_certs(r);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = platform_verifiers_new(r->pl, r->o.test_roots, r->o.collateral, (time_t)r->now, &pv,
				    err, sizeof(err));
	if (rc < 0) {
		platform_verifiers_free(&pv);
		log_error("%s", err);
		return -EINVAL;
	}
	rc = kbs_evidence_verify(&r->ev, pv.snp, pv.tdx, &r->ref,
				 r->o.report_data ? r->report_data : NULL, r->reg, &reglen, &r->v);
	platform_verifiers_free(&pv);
	if (rc < -1)
		return rc;
	if (r->v.n > 0 && first->check == CHECK_FORMAT && first->ok && r->pl->claims)
		r->claims = r->pl->claims(&r->ev, r->summary, sizeof(r->summary));
	if ((r->pl->opts & PLATFORM_OPT_COLLATERAL) && !r->v.tcb_status_checked)
		snprintf(r->note, sizeof(r->note), "; TCB status NOT checked (no --collateral)");
	/* genuine hardware says nothing of what runs on it: a verdict without it says so */
	if (!measurement_compared(&r->v)) {
		size_t n = strlen(r->note);

		snprintf(r->note + n, sizeof(r->note) - n,
			 "; measurement NOT compared (the reference names none)");
	}
	return 0;
}

/* ---- the runtime log ---- */

/* Replays the log against the evidence's register; the events are printed whatever the verdict. */
static int check_runtime_log(struct run *r, struct runtime_log *log, bool *parsed)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t len;
	char err[160];
	int rc = file_read(r->o.runtime_log, CVM_CAP_JSON, &text, &len);

	if (rc == -EFBIG)
		return verdict_fail(&r->v, CHECK_RUNTIME_LOG, "runtime event log over %u bytes",
				    CVM_CAP_JSON);
	if (rc < 0) {
		log_error_errno(rc, "%s", r->o.runtime_log);
		return -EINVAL;
	}
	*parsed = runtime_log_parse((char *)text, len, log, err, sizeof(err)) == 0;
	rc = runtime_log_check((char *)text, len, r->pl->id, r->reg,
			       r->ref.has_luks_header_sha256 ? r->ref.luks_header_sha256 : NULL,
			       &r->v);
	return rc == -ENOMEM ? rc : 0;
}

/* Whether the runtime-log options fit the evidence: a usage question, asked before verifying. */
static int runtime_usage(const struct run *r)
{
	if (r->o.runtime_log && r->pl && !r->pl->runtime_reg) {
		log_error("--runtime-log: %s has no runtime register", r->pl->title);
		return -EINVAL;
	}
	if (r->ref.has_luks_header_sha256 && r->pl && !r->pl->runtime_reg) {
		log_error("luks_header_sha256 in %s cannot be checked: %s has no runtime register",
			  r->o.reference, r->pl->title);
		return -EINVAL;
	}
	if (r->ref.has_luks_header_sha256 && !r->o.runtime_log && r->pl) {
		log_error("luks_header_sha256 in %s needs --runtime-log", r->o.reference);
		return -EINVAL;
	}
	return 0;
}

static int read_inputs(struct run *r)
{
	char err[320];
	int rc;

	if (r->o.now && rfc3339_parse(r->o.now, &r->now) < 0) {
		log_error("--now '%s': not an RFC 3339 date-time (2024-01-31T12:00:00Z)", r->o.now);
		return -EINVAL;
	}
	if (r->o.report_data) {
		size_t n;

		if (strlen(r->o.report_data) > 128 ||
		    hex_decode(r->o.report_data, r->report_data, 64, &n) < 0) {
			log_error("--report-data: expected up to 64 bytes of hex");
			return -EINVAL;
		}
	}
	reference_defaults(&r->ref);
	if (!r->o.reference) {
		if (r->o.builder || r->o.signature || r->o.pins) {
			log_error("--builder, --signature and --pins go with --reference MANIFEST");
			return -EINVAL;
		}
		return 0;
	}
	rc = refsrc_load(r->o.reference, r->o.builder, r->o.signature, r->o.pins, &r->src, err,
			 sizeof(err));
	if (rc == -EBADMSG || rc == -EKEYREJECTED) {
		log_error("%s", err);
		return -EKEYREJECTED;
	}
	if (rc < 0) {
		log_error("%s", err);
		return -EINVAL;
	}
	r->ref = r->src.ref;
	return 0;
}

static int verify_evidence(struct run *r)
{
	int rc = runtime_usage(r);

	if (rc < 0)
		return rc;
	if (!r->pl) {
		verdict_init(&r->v, PLATFORM_NONE);
		verdict_fail(&r->v, CHECK_FORMAT,
			     "neither raw evidence (an SNP report of %u bytes, a TDX quote of "
			     "version 4 or 5) nor JSON evidence of a known shape: %zu bytes",
			     SNP_REPORT_SIZE, r->len);
		return 0;
	}
	if ((rc = evidence_usage(r)) < 0)
		return rc;
	return verify_platform(r);
}

static int finish(struct run *r, const struct runtime_log *log)
{
	int rc = verdict_ok(&r->v) ? EXIT_OK : EXIT_REJECTED;

	if (log)
		add_event_claims(r, log);
	if (r->o.json)
		print_json(r);
	else
		print_text(r, log);
	/* Said of an accepted quote only: a refusal's one line names its own cause. */
	if (rc == EXIT_OK && (r->pl->opts & PLATFORM_OPT_COLLATERAL) && !r->o.collateral) {
		fflush(stdout);
		log_error("%s: warning: collateral not checked (no --collateral): TCB status, QE "
			  "identity and PCK revocation unknown",
			  r->o.evidence);
	}
	if (rc != EXIT_OK) {
		const struct check_result *f = verdict_first_failure(&r->v);

		fflush(stdout);
		log_error("%s: %s: %s", r->o.evidence, f ? check_name(f->check) : "none",
			  f ? f->detail : "no check ran");
	}
	return rc;
}

/*
 * Against a manifest: each launch of the image on the evidence's platform
 * in turn; the first that matches wins, else the verdict that got furthest
 * stays (its failure names the register). 1: the image is not offered here.
 */
static int verify_manifest(struct run *r)
{
	_cleanup_free_ struct reference *cands = NULL;
	struct verdict best;
	cJSON *best_claims = NULL;
	size_t n = 0, best_ok = 0;
	char err[256];
	int rc;

	if (!r->pl)
		return verify_evidence(r);
	rc = refsrc_candidates(&r->src, r->pl->id, &cands, &n, err, sizeof(err));
	if (rc == -ENOENT || rc == -EINVAL) {
		verdict_init(&r->v, r->pl->id);
		verdict_fail(&r->v, CHECK_FORMAT, "%s", err);
		return 1;
	}
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		size_t ok = 0;

		r->ref = cands[i];
		cJSON_Delete(r->claims);
		r->claims = NULL;
		rc = verify_evidence(r);
		if (rc < 0)
			break;
		if (verdict_ok(&r->v)) {
			cJSON_Delete(best_claims);
			return 0;
		}
		for (size_t k = 0; k < r->v.n; k++)
			ok += r->v.results[k].ok;
		if (i == 0 || ok > best_ok) {
			best = r->v;
			best_ok = ok;
			cJSON_Delete(best_claims);
			best_claims = r->claims;
			r->claims = NULL;
		}
	}
	if (rc < 0) {
		cJSON_Delete(best_claims);
		return rc;
	}
	r->v = best;
	cJSON_Delete(r->claims);
	r->claims = best_claims;
	return 0;
}

static int verify_run(struct run *r, const uint8_t *evidence, size_t len)
{
	struct runtime_log log = { 0 };
	bool parsed = false;
	int rc;

	if (load_evidence(r, evidence, len) < 0)
		return finish(r, NULL);
	if (r->src.is_manifest) {
		rc = verify_manifest(r);
		if (rc == 1)
			return finish(r, NULL);
	} else {
		rc = verify_evidence(r);
	}
	if (rc == -EINVAL)
		return EXIT_USAGE;
	if (rc < 0) {
		log_error_errno(rc, "%s", r->o.evidence);
		return EXIT_USAGE;
	}
	/* The log means something only once the evidence holding its register is genuine. */
	if (r->o.runtime_log && verdict_ok(&r->v)) {
		rc = check_runtime_log(r, &log, &parsed);
		if (rc == -EINVAL)
			return EXIT_USAGE;
		if (rc < 0) {
			log_error_errno(rc, "%s", r->o.runtime_log);
			return EXIT_USAGE;
		}
	}
	rc = finish(r, parsed ? &log : NULL);
	runtime_log_free(&log);
	return rc;
}

int verify_main(int argc, char **argv)
{
	_cleanup_free_ uint8_t *evidence = NULL;
	struct run *r = calloc(1, sizeof(*r));
	size_t len;
	int rc = 0;

	if (!r) {
		log_error_errno(-ENOMEM, "cvm verify");
		return EXIT_USAGE;
	}
	if (parse_args(argc, argv, &r->o) < 0 || (rc = read_inputs(r)) < 0) {
		refsrc_free(&r->src);
		free(r);
		return rc == -EKEYREJECTED ? EXIT_REJECTED : EXIT_USAGE;
	}
	/* JSON evidence may carry an event log; a raw report or quote is held to 64 KiB. */
	rc = file_read(r->o.evidence, CVM_CAP_JSON, &evidence, &len);
	if (rc == -EFBIG) {
		/* Oversized evidence is hostile input, not a usage error. */
		log_error("%s: format: larger than %u bytes", r->o.evidence, CVM_CAP_JSON);
		free(r);
		return EXIT_REJECTED;
	}
	if (rc < 0) {
		log_error_errno(rc, "%s", r->o.evidence);
		free(r);
		return EXIT_USAGE;
	}
	rc = verify_run(r, evidence, len);
	refsrc_free(&r->src);
	cJSON_Delete(r->claims);
	kbs_evidence_free(&r->ev);
	free(r);
	return rc;
}
