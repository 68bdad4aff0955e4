/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm measure diff: the first difference between two event logs, two
 * reference-values documents, or a CCEL and a TDX quote's RTMRs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "host/measure.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

enum input_kind { INPUT_LOG, INPUT_JSON, INPUT_QUOTE };

struct input {
	const char *path;
	uint8_t *buf;
	size_t len;
	enum input_kind kind;
	struct evlog log;
	cJSON *json;
	struct tdx_quote quote;
};

static void input_free(struct input *in)
{
	evlog_free(&in->log);
	cJSON_Delete(in->json);
	free(in->buf);
}

/* A TDX quote, a JSON object (reference values), or an event log (binary or CEL-JSON). */
static int input_load(const char *path, struct input *in)
{
	char err[256];
	struct verdict v;
	size_t i = 0;
	int r;

	memset(in, 0, sizeof(*in));
	in->path = path;
	r = file_read(path, CVM_CAP_COLLATERAL, &in->buf, &in->len);
	if (r < 0)
		return log_error_errno(r, "%s", path);
	while (i < in->len && (in->buf[i] == ' ' || in->buf[i] == '\n' || in->buf[i] == '\t'))
		i++;
	if (evidence_detect(in->buf, in->len) == PLATFORM_TDX) {
		verdict_init(&v, PLATFORM_TDX);
		if (tdx_quote_parse(in->buf, in->len, &in->quote, &v) < 0) {
			log_error("%s: not a TDX quote: %s", path,
				  verdict_first_failure(&v)->detail);
			return -EBADMSG;
		}
		in->kind = INPUT_QUOTE;
		return 0;
	}
	if (i < in->len && in->buf[i] == '{') {
		if (json_parse((const char *)in->buf, in->len, &in->json) < 0) {
			log_error("%s: not valid JSON", path);
			return -EBADMSG;
		}
		in->kind = INPUT_JSON;
		return 0;
	}
	in->kind = INPUT_LOG;
	if (i < in->len && in->buf[i] == '[')
		r = evlog_parse_cel_json((const char *)in->buf, in->len, &in->log, err,
					 sizeof(err));
	else
		r = evlog_parse_tcg2(in->buf, in->len, EVLOG_TCG2, &in->log, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", path, err);
		return r;
	}
	if (in->log.format == EVLOG_TCG2 && in->log.nalgs == 1 && in->log.algs[0] == TPM_ALG_SHA384)
		in->log.format = EVLOG_CCEL;
	return 0;
}

static void describe_event(const struct evlog *log, size_t i, char *out, size_t cap)
{
	const struct evlog_event *e = &log->events[i];
	cJSON *d = evlog_event_details(e);
	const cJSON *s = d ? cJSON_GetObjectItemCaseSensitive(d, "string") : NULL;
	const cJSON *n = d ? cJSON_GetObjectItemCaseSensitive(d, "variable_name") : NULL;
	char reg[16];

	evlog_register_name(log->format, e->index, reg, sizeof(reg));
	snprintf(out, cap, "event %llu (%s %s%s%.40s%s)", (unsigned long long)e->recnum, reg,
		 evlog_type_name(e->type), s || n ? " \"" : "",
		 s   ? s->valuestring
		 : n ? n->valuestring
		     : "",
		 s || n ? "\"" : "");
	cJSON_Delete(d);
}

static int diff_logs(struct input *a, struct input *b)
{
	size_t n = a->log.n < b->log.n ? a->log.n : b->log.n;
	char what[160], ha[129], hb[129];

	for (size_t i = 0; i < n; i++) {
		const struct evlog_event *x = &a->log.events[i], *y = &b->log.events[i];

		describe_event(&a->log, i, what, sizeof(what));
		if (x->index != y->index || x->type != y->type) {
			char other[160];

			describe_event(&b->log, i, other, sizeof(other));
			log_error("first difference at %s in %s: %s in %s", what, a->path, other,
				  b->path);
			return EXIT_REJECTED;
		}
		for (uint32_t j = 0; j < x->ndigests; j++)
			for (uint32_t k = 0; k < y->ndigests; k++) {
				if (x->digests[j].alg != y->digests[k].alg)
					continue;
				if (memcmp(x->digests[j].d, y->digests[k].d, x->digests[j].len)) {
					hex_encode(x->digests[j].d, x->digests[j].len, ha);
					hex_encode(y->digests[k].d, y->digests[k].len, hb);
					log_error("first difference at %s: %s %s in %s, %s in %s",
						  what, evlog_alg_name(x->digests[j].alg), ha,
						  a->path, hb, b->path);
					return EXIT_REJECTED;
				}
			}
	}
	if (a->log.n != b->log.n) {
		const struct input *longer = a->log.n > b->log.n ? a : b;

		describe_event(&longer->log, n, what, sizeof(what));
		log_error("%s has %zu more events, from %s", longer->path,
			  (a->log.n > b->log.n ? a->log.n : b->log.n) - n, what);
		return EXIT_REJECTED;
	}
	printf("%s and %s: the same %zu events\n", a->path, b->path, n);
	return EXIT_OK;
}

/* The first member, depth first in document order, whose values differ. */
static bool json_first_difference(const cJSON *a, const cJSON *b, char *path, size_t cap)
{
	const cJSON *m;
	size_t len = strlen(path);

	if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
		cJSON_ArrayForEach(m, a) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, m->string);

			snprintf(path + len, cap - len, "%s%s", len ? "." : "", m->string);
			if (!o || json_first_difference(m, o, path, cap))
				return true;
			path[len] = 0;
		}
		cJSON_ArrayForEach(m, b) {
			if (!cJSON_GetObjectItemCaseSensitive(a, m->string)) {
				snprintf(path + len, cap - len, "%s%s", len ? "." : "", m->string);
				return true;
			}
		}
		return false;
	}
	return !cJSON_Compare(a, b, true);
}

static int diff_json(struct input *a, struct input *b)
{
	char path[256] = "";

	if (!json_first_difference(a->json, b->json, path, sizeof(path))) {
		printf("%s and %s: the same values\n", a->path, b->path);
		return EXIT_OK;
	}
	{
		const cJSON *x = a->json, *y = b->json;
		char copy[256], *tok, *save = NULL;
		char *va = NULL, *vb = NULL;

		snprintf(copy, sizeof(copy), "%s", path);
		for (tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
			x = x ? cJSON_GetObjectItemCaseSensitive(x, tok) : NULL;
			y = y ? cJSON_GetObjectItemCaseSensitive(y, tok) : NULL;
		}
		va = x ? cJSON_PrintUnformatted(x) : NULL;
		vb = y ? cJSON_PrintUnformatted(y) : NULL;
		log_error("first difference at %s: %.60s in %s, %.60s in %s", path,
			  va ? va : "(absent)", a->path, vb ? vb : "(absent)", b->path);
		free(va);
		free(vb);
	}
	return EXIT_REJECTED;
}

static int diff_log_quote(struct input *log, struct input *quote)
{
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	const struct evlog_bank *bank = NULL;
	size_t nbanks;

	if (log->log.format != EVLOG_CCEL) {
		log_error("%s: a quote compares with a CCEL or RTMR log", log->path);
		return EXIT_USAGE;
	}
	if (evlog_replay(&log->log, banks, &nbanks) < 0) {
		log_error("out of memory");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < nbanks; i++)
		if (banks[i].alg == TPM_ALG_SHA384)
			bank = &banks[i];
	for (int r = 0; bank && r < 4; r++) {
		if (memcmp(bank->reg[r + 1], quote->quote.body.rtmr[r], 48) != 0) {
			size_t n = 0;

			for (size_t i = 0; i < log->log.n; i++)
				n += log->log.events[i].index == (uint32_t)r + 1;
			log_error("RTMR%d differs: %s replays %zu events to a value %s does not "
				  "hold; diff the log against a reference log to find the event",
				  r, log->path, n, quote->path);
			return EXIT_REJECTED;
		}
	}
	if (!bank) {
		log_error("%s has no SHA-384 bank", log->path);
		return EXIT_USAGE;
	}
	printf("%s replays to the RTMRs of %s\n", log->path, quote->path);
	return EXIT_OK;
}

int measure_diff_main(int argc, char **argv)
{
	struct input a, b;
	int rc;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		measure_help(stdout);
		return EXIT_OK;
	}
	if (argc != 3) {
		log_error("usage: cvm measure diff EXPECTED ACTUAL (logs, reference JSON, or a "
			  "log and a quote)");
		return EXIT_USAGE;
	}
	if (input_load(argv[1], &a) < 0) {
		input_free(&a);
		return EXIT_USAGE;
	}
	if (input_load(argv[2], &b) < 0) {
		input_free(&a);
		input_free(&b);
		return EXIT_USAGE;
	}
	if (a.kind == INPUT_LOG && b.kind == INPUT_LOG)
		rc = diff_logs(&a, &b);
	else if (a.kind == INPUT_JSON && b.kind == INPUT_JSON)
		rc = diff_json(&a, &b);
	else if (a.kind == INPUT_LOG && b.kind == INPUT_QUOTE)
		rc = diff_log_quote(&a, &b);
	else if (a.kind == INPUT_QUOTE && b.kind == INPUT_LOG)
		rc = diff_log_quote(&b, &a);
	else {
		log_error("cannot compare these two: give two logs, two JSON documents, or a log "
			  "and a quote");
		rc = EXIT_USAGE;
	}
	input_free(&a);
	input_free(&b);
	return rc;
}
