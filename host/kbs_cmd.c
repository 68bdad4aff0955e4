/* SPDX-License-Identifier: Apache-2.0 */
/* cvm kbs serve | add-resource | add-image | set-policy, and cvm kbs-client. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent/agent.h"
#include "host/cvm.h"
#include "host/kbs.h"
#include "lib/lib.h"

static void kbs_usage(FILE *f)
{
	fputs("Usage: cvm kbs serve --config KBS.json\n"
	      "       cvm kbs add-resource --store DIR REPO/TYPE/TAG FILE\n"
	      "       cvm kbs add-image --store DIR MANIFEST.json [--signature SIG]\n"
	      "       cvm kbs set-policy --store DIR REPO/TYPE/TAG POLICY.json\n"
	      "\n"
	      "A key broker speaking Trustee's KBS protocol (RCAR 0.4.0) over HTTPS.\n"
	      "It releases a resource, sealed to the key the evidence binds, only to a\n"
	      "guest whose evidence is genuine and meets the resource's policy.\n"
	      "\n"
	      "The store holds resources/REPO/TYPE/TAG, policies/REPO/TYPE/TAG.json and\n"
	      "images/SHA256.json (signed image manifests, from cvm image build; the\n"
	      "signature is checked by add-image, SIG defaults to the manifest's name\n"
	      "with .sig for .json). A policy names the image the resource goes to:\n"
	      "{\"image\": {\"builder\": PUBKEY, \"name\": NAME} | {\"manifest_sha256\": HEX},\n"
	      " \"platforms\": [\"tdx\", \"snp\", \"tpm\"], \"reference\": {values the manifest\n"
	      " leaves unpredicted, tpm.ak_sha256, luks_header_sha256, ...},\n"
	      " \"require_runtime_log\": bool}\n"
	      "Every launch register (firmware, kernel, initrd, command line) must be\n"
	      "pinned; a policy that leaves one open is refused, naming it. A resource\n"
	      "without a valid policy stops the broker from starting. See docs/kbs.md.\n"
	      "\n"
	      "Exit status: 0 done, 1 refused (invalid policy), 2 usage or file error.\n",
	      f);
}

/* The luks_header_sha256 of a volume.key (cvm pack's key file): 0, or -1 when it names none. */
static int key_header(const uint8_t *text, size_t n, uint8_t out[32])
{
	_cleanup_(json_delete_wipedp) cJSON *k = NULL;
	const char *h;

	if (json_parse((const char *)text, n, &k) < 0)
		return -1;
	h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "luks_header_sha256"));
	return h && hex_decode_exact(h, out, 32) == 0 ? 0 : -1;
}

/*
 * A policy that pins a LUKS header and the resource stored beside it must
 * agree: a policy for another volume's header than the key it guards would
 * release the key to no guest, or to the wrong one. Either may come first;
 * the second is checked against the first. 0, or -1 with the reason logged.
 */
static int header_agrees(const char *store, const char *res, const uint8_t *data, size_t n,
			 bool policy)
{
	_cleanup_(wiped_buf_free) struct wiped_buf other = { 0 };
	struct kbs_policy pol;
	uint8_t vhdr[32];
	char path[2048], err[320], a[65], b[65];
	int r;

	kbs_store_path(store, policy ? "resources" : "policies", res, path, sizeof(path));
	if (file_read(path, CVM_CAP_JSON, &other.p, &other.n) < 0)
		return 0; /* nothing beside it yet */
	if (policy ? key_header(other.p, other.n, vhdr) < 0 : key_header(data, n, vhdr) < 0)
		return 0; /* a resource that is not a volume key */
	r = policy ? kbs_policy_parse((const char *)data, n, &pol, err, sizeof(err))
		   : kbs_policy_parse((const char *)other.p, other.n, &pol, err, sizeof(err));
	if (r < 0)
		return 0; /* the stored policy is refused where it is used */
	r = pol.ref.has_luks_header_sha256 && memcmp(pol.ref.luks_header_sha256, vhdr, 32) ? -1 : 0;
	if (r < 0) {
		hex_encode(pol.ref.luks_header_sha256, 32, a);
		hex_encode(vhdr, 32, b);
		log_error("%s: the policy's reference.luks_header_sha256 %s is not the key's %s "
			  "(another volume's?)",
			  res, a, b);
	}
	kbs_policy_free(&pol);
	return r;
}

static int store_cmd(int argc, char **argv, bool policy)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *store = NULL;
	/* a resource is a secret: wiped however this returns */
	_cleanup_(wiped_buf_free) struct wiped_buf data = { 0 };
	char path[2048], err[320];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 's')
			store = optarg;
		else if (c == 'h') {
			kbs_usage(stdout);
			return EXIT_OK;
		} else {
			log_error("see 'cvm kbs --help'");
			return EXIT_USAGE;
		}
	}
	if (!store || argc - optind != 2) {
		log_error("needs --store DIR, REPO/TYPE/TAG and a file; see 'cvm kbs --help'");
		return EXIT_USAGE;
	}
	if (!kbs_resource_path_valid(argv[optind])) {
		log_error("%s: a resource path is REPO/TYPE/TAG, each of [A-Za-z0-9._-], not "
			  "starting with a dot",
			  argv[optind]);
		return EXIT_USAGE;
	}
	r = file_read(argv[optind + 1], CVM_CAP_JSON, &data.p, &data.n);
	if (r < 0) {
		log_error_errno(r, "%s", argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (policy) {
		struct kbs_policy pol;
		char images[1200];

		snprintf(images, sizeof(images), "%s/images", store);
		if (kbs_policy_parse((char *)data.p, data.n, &pol, err, sizeof(err)) < 0 ||
		    kbs_policy_resolve(&pol, images, err, sizeof(err)) < 0) {
			log_error("%s: %s", argv[optind + 1], err);
			return EXIT_REJECTED;
		}
		kbs_policy_free(&pol);
	}
	if (header_agrees(store, argv[optind], data.p, data.n, policy) < 0)
		return EXIT_REJECTED;
	kbs_store_path(store, policy ? "policies" : "resources", argv[optind], path, sizeof(path));
	r = file_write_atomic(path, data.p, data.n, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	printf("%s %s\n", policy ? "policy" : "resource", path);
	return EXIT_OK;
}

/* cvm kbs add-image: a signed manifest into <store>/images/<sha256>.json and .sig. */
static int add_image(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "signature", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *store = NULL, *sigpath = NULL;
	_cleanup_free_ uint8_t *text = NULL, *sig = NULL;
	char path[2048], defsig[2048], err[320], hex[65];
	struct manifest m;
	size_t len = 0, slen = 0;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 's')
			store = optarg;
		else if (c == 'S')
			sigpath = optarg;
		else if (c == 'h') {
			kbs_usage(stdout);
			return EXIT_OK;
		} else {
			log_error("see 'cvm kbs --help'");
			return EXIT_USAGE;
		}
	}
	if (!store || argc - optind != 1) {
		log_error("needs --store DIR and a manifest; see 'cvm kbs --help'");
		return EXIT_USAGE;
	}
	if (!sigpath) {
		size_t n = strlen(argv[optind]);

		if (n > 5 && !strcmp(argv[optind] + n - 5, ".json"))
			n -= 5;
		snprintf(defsig, sizeof(defsig), "%.*s.sig", (int)n, argv[optind]);
		sigpath = defsig;
	}
	if ((r = file_read(argv[optind], CVM_CAP_JSON, &text, &len)) < 0 ||
	    (r = file_read(sigpath, CVM_CAP_JSON, &sig, &slen)) < 0) {
		log_error_errno(r, "%s", text ? sigpath : argv[optind]);
		return EXIT_USAGE;
	}
	if (manifest_parse((char *)text, len, &m, err, sizeof(err)) < 0) {
		log_error("%s: %s", argv[optind], err);
		return EXIT_REJECTED;
	}
	r = manifest_check_signature(&m, (char *)sig, slen, NULL, NULL, err, sizeof(err));
	hex_encode(m.sha256, 32, hex);
	manifest_free(&m);
	if (r < 0) {
		log_error("%s: %s", sigpath, err);
		return EXIT_REJECTED;
	}
	snprintf(path, sizeof(path), "%s/images/%s.json", store, hex);
	r = file_write_atomic(path, text, len, err, sizeof(err));
	if (r == 0) {
		snprintf(path, sizeof(path), "%s/images/%s.sig", store, hex);
		r = file_write_atomic(path, sig, slen, err, sizeof(err));
	}
	if (r < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	printf("image %s/images/%s.json\n", store, hex);
	return EXIT_OK;
}

static int serve_main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		kbs_usage(stdout);
		return EXIT_OK;
	}
	if (argc != 3 || strcmp(argv[1], "--config")) {
		log_error("usage: cvm kbs serve --config KBS.json");
		return EXIT_USAGE;
	}
	return kbs_serve(argv[2]);
}

static int add_resource_main(int argc, char **argv)
{
	return store_cmd(argc, argv, false);
}

static int set_policy_main(int argc, char **argv)
{
	return store_cmd(argc, argv, true);
}

int kbs_main(int argc, char **argv)
{
	static const struct subcommand cmds[] = { { "serve", serve_main },
						  { "add-resource", add_resource_main },
						  { "add-image", add_image },
						  { "set-policy", set_policy_main } };

	return subcommand_run(argc, argv, "kbs", cmds, ARRAY_SIZE(cmds), kbs_usage);
}

/* A decimal number from min to max, digits only. */
static int parse_number(const char *s, long min, long max, long *out)
{
	size_t n = strspn(s, "0123456789");
	long v;

	if (n == 0 || n > 9 || s[n])
		return -EINVAL;
	v = strtol(s, NULL, 10);
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void client_usage(FILE *f)
{
	fputs("Usage: cvm kbs-client --url URL --resource REPO/TYPE/TAG -o FILE [options]\n"
	      "       cvm kbs-client --tee tpm [--tcti TCTI] --show-ak\n"
	      "\n"
	      "Runs the KBS protocol (RCAR 0.4.0) against a broker (cvm kbs or Trustee):\n"
	      "auth, attest with evidence binding a fresh P-256 key, then fetches and\n"
	      "decrypts the resource into FILE (mode 0600).\n"
	      "\n"
	      "  --url URL             https://HOST:PORT of the broker\n"
	      "  --resource PATH       REPO/TYPE/TAG\n"
	      "  -o, --output FILE     where the resource goes ('-': standard output)\n"
	      "  --cacert PEM          trust only this certificate or CA for the broker\n"
	      "  --tee NAME            evidence from: tsm, tdx-guest, sev-guest, az, tpm, sim\n"
	      "                        (test builds), auto (default: the first that works)\n"
	      "  --tcti TCTI           tpm: tss2 TCTI, e.g. swtpm:host=127.0.0.1,port=2321\n"
	      "  --runtime-log FILE    send this CEL-JSON runtime event log with the evidence\n"
	      "  --order FILE          send this signed order (docs/order.md) as init-data: the\n"
	      "                        order the evidence was launched for\n"
	      "  --sim-pki DIR         sim: the test PKI (default $CVM_SIM_PKI)\n"
	      "  --sim-platform P      sim: snp, tdx, az-snp-vtpm or az-tdx-vtpm (default tdx)\n"
	      "  --sim-measurement HEX sim: the SNP measurement or TDX MRTD to report\n"
	      "  --sim-launch FILE     sim: the launch registers to report, a JSON object of\n"
	      "                        TDX mrtd, rtmr0, rtmr1, rtmr2, mrconfigid (hex, each\n"
	      "                        optional) or SNP measurement, host_data; not with\n"
	      "                        --sim-measurement\n"
	      "  --sim-report-data HEX sim: report this instead of the binding (tests)\n"
	      "  --timeout SECONDS     per request, 1 to 3600 (default 30); connect timeout 5 s\n"
	      "  --retries N           retries on network errors, 0 to 100 (default 3)\n"
	      "  --show-ak             tpm: print the SHA-256 of the AK (for ak_sha256)\n"
	      "  --evidence HEX        print the primary evidence binding these 64 bytes of\n"
	      "                        report_data into -o (what attest sends), and stop\n"
	      "\n"
	      "Exit status: 0 released, 1 refused by the broker, 2 usage, network or\n"
	      "local error.\n",
	      f);
}

struct client_opts {
	struct kbs_options kbs;
	struct tee_config cfg;
	const char *resource, *output, *tee_name, *order_file;
	struct order order;
	char order_sig[129];
	uint8_t rd[64], ev_rd[64];
	bool show_ak, evidence_only, retries_set;
};

enum {
	O_URL = 256,
	O_RES,
	O_CACERT,
	O_TEE,
	O_TCTI,
	O_RTLOG,
	O_PKI,
	O_PLAT,
	O_MEAS,
	O_LAUNCH,
	O_RD,
	O_TIMEOUT,
	O_RETRIES,
	O_SHOWAK,
	O_EVIDENCE,
	O_ORDER,
};

/* One option into o: 0, -ENOENT for no such option, -EINVAL for a bad value (logged). */
static int client_opt_set(struct client_opts *o, int c, const char *arg)
{
	long num;

	switch (c) {
	case O_URL:
		o->kbs.url = arg;
		return 0;
	case O_RES:
		o->resource = arg;
		return 0;
	case 'o':
		o->output = arg;
		return 0;
	case O_CACERT:
		o->kbs.cacert = arg;
		return 0;
	case O_TEE:
		o->tee_name = arg;
		return 0;
	case O_TCTI:
		o->cfg.tcti = arg;
		return 0;
	case O_RTLOG:
		o->cfg.runtime_log = arg;
		return 0;
	case O_ORDER:
		o->order_file = arg;
		return 0;
	case O_PKI:
		o->cfg.sim_pki = arg;
		return 0;
	case O_PLAT:
		o->cfg.sim_platform = arg;
		return 0;
	case O_MEAS:
		o->cfg.sim_measurement = arg;
		return 0;
	case O_LAUNCH:
		o->cfg.sim_launch = arg;
		return 0;
	case O_RD:
		if (hex_decode_exact(arg, o->rd, 64) < 0)
			return log_error("--sim-report-data must be 64 bytes of hex"), -EINVAL;
		o->cfg.sim_report_data = o->rd;
		return 0;
	case O_TIMEOUT:
		if (parse_number(arg, 1, 3600, &num) < 0)
			return log_error("--timeout: seconds, 1 to 3600 (not '%.32s')", arg),
			       -EINVAL;
		o->kbs.total_timeout_ms = num * 1000;
		return 0;
	case O_RETRIES:
		if (parse_number(arg, 0, 100, &num) < 0)
			return log_error("--retries: a number, 0 to 100 (not '%.32s')", arg),
			       -EINVAL;
		o->kbs.retries = (unsigned)num;
		o->retries_set = true;
		return 0;
	case O_SHOWAK:
		o->show_ak = true;
		return 0;
	case O_EVIDENCE:
		if (hex_decode_exact(arg, o->ev_rd, 64) < 0)
			return log_error("--evidence must be 64 bytes of hex"), -EINVAL;
		o->evidence_only = true;
		return 0;
	}
	return -ENOENT;
}

/* --order FILE: the order sent as init-data (its signed form and signature); -1 logged. */
static int client_load_order(struct client_opts *o)
{
	_cleanup_free_ uint8_t *text = NULL;
	char err[320];
	size_t len;
	int r = file_read(o->order_file, ORDER_TEXT_MAX, &text, &len);

	if (r < 0)
		return log_error_errno(r, "%s", o->order_file), -1;
	if (order_parse((const char *)text, len, NULL, &o->order, err, sizeof(err)) < 0)
		return log_error("%s: %s", o->order_file, err), -1;
	hex_encode(o->order.signature, 64, o->order_sig);
	o->kbs.init_data_body = o->order.signed_form;
	o->kbs.init_data_signature = o->order_sig;
	return 0;
}

/* 0 to go on, 1 after --help, -1 after a usage error (logged). */
static int client_parse_opts(int argc, char **argv, struct client_opts *o)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "resource", required_argument, NULL, O_RES },
		{ "output", required_argument, NULL, 'o' },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "tee", required_argument, NULL, O_TEE },
		{ "tcti", required_argument, NULL, O_TCTI },
		{ "runtime-log", required_argument, NULL, O_RTLOG },
		{ "order", required_argument, NULL, O_ORDER },
		{ "sim-pki", required_argument, NULL, O_PKI },
		{ "sim-platform", required_argument, NULL, O_PLAT },
		{ "sim-measurement", required_argument, NULL, O_MEAS },
		{ "sim-launch", required_argument, NULL, O_LAUNCH },
		{ "sim-report-data", required_argument, NULL, O_RD },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "show-ak", no_argument, NULL, O_SHOWAK },
		{ "evidence", required_argument, NULL, O_EVIDENCE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, r;

	o->tee_name = "auto";
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		if (c == 'h') {
			client_usage(stdout);
			return 1;
		}
		r = client_opt_set(o, c, optarg);
		if (r == -ENOENT)
			log_error("see 'cvm kbs-client --help'");
		if (r < 0)
			return -1;
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; see 'cvm kbs-client --help'", argv[optind]);
		return -1;
	}
	if (o->evidence_only && !o->output) {
		log_error("--evidence needs -o FILE");
		return -1;
	}
	if (!o->show_ak && !o->evidence_only && (!o->kbs.url || !o->resource || !o->output)) {
		log_error("needs --url, --resource and -o; see 'cvm kbs-client --help'");
		return -1;
	}
	if (!o->show_ak && o->kbs.total_timeout_ms <= 0)
		o->kbs.total_timeout_ms = 30000;
	if (!o->retries_set)
		o->kbs.retries = 3;
	return o->order_file ? client_load_order(o) : 0;
}

/* --show-ak: the SHA-256 of the vTPM's attestation key. Closes tee. */
static int client_show_ak(struct tee *tee)
{
	uint8_t d[32];
	char hex[65];
	int r = tee_tpm_ak_sha256(tee, d);

	tee_close(tee);
	if (r < 0) {
		log_error("--show-ak needs --tee tpm");
		return EXIT_USAGE;
	}
	hex_encode(d, 32, hex);
	printf("%s\n", hex);
	return EXIT_OK;
}

/* --evidence: the evidence for the given report data, to -o. Closes tee. */
static int client_evidence(const struct client_opts *o, struct tee *tee)
{
	cJSON *ev = NULL;
	_cleanup_free_ char *text = NULL;
	char err[512];
	int r = tee->evidence(tee, o->ev_rd, &ev, err, sizeof(err));

	tee_close(tee);
	if (r < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	text = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	if (!text)
		return EXIT_USAGE;
	r = out_write(o->output, text, strlen(text), err, sizeof(err));
	if (r < 0)
		log_error("%s", err);
	return r < 0 ? EXIT_USAGE : EXIT_OK;
}

/* The resource from the broker, to -o. Closes tee. */
static int client_get(const struct client_opts *o, struct tee *tee)
{
	uint8_t *secret = NULL;
	char err[512];
	size_t n = 0;
	int r = kbs_get_resource(&o->kbs, tee, o->resource, &secret, &n, err, sizeof(err));

	tee_close(tee);
	if (r < 0) {
		log_error("%s", err);
		return r == -EACCES ? EXIT_REJECTED : EXIT_USAGE;
	}
	r = out_write(o->output, secret, n, err, sizeof(err));
	if (r < 0)
		log_error("%s", err);
	secret_free(secret, n);
	return r < 0 ? EXIT_USAGE : EXIT_OK;
}

int kbs_client_main(int argc, char **argv)
{
	struct client_opts o = { 0 };
	struct tee *tee = NULL;
	char err[512];
	int r = client_parse_opts(argc, argv, &o);

	if (r != 0) {
		order_free(&o.order);
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	}
	if (tee_open(o.tee_name, &o.cfg, &tee, err, sizeof(err)) < 0) {
		log_error("%s", err);
		order_free(&o.order);
		return EXIT_USAGE;
	}
	if (o.show_ak)
		r = client_show_ak(tee);
	else if (o.evidence_only)
		r = client_evidence(&o, tee);
	else
		r = client_get(&o, tee);
	order_free(&o.order);
	return r;
}
