/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event logs: the TCG2 crypto-agile format (TCG PC Client Platform Firmware
 * Profile Specification, §10.2: TCG_EfiSpecIdEvent, TCG_PCR_EVENT2), which
 * both a TPM's binary_bios_measurements and the TDX CCEL use, and the TCG
 * Canonical Event Log in its JSON encoding (TCG CEL specification, §5).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "measurement/measurement.h"

#define EV_NO_ACTION 0x3

static const struct {
	uint32_t type;
	const char *name;
} type_names[] = {
	/* TCG PC Client PFP, Table 9 "Events" */
	{ 0x00, "EV_PREBOOT_CERT" },
	{ 0x01, "EV_POST_CODE" },
	{ 0x02, "EV_UNUSED" },
	{ 0x03, "EV_NO_ACTION" },
	{ 0x04, "EV_SEPARATOR" },
	{ 0x05, "EV_ACTION" },
	{ 0x06, "EV_EVENT_TAG" },
	{ 0x07, "EV_S_CRTM_CONTENTS" },
	{ 0x08, "EV_S_CRTM_VERSION" },
	{ 0x09, "EV_CPU_MICROCODE" },
	{ 0x0a, "EV_PLATFORM_CONFIG_FLAGS" },
	{ 0x0b, "EV_TABLE_OF_DEVICES" },
	{ 0x0c, "EV_COMPACT_HASH" },
	{ 0x0d, "EV_IPL" },
	{ 0x0e, "EV_IPL_PARTITION_DATA" },
	{ 0x0f, "EV_NONHOST_CODE" },
	{ 0x10, "EV_NONHOST_CONFIG" },
	{ 0x11, "EV_NONHOST_INFO" },
	{ 0x12, "EV_OMIT_BOOT_DEVICE_EVENTS" },
	{ 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
	{ 0x80000002, "EV_EFI_VARIABLE_BOOT" },
	{ 0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION" },
	{ 0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER" },
	{ 0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
	{ 0x80000006, "EV_EFI_GPT_EVENT" },
	{ 0x80000007, "EV_EFI_ACTION" },
	{ 0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
	{ 0x80000009, "EV_EFI_HANDOFF_TABLES" },
	{ 0x8000000a, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
	{ 0x8000000b, "EV_EFI_HANDOFF_TABLES2" },
	{ 0x8000000c, "EV_EFI_VARIABLE_BOOT2" },
	{ 0x80000010, "EV_EFI_HCRTM_EVENT" },
	{ 0x800000e0, "EV_EFI_VARIABLE_AUTHORITY" },
	{ 0x800000e1, "EV_EFI_SPDM_FIRMWARE_BLOB" },
	{ 0x800000e2, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
};

const char *evlog_type_name(uint32_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return "EV_UNKNOWN";
}

static const struct {
	uint16_t alg;
	uint16_t size;
	const char *name;
	const char *md;
} algs[] = {
	{ TPM_ALG_SHA1, 20, "sha1", "SHA1" },
	{ TPM_ALG_SHA256, 32, "sha256", "SHA256" },
	{ TPM_ALG_SHA384, 48, "sha384", "SHA384" },
	{ TPM_ALG_SHA512, 64, "sha512", "SHA512" },
};

static int alg_index(uint16_t alg)
{
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return (int)i;
	return -1;
}

const char *evlog_alg_name(uint16_t alg)
{
	int i = alg_index(alg);

	return i < 0 ? "unknown" : algs[i].name;
}

void evlog_register_name(enum evlog_format f, uint32_t index, char *out, size_t cap)
{
	if (f == EVLOG_CCEL)
		snprintf(out, cap, index == 0 ? "MRTD" : "RTMR%u", index - 1);
	else
		snprintf(out, cap, "PCR%u", index);
}

void evlog_free(struct evlog *log)
{
	free(log->events);
	cJSON_Delete(log->json);
	memset(log, 0, sizeof(*log));
}

#define fail(err, errlen, ...) set_error(err, errlen, -EBADMSG, __VA_ARGS__)

static int push(struct evlog *log, const struct evlog_event *e, char *err, size_t errlen)
{
	if (log->n == EVLOG_MAX_EVENTS)
		return fail(err, errlen, "more than %d events", EVLOG_MAX_EVENTS);
	if (log->n % 64 == 0) {
		struct evlog_event *ev = realloc(log->events, (log->n + 64) * sizeof(*ev));

		if (!ev)
			return -ENOMEM;
		log->events = ev;
	}
	log->events[log->n++] = *e;
	return 0;
}

/* "Spec ID Event03" header: TCG PC Client PFP §10.4.5.1, TCG_EfiSpecIdEvent. */
static int parse_spec_id(struct span ev, struct evlog *log, char *err, size_t errlen)
{
	static const char sig[16] = "Spec ID Event03";
	uint8_t signature[16], uintn, vendor;
	uint32_t platform, nalgs;

	if (span_copy(&ev, signature, 16) < 0 || memcmp(signature, sig, 16) != 0)
		return fail(err, errlen, "event 0: not a crypto-agile log (no Spec ID Event03)");
	if (span_u32le(&ev, &platform) < 0 || span_skip(&ev, 3) < 0 || span_u8(&ev, &uintn) < 0 ||
	    span_u32le(&ev, &nalgs) < 0)
		return fail(err, errlen, "event 0: Spec ID event truncated");
	if (nalgs == 0 || nalgs > EVLOG_MAX_ALGS)
		return fail(err, errlen, "event 0: %u digest algorithms (1 to %d supported)", nalgs,
			    EVLOG_MAX_ALGS);
	for (uint32_t i = 0; i < nalgs; i++) {
		uint16_t alg, size;
		int k;

		if (span_u16le(&ev, &alg) < 0 || span_u16le(&ev, &size) < 0)
			return fail(err, errlen, "event 0: algorithm list truncated");
		k = alg_index(alg);
		if (k < 0)
			return fail(err, errlen, "event 0: unknown digest algorithm 0x%04x", alg);
		if (size != algs[k].size)
			return fail(err, errlen, "event 0: %s digest size %u, expected %u",
				    algs[k].name, size, algs[k].size);
		for (size_t j = 0; j < log->nalgs; j++)
			if (log->algs[j] == alg)
				return fail(err, errlen, "event 0: %s listed twice", algs[k].name);
		log->algs[log->nalgs] = alg;
		log->sizes[log->nalgs++] = size;
	}
	if (span_u8(&ev, &vendor) < 0 || span_skip(&ev, vendor) < 0 || ev.len != 0)
		return fail(err, errlen, "event 0: vendor info size disagrees with the event size");
	return 0;
}

/* TCG PC Client PFP §10.4.5.3: StartupLocality sets PCR0's initial value. */
static void note_startup_locality(struct evlog *log, const struct evlog_event *e)
{
	static const char sig[16] = "StartupLocality";

	if (e->type == EV_NO_ACTION && e->index == 0 && e->data.len == 17 &&
	    memcmp(e->data.p, sig, 16) == 0)
		log->startup_locality = e->data.p[16];
}

static int parse_tcg2(const uint8_t *buf, size_t len, enum evlog_format f, struct evlog *log,
		      char *err, size_t errlen)
{
	struct span s = span_make(buf, len), ev;
	uint32_t index, type, size;
	int r;

	memset(log, 0, sizeof(*log));
	log->format = f;
	/* Event 0 is a TCG_PCClientPCREvent: SHA-1 sized digest of zeros. */
	if (span_u32le(&s, &index) < 0 || span_u32le(&s, &type) < 0 || span_skip(&s, 20) < 0 ||
	    span_u32le(&s, &size) < 0 || span_take(&s, size, &ev) < 0)
		return fail(err, errlen, "event 0: truncated");
	if (type != EV_NO_ACTION)
		return fail(err, errlen, "event 0: type 0x%x, expected EV_NO_ACTION", type);
	r = parse_spec_id(ev, log, err, errlen);
	if (r < 0)
		return r;

	for (size_t n = 1; s.len > 0; n++) {
		struct evlog_event e = { .recnum = n };
		uint32_t count;

		/* The rest of a CCEL area is 0xFF (or zero) past the last event, and only that. */
		if (s.len < 8 || le32(s.p) == 0xffffffff || is_zero(s.p, s.len)) {
			size_t k = 0;

			while (k < s.len && s.p[k] == 0xff)
				k++;
			if (k < s.len && !is_zero(s.p, s.len))
				return fail(err, errlen, "event %zu: bytes after the log's end", n);
			break;
		}
		span_u32le(&s, &e.index);
		span_u32le(&s, &e.type);
		if (e.index >= EVLOG_MAX_INDEX)
			return fail(err, errlen, "event %zu: register index %u out of range", n,
				    e.index);
		if (span_u32le(&s, &count) < 0)
			return fail(err, errlen, "event %zu: truncated before its digests", n);
		if (count != log->nalgs)
			return fail(err, errlen, "event %zu: %u digests, the log declares %zu", n,
				    count, log->nalgs);
		for (uint32_t i = 0; i < count; i++) {
			struct evlog_digest *d = &e.digests[i];
			size_t k;

			if (span_u16le(&s, &d->alg) < 0)
				return fail(err, errlen, "event %zu: truncated in its digests", n);
			for (k = 0; k < log->nalgs && log->algs[k] != d->alg; k++)
				;
			if (k == log->nalgs)
				return fail(err, errlen,
					    "event %zu: digest algorithm 0x%04x not declared", n,
					    d->alg);
			d->len = (uint8_t)log->sizes[k];
			if (span_copy(&s, d->d, d->len) < 0)
				return fail(err, errlen, "event %zu: truncated in its digests", n);
		}
		e.ndigests = count;
		if (span_u32le(&s, &size) < 0 || span_take(&s, size, &e.data) < 0)
			return fail(err, errlen, "event %zu: event size %u exceeds the log", n,
				    size);
		note_startup_locality(log, &e);
		r = push(log, &e, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int evlog_parse_tcg2(const uint8_t *buf, size_t len, enum evlog_format f, struct evlog *log,
		     char *err, size_t errlen)
{
	int r = parse_tcg2(buf, len, f, log, err, errlen);

	/* A log that fails to parse leaves nothing allocated behind. */
	if (r < 0)
		evlog_free(log);
	return r;
}

/* ---- CEL-JSON ---- */

static uint16_t alg_from_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(algs); i++)
		if (strcmp(name, algs[i].name) == 0)
			return algs[i].alg;
	return 0;
}

/*
 * One record: {"recnum": n, "pcr": n, "digests": [{"hashAlg": "sha256",
 * "digest": hex}], "content_type": ..., "content": {...}}. cvm writes
 * RTMRs as "rtmr": n (0-3), which replay as CCEL indexes 1-4.
 */
static int parse_record(const cJSON *rec, size_t n, struct evlog *log, char *err, size_t errlen)
{
	struct evlog_event e = { .recnum = n };
	const cJSON *digests, *d, *content;
	uint64_t x;

	if (!cJSON_IsObject(rec))
		return fail(err, errlen, "record %zu: not an object", n);
	if (json_get_u64(rec, "recnum", &x) == 0)
		e.recnum = x;
	if (json_get_u64(rec, "pcr", &x) == 0) {
		if (log->format == EVLOG_CCEL)
			return fail(err, errlen, "record %zu: PCR and RTMR records mixed", n);
		if (x >= EVLOG_MAX_INDEX)
			return fail(err, errlen, "record %zu: PCR %llu out of range", n,
				    (unsigned long long)x);
		e.index = (uint32_t)x;
	} else if (json_get_u64(rec, "rtmr", &x) == 0) {
		if (x > 3 || (n > 0 && log->format != EVLOG_CCEL && log->n > 0))
			return fail(err, errlen, "record %zu: bad RTMR index", n);
		log->format = EVLOG_CCEL;
		e.index = (uint32_t)x + 1;
	} else {
		return fail(err, errlen, "record %zu: no \"pcr\" or \"rtmr\"", n);
	}
	digests = cJSON_GetObjectItemCaseSensitive(rec, "digests");
	if (!cJSON_IsArray(digests) || cJSON_GetArraySize(digests) < 1 ||
	    cJSON_GetArraySize(digests) > EVLOG_MAX_ALGS)
		return fail(err, errlen, "record %zu: \"digests\" must hold 1 to %d digests", n,
			    EVLOG_MAX_ALGS);
	cJSON_ArrayForEach(d, digests) {
		struct evlog_digest *dg = &e.digests[e.ndigests];
		const char *name = NULL;
		int k;

		json_get_string(d, "hashAlg", &name);
		dg->alg = alg_from_name(name);
		k = alg_index(dg->alg);
		if (k < 0)
			return fail(err, errlen, "record %zu: unknown hashAlg", n);
		dg->len = (uint8_t)algs[k].size;
		if (json_get_hex(d, "digest", dg->d, dg->len) < 0)
			return fail(err, errlen, "record %zu: %s digest must be %u bytes of hex", n,
				    algs[k].name, dg->len);
		for (uint32_t j = 0; j < e.ndigests; j++)
			if (e.digests[j].alg == dg->alg)
				return fail(err, errlen, "record %zu: %s given twice", n,
					    algs[k].name);
		e.ndigests++;
	}
	content = cJSON_GetObjectItemCaseSensitive(rec, "content");
	if (content && cJSON_IsObject(content) && json_get_u64(content, "event_type", &x) == 0 &&
	    x <= UINT32_MAX)
		e.type = (uint32_t)x;
	return push(log, &e, err, errlen);
}

int evlog_parse_cel_json(const char *text, size_t len, struct evlog *log, char *err, size_t errlen)
{
	const cJSON *rec;
	size_t n = 0;
	int r;

	memset(log, 0, sizeof(*log));
	log->format = EVLOG_CEL_JSON;
	if (json_parse(text, len, &log->json) < 0 || !cJSON_IsArray(log->json)) {
		evlog_free(log);
		return fail(err, errlen, "not a CEL-JSON array of records");
	}
	cJSON_ArrayForEach(rec, log->json) {
		r = parse_record(rec, n++, log, err, errlen);
		if (r < 0) {
			evlog_free(log);
			return r;
		}
	}
	/* The banks are those the records use. */
	for (size_t i = 0; i < log->n; i++)
		for (uint32_t j = 0; j < log->events[i].ndigests; j++) {
			uint16_t alg = log->events[i].digests[j].alg;
			size_t k;

			for (k = 0; k < log->nalgs && log->algs[k] != alg; k++)
				;
			if (k == log->nalgs && log->nalgs < EVLOG_MAX_ALGS) {
				log->algs[log->nalgs] = alg;
				log->sizes[log->nalgs++] = log->events[i].digests[j].len;
			}
		}
	return 0;
}

/* ---- replay ---- */

int evlog_replay(const struct evlog *log, struct evlog_bank banks[EVLOG_MAX_ALGS], size_t *nbanks)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	memset(banks, 0, sizeof(*banks) * EVLOG_MAX_ALGS);
	for (size_t b = 0; b < log->nalgs; b++) {
		banks[b].alg = log->algs[b];
		banks[b].len = log->sizes[b];
		/* PCR0 starts at the startup locality in its last byte (PFP §10.4.5.3). */
		if (log->format == EVLOG_TCG2)
			banks[b].reg[0][banks[b].len - 1] = log->startup_locality;
	}
	for (size_t i = 0; i < log->n && r == 0; i++) {
		const struct evlog_event *e = &log->events[i];

		if (e->type == EV_NO_ACTION)
			continue;
		for (uint32_t j = 0; j < e->ndigests && r == 0; j++) {
			const struct evlog_digest *d = &e->digests[j];
			struct evlog_bank *bank = NULL;
			EVP_MD *md;

			for (size_t b = 0; b < log->nalgs; b++)
				if (banks[b].alg == d->alg)
					bank = &banks[b];
			if (!bank)
				continue;
			md = EVP_MD_fetch(NULL, algs[alg_index(d->alg)].md, NULL);
			if (!md || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
			    EVP_DigestUpdate(ctx, bank->reg[e->index], bank->len) != 1 ||
			    EVP_DigestUpdate(ctx, d->d, d->len) != 1 ||
			    EVP_DigestFinal_ex(ctx, bank->reg[e->index], NULL) != 1)
				r = -ENOMEM;
			bank->touched[e->index] = true;
			EVP_MD_free(md);
		}
	}
	EVP_MD_CTX_free(ctx);
	*nbanks = log->nalgs;
	return r;
}

/* ---- decoded content ---- */

/* UTF-16LE (ASCII range only) to a C string; other code units become '?'. */
static void utf16_ascii(const uint8_t *p, size_t units, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < units && o + 1 < cap; i++) {
		uint16_t c = le16(p + 2 * i);

		if (c == 0)
			break;
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = 0;
}

static bool printable(struct span s)
{
	size_t n = s.len;

	while (n && s.p[n - 1] == 0)
		n--;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s.p[i] < 0x20 || s.p[i] > 0x7e)
			return false;
	return true;
}

/* UEFI_VARIABLE_DATA, TCG PC Client PFP §10.4.1: GUID, name length, data length, name, data. */
static cJSON *variable_details(struct span s)
{
	uint8_t guid[16];
	uint64_t name_len, data_len;
	char name[256], g[40];
	cJSON *o;

	if (span_copy(&s, guid, 16) < 0 || span_u64le(&s, &name_len) < 0 ||
	    span_u64le(&s, &data_len) < 0 || name_len > s.len / 2 ||
	    data_len > s.len - 2 * name_len)
		return NULL;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	snprintf(g, sizeof(g),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", guid[3],
		 guid[2], guid[1], guid[0], guid[5], guid[4], guid[7], guid[6], guid[8], guid[9],
		 guid[10], guid[11], guid[12], guid[13], guid[14], guid[15]);
	utf16_ascii(s.p, (size_t)name_len, name, sizeof(name));
	cJSON_AddStringToObject(o, "variable_guid", g);
	cJSON_AddStringToObject(o, "variable_name", name);
	cJSON_AddNumberToObject(o, "variable_data_length", (double)data_len);
	return o;
}

cJSON *evlog_event_details(const struct evlog_event *e)
{
	char buf[512];
	cJSON *o;

	switch (e->type) {
	case 0x80000001: /* EV_EFI_VARIABLE_DRIVER_CONFIG */
	case 0x80000002: /* EV_EFI_VARIABLE_BOOT */
	case 0x8000000c: /* EV_EFI_VARIABLE_BOOT2 */
	case 0x800000e0: /* EV_EFI_VARIABLE_AUTHORITY */
		return variable_details(e->data);
	default:
		break;
	}
	if (e->type == 0x8000000b && e->data.len > 1 && e->data.p[0] < e->data.len) {
		/* EV_EFI_HANDOFF_TABLES2: a length-prefixed description first. */
		struct span d = span_make(e->data.p + 1, e->data.p[0]);

		if (!printable(d))
			return NULL;
		snprintf(buf, sizeof(buf), "%.*s", (int)d.len, (const char *)d.p);
	} else if (e->type == 0x8000000a && e->data.len > 1 && e->data.p[0] < e->data.len) {
		/* EV_EFI_PLATFORM_FIRMWARE_BLOB2: the same. */
		struct span d = span_make(e->data.p + 1, e->data.p[0]);

		if (!printable(d))
			return NULL;
		snprintf(buf, sizeof(buf), "%.*s", (int)d.len, (const char *)d.p);
	} else if (printable(e->data)) {
		/* EV_IPL, EV_EFI_ACTION, EV_EVENT_TAG text and the like. */
		snprintf(buf, sizeof(buf), "%.*s", (int)(e->data.len < 400 ? e->data.len : 400),
			 (const char *)e->data.p);
	} else {
		return NULL;
	}
	o = cJSON_CreateObject();
	if (o)
		cJSON_AddStringToObject(o, "string", buf);
	return o;
}
