/* SPDX-License-Identifier: Apache-2.0 */
/* cvm verify: is this evidence genuine, and does it say what we expect? */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

static void help(FILE *f)
{
	fputs("Usage: cvm verify EVIDENCE [options]\n"
	      "\n"
	      "Verifies a raw SEV-SNP attestation report (0x4A0 bytes, versions 2 to 5) or a TDX\n"
	      "quote (version 4 or 5): its signature, its certificate chain up to a built-in,\n"
	      "pinned vendor root, and its claims against reference values.\n"
	      "\n"
	      "Options:\n"
	      "  --reference FILE     reference values (JSON; see docs/verify.md)\n"
	      "  --report-data HEX    expected report_data, up to 64 bytes, zero-padded\n"
	      "  --certs DIR          SNP: vcek (or vlek), optional ask (or asvk) and ark, each\n"
	      "                       .pem or .der, or ask_ark.pem as AMD's KDS serves it;\n"
	      "                       the AMD ASK/ASVK and ARK are built in\n"
	      "  --collateral DIR     TDX: Intel PCS collateral (TCB info, QE identity, CRLs);\n"
	      "                       without it the TCB status is not checked, and the output\n"
	      "                       says so\n"
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
	bool json;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_REF = 256, OPT_RD, OPT_CERTS, OPT_COLL, OPT_TROOTS, OPT_NOW, OPT_JSON };
	static const struct option longopts[] = {
		{ "reference", required_argument, NULL, OPT_REF },
		{ "report-data", required_argument, NULL, OPT_RD },
		{ "certs", required_argument, NULL, OPT_CERTS },
		{ "collateral", required_argument, NULL, OPT_COLL },
		{ "test-roots", required_argument, NULL, OPT_TROOTS },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "json", no_argument, NULL, OPT_JSON },
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

static void print_text(const struct verdict *v, const char *evidence, const char *summary)
{
	for (size_t i = 0; i < v->n; i++)
		printf("  %-4s %-22s %s\n", v->results[i].ok ? "ok" : "FAIL",
		       check_name(v->results[i].check), v->results[i].detail);
	if (verdict_ok(v))
		printf("%s: verified: %s\n", evidence, summary);
	else
		printf("%s: rejected\n", evidence);
}

static void print_json(const struct verdict *v, cJSON *claims)
{
	_cleanup_(cJSON_Deletep) cJSON *o = verdict_to_json(v);
	_cleanup_free_ char *s = NULL;

	if (!o)
		return;
	if (v->platform == PLATFORM_TDX) {
		cJSON_AddBoolToObject(o, "tcb_status_checked", v->tcb_status_checked);
		if (v->tcb_status_checked)
			cJSON_AddStringToObject(o, "tcb_status", v->tcb_status);
	}
	if (claims)
		cJSON_AddItemToObject(o, "claims", claims);
	else
		cJSON_AddNullToObject(o, "claims");
	s = cJSON_Print(o);
	if (s)
		printf("%s\n", s);
}

int verify_main(int argc, char **argv)
{
	_cleanup_free_ uint8_t *evidence = NULL, *reftext = NULL;
	uint8_t report_data[64] = { 0 };
	struct reference ref;
	struct verdict v;
	struct opts o;
	cJSON *claims = NULL;
	char err[256], summary[160] = "";
	int64_t now = 0;
	size_t len, rlen;
	int r, rc;

	if (parse_args(argc, argv, &o) < 0)
		return EXIT_USAGE;

	if (o.now && rfc3339_parse(o.now, &now) < 0) {
		log_error("--now '%s': not an RFC 3339 date-time (2024-01-31T12:00:00Z)", o.now);
		return EXIT_USAGE;
	}
	if (o.report_data) {
		size_t n;
		size_t sl = strlen(o.report_data);

		if (sl > 128 || hex_decode(o.report_data, report_data, 64, &n) < 0) {
			log_error("--report-data: expected up to 64 bytes of hex");
			return EXIT_USAGE;
		}
	}
	reference_defaults(&ref);
	if (o.reference) {
		r = file_read(o.reference, CVM_CAP_JSON, &reftext, &rlen);
		if (r < 0) {
			log_error_errno(r, "%s", o.reference);
			return EXIT_USAGE;
		}
		if (reference_parse((const char *)reftext, rlen, &ref, err, sizeof(err)) < 0) {
			log_error("%s: %s", o.reference, err);
			return EXIT_USAGE;
		}
	}

	r = file_read(o.evidence, CVM_CAP_EVIDENCE, &evidence, &len);
	if (r == -EFBIG) {
		/* Oversized evidence is hostile input, not a usage error. */
		log_error("%s: format: larger than %u bytes", o.evidence, CVM_CAP_EVIDENCE);
		return EXIT_REJECTED;
	}
	if (r < 0) {
		log_error_errno(r, "%s", o.evidence);
		return EXIT_USAGE;
	}

	switch (evidence_detect(evidence, len)) {
	case PLATFORM_SNP: {
		struct snp_verifier *sv = NULL;
		struct snp_certs certs = { 0 };
		struct snp_report rep;

		if (o.collateral) {
			log_error("--collateral applies to TDX quotes; %s is an SNP report",
				  o.evidence);
			return EXIT_USAGE;
		}
		if (!o.certs) {
			log_error("%s: an SNP report needs --certs DIR with its VCEK or VLEK",
				  o.evidence);
			return EXIT_USAGE;
		}
		r = snp_certs_load_dir(o.certs, &certs, err, sizeof(err));
		if (r == -EBADMSG) {
			log_error("%s: certificates: %s", o.evidence, err);
			return EXIT_REJECTED;
		}
		if (r < 0) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		r = snp_verifier_new(o.test_roots, (time_t)now, &sv);
		if (r < 0) {
			snp_certs_free(&certs);
			log_error_errno(r, "%s", o.test_roots ? o.test_roots : "built-in roots");
			return EXIT_USAGE;
		}
		r = snp_verify(sv, evidence, len, &certs, &ref.snp,
			       o.report_data ? report_data : NULL, &rep, &v);
		if (r == 0 && v.n > 0 && v.results[0].check == CHECK_FORMAT && v.results[0].ok)
			claims = snp_report_claims(&rep);
		if (r == 0 && verdict_ok(&v))
			snprintf(summary, sizeof(summary),
				 "genuine SEV-SNP report (%s), %zu checks passed",
				 snp_product_name(rep.product), v.n);
		snp_verifier_free(sv);
		snp_certs_free(&certs);
		break;
	}
	case PLATFORM_TDX: {
		struct tdx_verifier *tv = NULL;
		struct tdx_quote q;

		if (o.certs) {
			log_error("--certs applies to SNP reports; a TDX quote carries its PCK "
				  "chain");
			return EXIT_USAGE;
		}
		r = tdx_verifier_new(o.test_roots, o.collateral, (time_t)now, &tv, err,
				     sizeof(err));
		if (r < 0) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		r = tdx_verify(tv, evidence, len, &ref.tdx, o.report_data ? report_data : NULL, &q,
			       &v);
		if (r == 0 && v.n > 0 && v.results[0].check == CHECK_FORMAT && v.results[0].ok)
			claims = tdx_quote_claims(&q);
		if (r == 0 && verdict_ok(&v))
			snprintf(summary, sizeof(summary),
				 "genuine TDX quote v%u, %zu checks passed%s", q.version, v.n,
				 v.tcb_status_checked
					 ? ""
					 : "; TCB status NOT checked (no --collateral)");
		tdx_verifier_free(tv);
		break;
	}
	default:
		verdict_init(&v, PLATFORM_NONE);
		verdict_fail(&v, CHECK_FORMAT,
			     "neither an SNP report (%u bytes) nor a TDX quote (version 4 or 5, "
			     "TEE type 0x81): %zu bytes",
			     SNP_REPORT_SIZE, len);
		r = 0;
		break;
	}
	if (r < 0) {
		cJSON_Delete(claims);
		log_error_errno(r, "%s", o.evidence);
		return EXIT_USAGE;
	}

	if (o.json)
		print_json(&v, claims);
	else {
		print_text(&v, o.evidence, summary);
		cJSON_Delete(claims);
	}
	rc = verdict_ok(&v) ? EXIT_OK : EXIT_REJECTED;
	if (rc != EXIT_OK) {
		const struct check_result *f = verdict_first_failure(&v);

		fflush(stdout);
		log_error("%s: %s: %s", o.evidence, f ? check_name(f->check) : "none",
			  f ? f->detail : "no check ran");
	}
	return rc;
}
