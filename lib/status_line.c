/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's status line, written by the guest and read by the host (lib/status_line.h). */
#include <errno.h>
#include <string.h>

#include <cJSON.h>

#include "lib/lib.h"
#include "lib/status_line.h"

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGIT "0123456789"

char *status_line_format(uint64_t t_ms, const char *phase, bool ok, const char *code,
			 const char *detail, cJSON *extra)
{
	cJSON *o = cJSON_CreateObject(), *m;
	char *text = NULL;

	if (o && cJSON_AddNumberToObject(o, STATUS_MEMBER_T, (double)t_ms) &&
	    cJSON_AddStringToObject(o, STATUS_MEMBER_PHASE, phase) &&
	    cJSON_AddBoolToObject(o, STATUS_MEMBER_OK, ok) &&
	    (!code || cJSON_AddStringToObject(o, STATUS_MEMBER_CODE, code)) &&
	    (!detail || cJSON_AddStringToObject(o, STATUS_MEMBER_DETAIL, detail))) {
		while (extra && (m = extra->child)) {
			cJSON_DetachItemViaPointer(extra, m);
			cJSON_AddItemToObject(o, m->string, m);
		}
		text = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(extra);
	cJSON_Delete(o);
	return text;
}

/* 1 to cap - 1 bytes, the first of 'first', the rest of 'rest'. */
static bool word_valid(const char *s, const char *first, const char *rest, size_t cap)
{
	size_t n = strlen(s);

	return n > 0 && n < cap && strchr(first, s[0]) && strspn(s + 1, rest) == n - 1;
}

bool status_phase_valid(const char *s)
{
	return word_valid(s, LOWER, LOWER DIGIT "_-", STATUS_PHASE_MAX);
}

bool status_code_valid(const char *s)
{
	return !strncmp(s, "E_", 2) && word_valid(s, "E", UPPER DIGIT "_", STATUS_CODE_MAX);
}

/* A copy of a guest string for a terminal: printable ASCII, at most STATUS_DETAIL_SHOWN of it. */
static void sanitize(const char *s, char out[STATUS_DETAIL_SHOWN + 4])
{
	size_t i;

	for (i = 0; s[i] && i < STATUS_DETAIL_SHOWN; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	memcpy(out + i, s[i] ? "..." : "", s[i] ? 4 : 1);
}

/* The optional members cvm run shows; a value out of shape is left out, not refused. */
static void status_line_extras(const cJSON *root, struct status_line *sl)
{
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "state");
	const cJSON *ec = cJSON_GetObjectItemCaseSensitive(root, "exit_code");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(root, "runtime_ms");
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "cert_sha256");

	sl->exit_code = -1;
	sl->runtime_ms = -1;
	/* an input name: [a-z0-9][a-z0-9_-]*, at most 32 (docs/order.md) */
	if (cJSON_IsString(in) && in->valuestring[0] &&
	    strlen(in->valuestring) < sizeof(sl->input) &&
	    strspn(in->valuestring, "abcdefghijklmnopqrstuvwxyz0123456789_-") ==
		    strlen(in->valuestring))
		memcpy(sl->input, in->valuestring, strlen(in->valuestring) + 1);
	sl->started = cJSON_IsString(st) && !strcmp(st->valuestring, "started");
	if (cJSON_IsNumber(ec) && ec->valuedouble >= 0 && ec->valuedouble <= 255 &&
	    ec->valuedouble == (int)ec->valuedouble)
		sl->exit_code = (int)ec->valuedouble;
	if (cJSON_IsNumber(rt) && rt->valuedouble >= 0 && rt->valuedouble < STATUS_T_MAX)
		sl->runtime_ms = rt->valuedouble;
	if (cJSON_IsString(cs) && strlen(cs->valuestring) == 64 &&
	    strspn(cs->valuestring, "0123456789abcdef") == 64)
		memcpy(sl->cert_sha256, cs->valuestring, 65);
}

int status_line_parse(const char *text, size_t n, struct status_line *sl)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	const cJSON *t, *d;
	const char *phase, *code = NULL;

	memset(sl, 0, sizeof(*sl));
	sl->t = -1;
	if (json_parse(text, n, &root) < 0 || !cJSON_IsObject(root) ||
	    json_get_string(root, STATUS_MEMBER_PHASE, &phase) < 0 ||
	    json_get_bool(root, STATUS_MEMBER_OK, &sl->ok) < 0 || !status_phase_valid(phase))
		return -EBADMSG;
	if (cJSON_GetObjectItemCaseSensitive(root, STATUS_MEMBER_CODE) &&
	    (json_get_string(root, STATUS_MEMBER_CODE, &code) < 0 || !status_code_valid(code)))
		return -EBADMSG;
	d = cJSON_GetObjectItemCaseSensitive(root, STATUS_MEMBER_DETAIL);
	if (d && !cJSON_IsString(d))
		return -EBADMSG;
	t = cJSON_GetObjectItemCaseSensitive(root, STATUS_MEMBER_T);
	if (t && cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < STATUS_T_MAX)
		sl->t = t->valuedouble;
	memcpy(sl->phase, phase, strlen(phase) + 1);
	if (code)
		memcpy(sl->code, code, strlen(code) + 1);
	if (d)
		sanitize(d->valuestring, sl->detail);
	status_line_extras(root, sl);
	return 0;
}
