/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evidence as the Trustee KBS protocol carries it ("tee-evidence" ->
 * "primary_evidence"), both directions:
 *  - snp: {"attestation_report": {...}, "cert_chain": [...] | null}, the
 *    report in the field names and nesting of the virtee `sev` crate's
 *    AttestationReport (serde), byte arrays as arrays of numbers;
 *  - tdx: {"cc_eventlog": base64 | null, "quote": base64};
 *  - tpm: {"ak_public": base64 DER, "tpm_quote": {"message": base64
 *    TPMS_ATTEST, "signature": base64 TPMT_SIGNATURE, "pcrs": [24 hex]}}.
 * Each may carry "runtime_eventlog": the CEL-JSON text of cvm's runtime
 * measurements (an extension: Trustee ignores members it does not know).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "measurement/platform.h"

/* ---- SEV-SNP: raw report <-> the sev crate's JSON ---- */

struct field {
	const char *name;
	uint16_t off, len; /* len 0: a number of size `num` */
	uint8_t num;	   /* 1, 4 or 8 bytes, little-endian in the report */
	uint8_t kind;	   /* 0 bytes/number, 1 TCB, 2 version triple, 3 optional cpuid byte */
};

/* SEV-SNP ABI (AMD 56860) Table 23, in the sev crate's member order. */
static const struct field snp_fields[] = {
	{ "version", 0x000, 0, 4, 0 },
	{ "guest_svn", 0x004, 0, 4, 0 },
	{ "policy", 0x008, 0, 8, 0 },
	{ "family_id", 0x010, 16, 0, 0 },
	{ "image_id", 0x020, 16, 0, 0 },
	{ "vmpl", 0x030, 0, 4, 0 },
	{ "sig_algo", 0x034, 0, 4, 0 },
	{ "current_tcb", 0x038, 0, 8, 1 },
	{ "plat_info", 0x040, 0, 8, 0 },
	{ "key_info", 0x048, 0, 4, 0 },
	{ "report_data", 0x050, 64, 0, 0 },
	{ "measurement", 0x090, 48, 0, 0 },
	{ "host_data", 0x0C0, 32, 0, 0 },
	{ "id_key_digest", 0x0E0, 48, 0, 0 },
	{ "author_key_digest", 0x110, 48, 0, 0 },
	{ "report_id", 0x140, 32, 0, 0 },
	{ "report_id_ma", 0x160, 32, 0, 0 },
	{ "reported_tcb", 0x180, 0, 8, 1 },
	{ "cpuid_fam_id", 0x188, 0, 1, 3 },
	{ "cpuid_mod_id", 0x189, 0, 1, 3 },
	{ "cpuid_step", 0x18A, 0, 1, 3 },
	{ "chip_id", 0x1A0, 64, 0, 0 },
	{ "committed_tcb", 0x1E0, 0, 8, 1 },
	{ "current", 0x1E8, 0, 0, 2 },
	{ "committed", 0x1EC, 0, 0, 2 },
	{ "launch_tcb", 0x1F0, 0, 8, 1 },
};

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static cJSON *byte_array(const uint8_t *p, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(p[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

static cJSON *tcb_json(uint64_t raw, bool turin)
{
	struct snp_tcb t = snp_tcb_decode(raw, turin ? SNP_PRODUCT_TURIN : SNP_PRODUCT_MILAN);
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (turin)
		cJSON_AddNumberToObject(o, "fmc", t.fmc);
	else
		cJSON_AddNullToObject(o, "fmc");
	cJSON_AddNumberToObject(o, "bootloader", t.bootloader);
	cJSON_AddNumberToObject(o, "tee", t.tee);
	cJSON_AddNumberToObject(o, "snp", t.snp);
	cJSON_AddNumberToObject(o, "microcode", t.microcode);
	return o;
}

cJSON *snp_report_to_sev_json(const uint8_t report[SNP_REPORT_SIZE])
{
	uint32_t version = le32(report);
	/* Turin (family 0x1A) moved the TCB fields; cpuid is reported from version 3. */
	bool turin = version >= 3 && report[0x188] == 0x1A;
	cJSON *o = cJSON_CreateObject(), *sig, *item;

	if (!o)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(snp_fields); i++) {
		const struct field *f = &snp_fields[i];
		const uint8_t *p = report + f->off;

		switch (f->kind) {
		case 0:
			item = f->len ? byte_array(p, f->len)
				      : cJSON_CreateNumber((double)get_le(p, f->num));
			break;
		case 1:
			item = tcb_json(get_le(p, 8), turin);
			break;
		case 2:
			item = cJSON_CreateObject();
			if (item) {
				cJSON_AddNumberToObject(item, "major", p[2]);
				cJSON_AddNumberToObject(item, "minor", p[1]);
				cJSON_AddNumberToObject(item, "build", p[0]);
			}
			break;
		default:
			item = version >= 3 ? cJSON_CreateNumber(p[0]) : cJSON_CreateNull();
			break;
		}
		if (!item || !cJSON_AddItemToObject(o, f->name, item)) {
			cJSON_Delete(item);
			goto fail;
		}
	}
	if (version >= 5) {
		cJSON_AddNumberToObject(o, "launch_mit_vector", (double)get_le(report + 0x1F8, 8));
		cJSON_AddNumberToObject(o, "current_mit_vector", (double)get_le(report + 0x200, 8));
	}
	sig = cJSON_AddObjectToObject(o, "signature");
	if (!sig || !cJSON_AddItemToObject(sig, "r", byte_array(report + 0x2A0, 72)) ||
	    !cJSON_AddItemToObject(sig, "s", byte_array(report + 0x2E8, 72)))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int get_bytes(const cJSON *o, const char *key, uint8_t *out, size_t n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *e;
	size_t i = 0;

	if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n)
		return -EBADMSG;
	cJSON_ArrayForEach(e, a) {
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 255 ||
		    e->valuedouble != (double)(int)e->valuedouble)
			return -EBADMSG;
		out[i++] = (uint8_t)e->valueint;
	}
	return 0;
}

static int get_num(const cJSON *o, const char *key, unsigned bytes, uint64_t *v)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(m) || m->valuedouble < 0 || m->valuedouble >= 9007199254740992.0 ||
	    m->valuedouble != (double)(uint64_t)m->valuedouble)
		return -EBADMSG;
	*v = (uint64_t)m->valuedouble;
	if (bytes < 8 && *v >> (8 * bytes))
		return -EBADMSG;
	return 0;
}

static int tcb_from_json(const cJSON *t, uint64_t *raw, bool *turin)
{
	const cJSON *fmc = cJSON_GetObjectItemCaseSensitive(t, "fmc");
	uint64_t bl, tee, snp, mc, f = 0;

	if (!cJSON_IsObject(t) || get_num(t, "bootloader", 1, &bl) < 0 ||
	    get_num(t, "tee", 1, &tee) < 0 || get_num(t, "snp", 1, &snp) < 0 ||
	    get_num(t, "microcode", 1, &mc) < 0)
		return -EBADMSG;
	*turin = fmc && !cJSON_IsNull(fmc);
	if (*turin) {
		if (get_num(t, "fmc", 1, &f) < 0)
			return -EBADMSG;
		*raw = f | bl << 8 | tee << 16 | snp << 24 | mc << 56;
	} else {
		*raw = bl | tee << 8 | snp << 48 | mc << 56;
	}
	return 0;
}

int snp_report_from_sev_json(const cJSON *o, uint8_t report[SNP_REPORT_SIZE], char *err,
			     size_t errlen)
{
	const cJSON *sig, *m;
	uint64_t v;
	bool turin;

	memset(report, 0, SNP_REPORT_SIZE);
	if (!cJSON_IsObject(o))
		return set_error(err, errlen, -EBADMSG, "attestation_report is not an object");
	for (size_t i = 0; i < ARRAY_SIZE(snp_fields); i++) {
		const struct field *f = &snp_fields[i];
		uint8_t *p = report + f->off;
		int r = 0;

		m = cJSON_GetObjectItemCaseSensitive(o, f->name);
		switch (f->kind) {
		case 0:
			r = f->len ? get_bytes(o, f->name, p, f->len)
				   : get_num(o, f->name, f->num, &v);
			if (r == 0 && !f->len)
				put_le(p, v, f->num);
			break;
		case 1:
			r = tcb_from_json(m, &v, &turin);
			if (r == 0)
				put_le(p, v, 8);
			break;
		case 2: {
			uint64_t a, b, c;

			r = !cJSON_IsObject(m) || get_num(m, "major", 1, &a) < 0 ||
					    get_num(m, "minor", 1, &b) < 0 ||
					    get_num(m, "build", 1, &c) < 0
				    ? -EBADMSG
				    : 0;
			if (r == 0) {
				p[0] = (uint8_t)c;
				p[1] = (uint8_t)b;
				p[2] = (uint8_t)a;
			}
			break;
		}
		default:
			if (!m || cJSON_IsNull(m))
				break;
			r = get_num(o, f->name, 1, &v);
			if (r == 0)
				p[0] = (uint8_t)v;
			break;
		}
		if (r < 0)
			return set_error(err, errlen, -EBADMSG,
					 "attestation_report.%s missing or malformed", f->name);
	}
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "current_mit_vector" : "launch_mit_vector";

		m = cJSON_GetObjectItemCaseSensitive(o, name);
		if (!m || cJSON_IsNull(m))
			continue;
		if (get_num(o, name, 8, &v) < 0)
			return set_error(err, errlen, -EBADMSG, "attestation_report.%s malformed",
					 name);
		put_le(report + 0x1F8 + 8 * i, v, 8);
	}
	sig = cJSON_GetObjectItemCaseSensitive(o, "signature");
	if (!cJSON_IsObject(sig) || get_bytes(sig, "r", report + 0x2A0, 72) < 0 ||
	    get_bytes(sig, "s", report + 0x2E8, 72) < 0)
		return set_error(err, errlen, -EBADMSG,
				 "attestation_report.signature is not {r, s} of 72 bytes each");
	return 0;
}

/* cert_chain: [{"cert_type": "VCEK"|"VLEK"|"ASK"|"ASVK"|"ARK", "data": [bytes]}] or null */
int snp_certs_from_sev_json(const cJSON *chain, struct snp_certs *c, char *err, size_t errlen)
{
	const cJSON *e;

	memset(c, 0, sizeof(*c));
	if (!chain || cJSON_IsNull(chain))
		return 0;
	if (!cJSON_IsArray(chain) || cJSON_GetArraySize(chain) > 8)
		return set_error(err, errlen, -EBADMSG, "cert_chain is not an array of entries");
	cJSON_ArrayForEach(e, chain) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "data"), *b;
		const char *type;
		_cleanup_free_ uint8_t *der = NULL;
		X509 **slot, *x = NULL;
		size_t n = 0;

		if (json_get_string(e, "cert_type", &type) < 0 || !cJSON_IsArray(d) ||
		    cJSON_GetArraySize(d) > (int)CVM_CAP_CERT)
			goto bad;
		if (!strcmp(type, "VCEK") || !strcmp(type, "VLEK"))
			slot = &c->vcek;
		else if (!strcmp(type, "ASK") || !strcmp(type, "ASVK"))
			slot = &c->ask;
		else if (!strcmp(type, "ARK"))
			slot = &c->ark;
		else
			continue; /* CRLs and vendor entries carry nothing we verify with */
		der = malloc((size_t)cJSON_GetArraySize(d) + 1);
		if (!der)
			return -ENOMEM;
		cJSON_ArrayForEach(b, d) {
			if (!cJSON_IsNumber(b) || b->valuedouble < 0 || b->valuedouble > 255)
				goto bad;
			der[n++] = (uint8_t)b->valueint;
		}
		if (*slot || x509_load_one(der, n, &x) < 0) {
			snp_certs_free(c);
			return set_error(err, errlen, -EBADMSG,
					 "cert_chain %s entry repeated or not a certificate", type);
		}
		*slot = x;
	}
	return 0;
bad:
	snp_certs_free(c);
	return set_error(err, errlen, -EBADMSG, "cert_chain entry malformed");
}

static int add_cert(cJSON *a, const char *type, X509 *c)
{
	_cleanup_free_ uint8_t *der = NULL;
	int n = i2d_X509(c, &der);
	cJSON *e = cJSON_CreateObject();

	if (n <= 0 || !e || !cJSON_AddStringToObject(e, "cert_type", type) ||
	    !cJSON_AddItemToObject(e, "data", byte_array(der, (size_t)n)) ||
	    !cJSON_AddItemToArray(a, e)) {
		cJSON_Delete(e);
		return -ENOMEM;
	}
	return 0;
}

cJSON *snp_certs_to_sev_json(const struct snp_certs *c, bool vlek)
{
	cJSON *a = cJSON_CreateArray();

	if (!a || !c->vcek || add_cert(a, vlek ? "VLEK" : "VCEK", c->vcek) < 0 ||
	    (c->ask && add_cert(a, vlek ? "ASVK" : "ASK", c->ask) < 0) ||
	    (c->ark && add_cert(a, "ARK", c->ark) < 0)) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

bool jcs_equal(const cJSON *a, const cJSON *b)
{
	_cleanup_free_ char *ta = NULL, *tb = NULL;
	size_t la, lb;

	return a && b && jcs_serialize(a, &ta, &la) == 0 && jcs_serialize(b, &tb, &lb) == 0 &&
	       la == lb && !memcmp(ta, tb, la);
}

/* ---- the primary evidence of an attest request ---- */

static int take_evidence(struct kbs_evidence *s, const cJSON *ev, char *err, size_t errlen)
{
	const struct platform *pl = platform_get(s->platform);
	const cJSON *m;

	if (!pl)
		return set_error(err, errlen, -EINVAL, "unknown platform");
	if (!cJSON_IsObject(ev))
		return set_error(err, errlen, -EBADMSG, "primary_evidence is not an object");
	m = cJSON_GetObjectItemCaseSensitive(ev, "runtime_eventlog");
	if (m && !cJSON_IsNull(m)) {
		if (!cJSON_IsString(m) || strlen(m->valuestring) > 256 * 1024)
			return set_error(err, errlen, -EBADMSG, "runtime_eventlog malformed");
		if (!(s->runtime_log = strdup(m->valuestring)))
			return -ENOMEM;
	}
	return pl->parse(ev, s, err, errlen);
}

void kbs_evidence_free(struct kbs_evidence *s)
{
	free(s->raw);
	free(s->extra);
	free(s->pcrs);
	free(s->runtime_log);
	free(s->hcl);
	free(s->td_quote);
	EVP_PKEY_free(s->ak);
	snp_certs_free(&s->certs);
	memset(s, 0, sizeof(*s));
}

int kbs_evidence_parse(enum cvm_platform tee, const cJSON *ev, struct kbs_evidence *s, char *err,
		       size_t errlen)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->platform = tee;
	r = take_evidence(s, ev, err, errlen);
	if (r < 0)
		kbs_evidence_free(s);
	return r;
}

int kbs_tee_parse(const char *name, enum cvm_platform *out)
{
	const struct platform *pl = platform_by_kbs_tee(name);

	if (!pl)
		return -EINVAL;
	*out = pl->id;
	return 0;
}

/* ---- the broker's requests ---- */

int kbs_auth_request_parse(const char *body, size_t len, enum cvm_platform *tee,
			   const char **problem, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	const char *version, *name;
	const cJSON *extra;

	*problem = "InvalidRequest";
	if (!body || json_parse(body, len, &j) < 0 || !cJSON_IsObject(j))
		return set_error(err, errlen, -EBADMSG, "the body is not a JSON object");
	if (json_get_string(j, "version", &version) < 0 || strcmp(version, KBS_PROTOCOL_VERSION)) {
		*problem = "ProtocolVersion";
		return set_error(err, errlen, -EPROTO,
				 "protocol version must be " KBS_PROTOCOL_VERSION);
	}
	if (json_get_string(j, "tee", &name) < 0 || kbs_tee_parse(name, tee) < 0) {
		char names[128] = "";
		size_t o = 0;

		for (size_t i = 0; platform_at(i) && o < sizeof(names); i++) {
			int w = snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
					 platform_at(i)->kbs_tee);

			if (w < 0)
				break;
			o += (size_t)w;
		}
		*problem = "UnsupportedTee";
		return set_error(err, errlen, -EPROTONOSUPPORT, "tee must be one of %s", names);
	}
	extra = cJSON_GetObjectItemCaseSensitive(j, "extra-params");
	if (extra && !cJSON_IsObject(extra) && !cJSON_IsString(extra))
		return set_error(err, errlen, -EBADMSG, "extra-params malformed");
	return 0;
}

int kbs_attest_request_parse(const char *body, size_t len, cJSON **root, const char **nonce,
			     const cJSON **jwk, const cJSON **primary, char *err, size_t errlen)
{
	const cJSON *rt, *te, *add;
	cJSON *j = NULL;

	if (!body || json_parse(body, len, &j) < 0 || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return set_error(err, errlen, -EBADMSG, "the body is not a JSON object");
	}
	rt = cJSON_GetObjectItemCaseSensitive(j, "runtime-data");
	te = cJSON_GetObjectItemCaseSensitive(j, "tee-evidence");
	*jwk = rt ? cJSON_GetObjectItemCaseSensitive(rt, "tee-pubkey") : NULL;
	*primary = te ? cJSON_GetObjectItemCaseSensitive(te, "primary_evidence") : NULL;
	add = te ? cJSON_GetObjectItemCaseSensitive(te, "additional_evidence") : NULL;
	if (!cJSON_IsObject(rt) || !cJSON_IsObject(te) || json_get_string(rt, "nonce", nonce) < 0 ||
	    !cJSON_IsObject(*jwk) || !cJSON_IsObject(*primary)) {
		cJSON_Delete(j);
		return set_error(err, errlen, -EBADMSG,
				 "runtime-data {nonce, tee-pubkey} and tee-evidence "
				 "{primary_evidence} are required");
	}
	/* Device evidence is not verified here: a request that carries some is refused. */
	if (add && !(cJSON_IsString(add) && !*add->valuestring) && !cJSON_IsNull(add)) {
		cJSON_Delete(j);
		return set_error(err, errlen, -EBADMSG,
				 "additional_evidence is not supported and must be empty");
	}
	*root = j;
	return 0;
}
