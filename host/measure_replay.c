/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm measure replay: parses an event log (TCG2 binary, CCEL or CEL-JSON),
 * prints every event and the registers it replays to, and with --quote
 * compares RTMR0-3 with a TDX quote's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "host/cvm.h"
#include "host/measure.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

static cJSON *event_json(const struct evlog *log, const struct evlog_event *e)
{
	cJSON *o = cJSON_CreateObject(), *ds, *details;
	char reg[16], *b64 = NULL;

	if (!o)
		return NULL;
	evlog_register_name(log->format, e->index, reg, sizeof(reg));
	cJSON_AddNumberToObject(o, "recnum", (double)e->recnum);
	cJSON_AddNumberToObject(o, "index", e->index);
	cJSON_AddStringToObject(o, "register", reg);
	cJSON_AddNumberToObject(o, "type", e->type);
	cJSON_AddStringToObject(o, "type_name", evlog_type_name(e->type));
	ds = cJSON_AddArrayToObject(o, "digests");
	for (uint32_t i = 0; ds && i < e->ndigests; i++) {
		cJSON *d = cJSON_CreateObject();

		if (!d)
			break;
		cJSON_AddStringToObject(d, "alg", evlog_alg_name(e->digests[i].alg));
		json_add_hex(d, "digest", e->digests[i].d, e->digests[i].len);
		cJSON_AddItemToArray(ds, d);
	}
	if (e->data.p && base64_encode(e->data.p, e->data.len, BASE64_STD, &b64) == 0) {
		cJSON_AddStringToObject(o, "event", b64);
		free(b64);
	}
	details = evlog_event_details(e);
	if (details)
		cJSON_AddItemToObject(o, "details", details);
	return o;
}

static void print_text(const struct evlog *log, const struct evlog_bank *banks, size_t nbanks)
{
	for (size_t i = 0; i < log->n; i++) {
		const struct evlog_event *e = &log->events[i];
		cJSON *d = evlog_event_details(e);
		const cJSON *str = d ? cJSON_GetObjectItemCaseSensitive(d, "string") : NULL;
		const cJSON *var = d ? cJSON_GetObjectItemCaseSensitive(d, "variable_name") : NULL;
		char reg[16], hex[129];

		evlog_register_name(log->format, e->index, reg, sizeof(reg));
		printf("%4llu %-6s %-34s", (unsigned long long)e->recnum, reg,
		       evlog_type_name(e->type));
		if (str)
			printf(" %s", str->valuestring);
		else if (var)
			printf(" %s", var->valuestring);
		printf("\n");
		for (uint32_t j = 0; j < e->ndigests; j++) {
			hex_encode(e->digests[j].d, e->digests[j].len, hex);
			printf("     %-6s %s\n", evlog_alg_name(e->digests[j].alg), hex);
		}
		cJSON_Delete(d);
	}
	printf("\n");
	for (size_t b = 0; b < nbanks; b++)
		for (uint32_t r = 0; r < EVLOG_MAX_INDEX; r++) {
			char reg[16], hex[129];

			if (!banks[b].touched[r])
				continue;
			evlog_register_name(log->format, r, reg, sizeof(reg));
			hex_encode(banks[b].reg[r], banks[b].len, hex);
			printf("%-6s %-6s %s\n", reg, evlog_alg_name(banks[b].alg), hex);
		}
}

static cJSON *registers_json(const struct evlog *log, const struct evlog_bank *banks, size_t nbanks)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t b = 0; o && b < nbanks; b++) {
		cJSON *bank = cJSON_AddObjectToObject(o, evlog_alg_name(banks[b].alg));

		for (uint32_t r = 0; bank && r < EVLOG_MAX_INDEX; r++) {
			char reg[16];

			if (!banks[b].touched[r])
				continue;
			evlog_register_name(log->format, r, reg, sizeof(reg));
			json_add_hex(bank, reg, banks[b].reg[r], banks[b].len);
		}
	}
	return o;
}

/* The replayed RTMRs against a quote's; RTMRs no event touched must be zero. */
static int compare_quote(const char *path, const struct evlog *log, const struct evlog_bank *banks,
			 size_t nbanks)
{
	_cleanup_free_ uint8_t *buf = NULL;
	const struct evlog_bank *bank = NULL;
	struct tdx_quote q;
	struct verdict v;
	size_t len;
	int r;

	if (log->format != EVLOG_CCEL) {
		log_error("--quote needs a CCEL or RTMR log");
		return EXIT_USAGE;
	}
	for (size_t b = 0; b < nbanks; b++)
		if (banks[b].alg == TPM_ALG_SHA384)
			bank = &banks[b];
	if (!bank) {
		log_error("the log has no SHA-384 bank to compare with RTMRs");
		return EXIT_USAGE;
	}
	r = file_read(path, CVM_CAP_EVIDENCE, &buf, &len);
	if (r < 0) {
		log_error_errno(r, "%s", path);
		return EXIT_USAGE;
	}
	verdict_init(&v, PLATFORM_TDX);
	if (tdx_quote_parse(buf, len, &q, &v) < 0) {
		log_error("%s: not a TDX quote: %s", path, verdict_first_failure(&v)->detail);
		return EXIT_USAGE;
	}
	for (int i = 0; i < 4; i++) {
		if (CRYPTO_memcmp(bank->reg[i + 1], q.body.rtmr[i], 48) != 0) {
			fflush(stdout);
			log_error("%s: RTMR%d replayed from the log differs from the quote's", path,
				  i);
			return EXIT_REJECTED;
		}
	}
	printf("RTMR0-3 replayed from the log equal the quote's\n");
	return EXIT_OK;
}

struct replay_opts {
	const char *log, *format, *quote;
	bool json;
};

/* 0 to go on, 1 after --help, -1 after a usage error (logged). */
static int replay_parse_opts(int argc, char **argv, struct replay_opts *o)
{
	enum { OPT_FORMAT = 256, OPT_QUOTE, OPT_JSON };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "quote", required_argument, NULL, OPT_QUOTE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			o->format = optarg;
			break;
		case OPT_QUOTE:
			o->quote = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			measure_help(stdout);
			return 1;
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm measure --help'",
				  argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc - 1) {
		log_error("expected one LOG file; see 'cvm measure --help'");
		return -1;
	}
	if (o->format && strcmp(o->format, "ccel") && strcmp(o->format, "tcg2") &&
	    strcmp(o->format, "cel-json")) {
		log_error("--format must be ccel, tcg2 or cel-json");
		return -1;
	}
	o->log = argv[optind];
	return 0;
}

/*
 * Reads the log into *buf (which its events point into) as --format says or,
 * by default, JSON as CEL-JSON and a binary log with SHA-384 as its only
 * bank as a CCEL: EXIT_OK or EXIT_USAGE.
 */
static int replay_load(const struct replay_opts *o, uint8_t **buf, struct evlog *log)
{
	size_t len, i = 0;
	char err[256];
	bool is_json;
	int r;

	r = file_read(o->log, CVM_CAP_COLLATERAL, buf, &len);
	if (r < 0) {
		log_error_errno(r, "%s", o->log);
		return EXIT_USAGE;
	}
	while (i < len &&
	       ((*buf)[i] == ' ' || (*buf)[i] == '\n' || (*buf)[i] == '\t' || (*buf)[i] == '\r'))
		i++;
	is_json = o->format ? strcmp(o->format, "cel-json") == 0 : i < len && (*buf)[i] == '[';
	if (is_json)
		r = evlog_parse_cel_json((const char *)*buf, len, log, err, sizeof(err));
	else
		r = evlog_parse_tcg2(*buf, len,
				     o->format && !strcmp(o->format, "ccel") ? EVLOG_CCEL
									     : EVLOG_TCG2,
				     log, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", o->log, r == -ENOMEM ? "out of memory" : err);
		return EXIT_USAGE;
	}
	if (!o->format && log->format == EVLOG_TCG2 && log->nalgs == 1 &&
	    log->algs[0] == TPM_ALG_SHA384)
		log->format = EVLOG_CCEL;
	return EXIT_OK;
}

static void print_json(const struct evlog *log, const struct evlog_bank *banks, size_t nbanks)
{
	cJSON *o = cJSON_CreateObject(), *events;
	char *s;

	cJSON_AddStringToObject(o, "format",
				log->format == EVLOG_CCEL   ? "ccel"
				: log->format == EVLOG_TCG2 ? "tcg2"
							    : "cel-json");
	events = cJSON_AddArrayToObject(o, "events");
	for (size_t i = 0; events && i < log->n; i++)
		cJSON_AddItemToArray(events, event_json(log, &log->events[i]));
	cJSON_AddItemToObject(o, "registers", registers_json(log, banks, nbanks));
	s = cJSON_Print(o);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

static int replay_run(const struct replay_opts *o)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct evlog log;
	size_t nbanks;
	int r, rc = EXIT_OK;

	if (replay_load(o, &buf, &log) != EXIT_OK)
		return EXIT_USAGE;
	r = evlog_replay(&log, banks, &nbanks);
	if (r < 0) {
		evlog_free(&log);
		log_error_errno(r, "replay");
		return EXIT_USAGE;
	}
	if (o->json)
		print_json(&log, banks, nbanks);
	else
		print_text(&log, banks, nbanks);
	if (o->quote)
		rc = compare_quote(o->quote, &log, banks, nbanks);
	evlog_free(&log);
	return rc;
}

int measure_replay_main(int argc, char **argv)
{
	struct replay_opts o = { 0 };
	int r = replay_parse_opts(argc, argv, &o);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	return replay_run(&o);
}
