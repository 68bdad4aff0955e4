/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm's runtime event log: CEL-JSON records of what the agent measured into
 * TDX RTMR3 ("rtmr": 3) and TPM PCR 15 ("pcr": 15) before acting on it, one
 * record per register and event. Each record names what it measured and
 * carries the measured value:
 *   {"recnum": n, "rtmr": 3, "digests": [{"hashAlg": "sha384", "digest": H(value)}],
 *    "content_type": "cvm", "content": {"name": "luks-header", "value": hex}}
 * A PCR 15 record carries the SHA-256 digest and, when the TPM has the bank,
 * the SHA-384 one. Both registers start at zero and extend as
 * reg = H(reg || digest) (TCG PC Client PFP §2.3.4; TDX Module ABI, TDG.MR.RTMR.EXTEND).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "measurement/platform.h"

/*
 * The two registers of the log format, as a record names them, and the
 * value an event's reg holds for each; a platform's row names its runtime
 * register ("rtmr3", "pcr15") and so picks one.
 */
static const struct log_reg {
	const char *id, *label;
	enum cvm_platform reg;
	size_t len;
} log_regs[] = {
	{ "rtmr3", "RTMR3", PLATFORM_TDX, 48 },
	{ "pcr15", "PCR15", PLATFORM_TPM, 32 },
};

/* The register of platform p's runtime log; NULL when p has none. */
static const struct log_reg *log_reg_of(enum cvm_platform p)
{
	const struct platform *pl = platform_get(p);

	for (size_t i = 0; pl && pl->runtime_reg && i < ARRAY_SIZE(log_regs); i++)
		if (!strcmp(log_regs[i].id, pl->runtime_reg))
			return &log_regs[i];
	return NULL;
}

static const struct log_reg *log_reg_of_event(const struct runtime_event *e)
{
	return &log_regs[e->reg == log_regs[0].reg ? 0 : 1];
}

static cJSON *record(uint64_t recnum, bool rtmr, const char *name, const uint8_t *value, size_t n,
		     bool sha256, bool sha384)
{
	cJSON *rec = cJSON_CreateObject(), *digests, *content;
	const struct {
		bool on;
		const char *alg;
		const EVP_MD *md;
	} banks[] = { { sha256, "sha256", EVP_sha256() }, { sha384, "sha384", EVP_sha384() } };

	if (!rec)
		return NULL;
	cJSON_AddNumberToObject(rec, "recnum", (double)recnum);
	cJSON_AddNumberToObject(rec, rtmr ? "rtmr" : "pcr", rtmr ? 3 : 15);
	digests = cJSON_AddArrayToObject(rec, "digests");
	for (size_t i = 0; digests && i < ARRAY_SIZE(banks); i++) {
		uint8_t d[EVP_MAX_MD_SIZE];
		unsigned dlen = 0;
		cJSON *dg;

		if (!banks[i].on)
			continue;
		dg = cJSON_CreateObject();
		if (!dg || !cJSON_AddItemToArray(digests, dg) ||
		    EVP_Digest(value, n, d, &dlen, banks[i].md, NULL) != 1 ||
		    !cJSON_AddStringToObject(dg, "hashAlg", banks[i].alg) ||
		    !json_add_hex(dg, "digest", d, dlen))
			goto fail;
	}
	cJSON_AddStringToObject(rec, "content_type", "cvm");
	content = cJSON_AddObjectToObject(rec, "content");
	if (!digests || !content || !cJSON_AddStringToObject(content, "name", name) ||
	    !json_add_hex(content, "value", value, n))
		goto fail;
	return rec;
fail:
	cJSON_Delete(rec);
	return NULL;
}

cJSON *runtime_event_json(enum cvm_platform p, uint64_t recnum, const char *name,
			  const uint8_t *value, size_t n)
{
	const struct log_reg *g = log_reg_of(p);
	const bool rtmr = g == &log_regs[0];

	return g ? record(recnum, rtmr, name, value, n, !rtmr, rtmr) : NULL;
}

cJSON *runtime_event_pcr15_json(uint64_t recnum, const char *name, const uint8_t *value, size_t n,
				bool sha384)
{
	return record(recnum, false, name, value, n, true, sha384);
}

bool runtime_event_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > RUNTIME_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || strchr("._:-", name[i])))
			return false;
	return true;
}

/* ---- parsing ---- */

static int fail(char *err, size_t errlen, size_t i, const char *why)
{
	return set_error(err, errlen, -EBADMSG, "record %zu: %s", i, why);
}

/* Which register a record extends: exactly one of "rtmr": 3 and "pcr": 15. */
static int parse_register(const cJSON *rec, size_t i, struct runtime_event *e, char *err,
			  size_t errlen)
{
	uint64_t x;
	const bool has_rtmr = cJSON_GetObjectItemCaseSensitive(rec, "rtmr") != NULL;
	const bool has_pcr = cJSON_GetObjectItemCaseSensitive(rec, "pcr") != NULL;

	if (has_rtmr == has_pcr)
		return fail(err, errlen, i, "needs one of \"rtmr\" and \"pcr\"");
	if (has_rtmr) {
		if (json_get_u64(rec, "rtmr", &x) < 0 || x != 3)
			return fail(err, errlen, i, "extends an RTMR other than RTMR3");
		e->reg = log_regs[0].reg;
	} else {
		if (json_get_u64(rec, "pcr", &x) < 0 || x != 15)
			return fail(err, errlen, i, "extends a PCR other than PCR 15");
		e->reg = log_regs[1].reg;
	}
	return 0;
}

static int parse_content(const cJSON *rec, size_t i, struct runtime_event *e, char *err,
			 size_t errlen)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "content");
	const char *type = NULL, *name = NULL, *value = NULL;

	if (json_get_string(rec, "content_type", &type) < 0 || strcmp(type, "cvm") ||
	    json_get_string(c, "name", &name) < 0 || json_get_string(c, "value", &value) < 0)
		return fail(err, errlen, i, "content is not cvm's {name, value}");
	if (!runtime_event_name_valid(name))
		return fail(err, errlen, i, "name is not 1 to 64 of [A-Za-z0-9._:-]");
	if (hex_decode(value, e->value, sizeof(e->value), &e->len) < 0)
		return fail(err, errlen, i, "value is not hex of at most 256 bytes");
	snprintf(e->name, sizeof(e->name), "%s", name);
	return 0;
}

/* The digests a register's record must carry, each the hash of the value. */
static int parse_digests(const cJSON *rec, size_t i, struct runtime_event *e, uint8_t d256[32],
			 uint8_t d384[48], char *err, size_t errlen)
{
	const cJSON *digests = cJSON_GetObjectItemCaseSensitive(rec, "digests"), *d;
	bool seen256 = false, seen384 = false;

	if (!cJSON_IsArray(digests) || cJSON_GetArraySize(digests) < 1 ||
	    cJSON_GetArraySize(digests) > 2)
		return fail(err, errlen, i, "\"digests\" must hold one or two digests");
	cJSON_ArrayForEach(d, digests) {
		const char *alg = NULL;
		const bool is256 =
			json_get_string(d, "hashAlg", &alg) == 0 && !strcmp(alg, "sha256");
		const bool is384 = alg && !strcmp(alg, "sha384");
		uint8_t got[48], want[48];
		unsigned wl = 0;

		if ((!is256 && !is384) || (is256 && (seen256 || e->reg == log_regs[0].reg)) ||
		    (is384 && seen384))
			return fail(err, errlen, i, "digests are not those of its register");
		if (json_get_hex(d, "digest", got, is256 ? 32 : 48) < 0)
			return fail(err, errlen, i, "a digest is not hex of its algorithm's size");
		if (EVP_Digest(e->value, e->len, want, &wl, is256 ? EVP_sha256() : EVP_sha384(),
			       NULL) != 1)
			return -ENOMEM;
		if (memcmp(got, want, wl))
			return set_error(err, errlen, -EBADMSG,
					 "record %zu (%s): digest is not that of its value", i,
					 e->name);
		memcpy(is256 ? d256 : d384, got, wl);
		seen256 |= is256;
		seen384 |= is384;
	}
	if (e->reg == log_regs[1].reg && !seen256)
		return fail(err, errlen, i, "a PCR 15 record needs its SHA-256 digest");
	e->sha384 = seen384;
	return 0;
}

static int extend(uint8_t *reg, const uint8_t *d, size_t n, const EVP_MD *md)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, md, NULL) == 1 && EVP_DigestUpdate(c, reg, n) == 1 &&
		 EVP_DigestUpdate(c, d, n) == 1 && EVP_DigestFinal_ex(c, reg, NULL) == 1;

	EVP_MD_CTX_free(c);
	return ok ? 0 : -ENOMEM;
}

static int parse_record(const cJSON *rec, size_t i, struct runtime_log *log, char *err,
			size_t errlen)
{
	struct runtime_event *e = &log->events[i];
	uint8_t d256[32], d384[48];
	uint64_t recnum;
	int r;

	if (!cJSON_IsObject(rec))
		return fail(err, errlen, i, "not an object");
	/* Records are numbered in order: none left out, none moved. */
	if (json_get_u64(rec, "recnum", &recnum) < 0 || recnum != i)
		return fail(err, errlen, i, "\"recnum\" is not its position");
	e->recnum = recnum;
	if ((r = parse_register(rec, i, e, err, errlen)) < 0 ||
	    (r = parse_content(rec, i, e, err, errlen)) < 0 ||
	    (r = parse_digests(rec, i, e, d256, d384, err, errlen)) < 0)
		return r;
	if (e->reg == log_regs[0].reg) {
		log->n_rtmr3++;
		return extend(log->rtmr3, d384, 48, EVP_sha384());
	}
	/* The TPM's banks are fixed for a boot: every PCR 15 record has the same ones. */
	if (log->n_pcr15++ && e->sha384 != log->pcr15_has_sha384)
		return fail(err, errlen, i, "PCR 15 records disagree on the SHA-384 bank");
	log->pcr15_has_sha384 = e->sha384;
	if ((r = extend(log->pcr15_sha256, d256, 32, EVP_sha256())) < 0)
		return r;
	return e->sha384 ? extend(log->pcr15_sha384, d384, 48, EVP_sha384()) : 0;
}

int runtime_log_parse(const char *text, size_t len, struct runtime_log *log, char *err,
		      size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	const cJSON *rec;
	size_t i = 0;
	int r, n;

	memset(log, 0, sizeof(*log));
	if (json_parse(text, len, &root) < 0 || !cJSON_IsArray(root))
		return set_error(err, errlen, -EBADMSG, "not a CEL-JSON array of records");
	n = cJSON_GetArraySize(root);
	if (n > RUNTIME_MAX_EVENTS)
		return set_error(err, errlen, -EBADMSG, "more than %d records", RUNTIME_MAX_EVENTS);
	log->events = calloc(n ? (size_t)n : 1, sizeof(*log->events));
	if (!log->events)
		return -ENOMEM;
	cJSON_ArrayForEach(rec, root) {
		r = parse_record(rec, i, log, err, errlen);
		if (r < 0) {
			runtime_log_free(log);
			return r;
		}
		log->n = ++i;
	}
	return 0;
}

void runtime_log_free(struct runtime_log *log)
{
	free(log->events);
	memset(log, 0, sizeof(*log));
}

/* ---- checking ---- */

const char *runtime_event_register(const struct runtime_event *e)
{
	return log_reg_of_event(e)->id;
}

bool runtime_event_binds(const struct runtime_event *e, enum cvm_platform p)
{
	return log_reg_of(p) == log_reg_of_event(e);
}

cJSON *runtime_event_to_json(const struct runtime_event *e)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddNumberToObject(o, "recnum", (double)e->recnum) ||
	    !cJSON_AddStringToObject(o, "register", runtime_event_register(e)) ||
	    !cJSON_AddStringToObject(o, "name", e->name) ||
	    !json_add_hex(o, "value", e->value, e->len)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void runtime_log_print(FILE *f, const struct runtime_log *log, enum cvm_platform p,
		       const char *indent)
{
	for (size_t i = 0; i < log->n; i++) {
		const struct runtime_event *e = &log->events[i];
		char hex[2 * RUNTIME_VALUE_MAX + 1];

		if (!runtime_event_binds(e, p))
			continue;
		hex_encode(e->value, e->len, hex);
		fprintf(f, "%s%-4llu %-16s %s\n", indent, (unsigned long long)e->recnum, e->name,
			hex);
	}
}

int runtime_log_check(const char *text, size_t len, enum cvm_platform p, const uint8_t *reg,
		      const uint8_t *luks_sha256, struct verdict *v)
{
	const struct log_reg *g = log_reg_of(p);
	struct runtime_log log;
	char err[160];
	size_t n = 0;
	bool luks_seen = false, luks_match = false;
	int r;

	if (!g)
		return verdict_fail(v, CHECK_RUNTIME_LOG, "%s has no runtime register",
				    platform_name(p));
	r = runtime_log_parse(text, len, &log, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return verdict_fail(v, CHECK_RUNTIME_LOG, "runtime event log: %s", err);
	/* Only the records of the register the evidence holds count: the others bind nothing. */
	for (size_t i = 0; i < log.n; i++) {
		const struct runtime_event *e = &log.events[i];
		static const char *const first[] = { "agent-version", "agent-config" };

		if (e->reg != g->reg)
			continue;
		/* the register starts with the agent: nothing ran and measured before it */
		if (n < ARRAY_SIZE(first) && strcmp(e->name, first[n])) {
			verdict_fail(v, CHECK_RUNTIME_LOG,
				     "runtime event log: %s event %zu is \"%.64s\", not \"%s\": "
				     "the log must start with the agent",
				     g->label, n, e->name, first[n]);
			runtime_log_free(&log);
			return -1;
		}
		n++;
		if (strcmp(e->name, "luks-header"))
			continue;
		luks_seen = true;
		/* one event per input of the order: the policy's volume must be one of them */
		if (luks_sha256 && e->len == 32 && !memcmp(e->value, luks_sha256, 32))
			luks_match = true;
	}
	r = memcmp(g == &log_regs[0] ? log.rtmr3 : log.pcr15_sha256, reg, g->len);
	runtime_log_free(&log);
	if (n < 2)
		return verdict_fail(
			v, CHECK_RUNTIME_LOG,
			"runtime event log: %s has %zu event(s): the log must start with "
			"agent-version and agent-config",
			g->label, n);
	if (r)
		return verdict_fail(v, CHECK_RUNTIME_LOG, "runtime event log does not replay to %s",
				    g->label);
	verdict_pass(v, CHECK_RUNTIME_LOG, "%zu runtime events replay to %s", n, g->label);
	if (!luks_sha256)
		return 0;
	if (!luks_seen)
		return verdict_fail(v, CHECK_LUKS_HEADER, "the guest measured no LUKS header");
	if (!luks_match)
		return verdict_fail(v, CHECK_LUKS_HEADER, "the guest measured another LUKS header");
	verdict_pass(v, CHECK_LUKS_HEADER, "the guest measured the expected LUKS header");
	return 0;
}
