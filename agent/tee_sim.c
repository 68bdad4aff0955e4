/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sim TEE backend, for machines without TEE hardware: an SEV-SNP
 * report (ABI 56860 Table 23) or a TDX quote v4 (Intel DCAP, App. A) in
 * the exact byte format, signed by the test PKI of scripts/gen-test-pki
 * (SNP: P-384 VCEK under RSA-4096 PSS ASK/ARK; TDX: P-256 PCK chain, QE
 * report and attestation key). Linked into test builds only: production
 * binaries do not contain it, and verifiers accept its roots only when told.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

struct sim {
	struct tee tee;
	bool tdx;
	EVP_PKEY *key;		/* SNP: VCEK; TDX: attestation key */
	EVP_PKEY *pck;		/* TDX */
	struct snp_certs certs; /* SNP: VCEK and ASK */
	uint8_t *chain;		/* TDX: PCK chain PEM */
	size_t chain_len;
	uint8_t chip_id[64];
	uint8_t measurement[48];
};

static EVP_PKEY *load_key(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	return k;
}

/* ECDSA over msg with r and s big-endian, n bytes each. */
static int sign_raw(EVP_PKEY *k, const EVP_MD *md, const void *msg, size_t len, uint8_t *r,
		    uint8_t *s, size_t n)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t der[160];
	const uint8_t *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *sig = NULL;
	int ok = c && EVP_DigestSignInit(c, NULL, md, NULL, k) == 1 &&
		 EVP_DigestSign(c, der, &dlen, msg, len) == 1 &&
		 (sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) &&
		 BN_bn2binpad(ECDSA_SIG_get0_r(sig), r, (int)n) == (int)n &&
		 BN_bn2binpad(ECDSA_SIG_get0_s(sig), s, (int)n) == (int)n;

	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	return ok ? 0 : -EIO;
}

static int snp_evidence(struct sim *s, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	/* The test VCEK's TCB (scripts/test-pki/snp): boot loader 4, TEE 1, SNP 22, ucode 213. */
	const uint64_t tcb = 4ull | 1ull << 8 | 22ull << 48 | 213ull << 56;
	uint8_t rep[SNP_REPORT_SIZE] = { 0 }, r[48], sv[48];
	cJSON *o, *chain;

	put_le(rep + 0x000, 3, 4);
	put_le(rep + 0x008, 0x30000, 8);
	put_le(rep + 0x034, 1, 4);
	put_le(rep + 0x038, tcb, 8);
	memcpy(rep + 0x050, rd, 64);
	memcpy(rep + 0x090, s->measurement, 48);
	put_le(rep + 0x180, tcb, 8);
	rep[0x188] = 0x19; /* Milan: family 19h, model 01h */
	rep[0x189] = 0x01;
	rep[0x18A] = 0x01;
	memcpy(rep + 0x1A0, s->chip_id, 64);
	put_le(rep + 0x1E0, tcb, 8);
	put_le(rep + 0x1F0, tcb, 8);
	if (sign_raw(s->key, EVP_sha384(), rep, SNP_REPORT_SIGNED_SIZE, r, sv, 48) < 0)
		return set_error(err, errlen, -EIO, "sim: cannot sign the report");
	for (int i = 0; i < 48; i++) {
		rep[0x2A0 + i] = r[47 - i];
		rep[0x2E8 + i] = sv[47 - i];
	}
	o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	chain = snp_certs_to_sev_json(&s->certs, false);
	if (!cJSON_AddItemToObject(o, "attestation_report", snp_report_to_sev_json(rep)) ||
	    !chain || !cJSON_AddItemToObject(o, "cert_chain", chain)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

/* RTMR3 as hardware would hold it after the extends of the runtime log. */
static int sim_rtmr3(const struct tee *t, uint8_t out[48], char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	struct evlog log;
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	size_t len, nb = 0;
	char why[160];

	memset(out, 0, 48);
	if (!t->cfg.runtime_log)
		return 0;
	if (file_read(t->cfg.runtime_log, CVM_CAP_JSON, &text, &len) < 0 ||
	    evlog_parse_cel_json((char *)text, len, &log, why, sizeof(why)) < 0)
		return set_error(err, errlen, -EINVAL, "sim: runtime log unreadable");
	if (evlog_replay(&log, banks, &nb) == 0)
		for (size_t b = 0; b < nb; b++)
			if (banks[b].alg == TPM_ALG_SHA384)
				memcpy(out, banks[b].reg[4], 48);
	evlog_free(&log);
	return 0;
}

static int tdx_evidence(struct sim *s, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	const size_t auth_len = 32;
	size_t cert_len = 384 + 64 + 2 + auth_len + 2 + 4 + s->chain_len;
	size_t sig_len = 64 + 64 + 2 + 4 + cert_len, total = 48 + 584 + 4 + sig_len, o;
	_cleanup_free_ uint8_t *q = calloc(1, total);
	_cleanup_free_ char *b64 = NULL;
	uint8_t *body, *qe, xy[64], digest[32], auth[32];
	unsigned dlen = 0;
	EVP_MD_CTX *c;
	cJSON *ev;
	int r;

	if (!q)
		return -ENOMEM;
	q[0] = 4;
	q[2] = 2; /* ECDSA-256 with P-256 */
	put_le(q + 4, 0x81, 4);
	memcpy(q + 12, "\x93\x9a\x72\x33\xf7\x9c\x4c\xa9\x94\x0a\x0d\xb3\x95\x7f\x06\x07", 16);
	body = q + 48;
	body[0] = 3;
	body[2] = 5;
	body[120 + 3] = 0x10; /* SEPT_VE_DISABLE */
	memcpy(body + 136, s->measurement, 48);
	r = sim_rtmr3(&s->tee, body + 328 + 48 * 3, err, errlen);
	if (r < 0)
		return r;
	memcpy(body + 520, rd, 64);
	o = 48 + 584;
	put_le(q + o, (uint32_t)sig_len, 4);
	o += 4;
	if (sign_raw(s->key, EVP_sha256(), q, 48 + 584, q + o, q + o + 32, 32) < 0 ||
	    p256_key_xy(s->key, xy) < 0)
		return set_error(err, errlen, -EIO, "sim: cannot sign the quote");
	memcpy(q + o + 64, xy, 64);
	o += 128;
	q[o] = 6;
	put_le(q + o + 2, (uint32_t)cert_len, 4);
	o += 6;
	qe = q + o;
	qe[256] = 2; /* ISVPRODID of the TD QE */
	qe[258] = 4; /* ISVSVN */
	memset(auth, 0x5a, sizeof(auth));
	c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, xy, 64) != 1 || EVP_DigestUpdate(c, auth, sizeof(auth)) != 1 ||
	    EVP_DigestFinal_ex(c, digest, &dlen) != 1) {
		EVP_MD_CTX_free(c);
		return -ENOMEM;
	}
	EVP_MD_CTX_free(c);
	memcpy(qe + 320, digest, 32);
	if (sign_raw(s->pck, EVP_sha256(), qe, 384, qe + 384, qe + 384 + 32, 32) < 0)
		return set_error(err, errlen, -EIO, "sim: cannot sign the QE report");
	qe[448] = (uint8_t)auth_len;
	memcpy(qe + 450, auth, auth_len);
	qe[450 + auth_len] = 5;
	put_le(qe + 452 + auth_len, (uint32_t)s->chain_len, 4);
	memcpy(qe + 456 + auth_len, s->chain, s->chain_len);
	if (base64_encode(q, total, BASE64_STD, &b64) < 0 || !(ev = cJSON_CreateObject()))
		return -ENOMEM;
	cJSON_AddNullToObject(ev, "cc_eventlog");
	if (!cJSON_AddStringToObject(ev, "quote", b64)) {
		cJSON_Delete(ev);
		return -ENOMEM;
	}
	*out = ev;
	return 0;
}

static int sim_evidence(struct tee *t, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	struct sim *s = (struct sim *)t;
	int r = s->tdx ? tdx_evidence(s, rd, out, err, errlen)
		       : snp_evidence(s, rd, out, err, errlen);

	if (r == 0 && (r = tee_add_runtime_log(t, *out, err, errlen)) < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return r;
}

/* The sim's RTMR3 is the replay of the runtime log (sim_rtmr3): nothing else to hold. */
static int sim_extend(struct tee *t, const uint8_t *digest, size_t len, char *err, size_t errlen)
{
	(void)t;
	(void)digest;
	return len == 48 ? 0 : set_error(err, errlen, -EINVAL, "E_MEASURE: RTMR3 takes SHA-384");
}

static void sim_close(struct tee *t)
{
	struct sim *s = (struct sim *)t;

	EVP_PKEY_free(s->key);
	EVP_PKEY_free(s->pck);
	snp_certs_free(&s->certs);
	free(s->chain);
	free(s);
}

int tee_sim_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	struct sim *s = calloc(1, sizeof(*s));
	char dir[1024];
	const char *pki = cfg->sim_pki ? cfg->sim_pki : getenv("CVM_SIM_PKI");

	if (!s)
		return -ENOMEM;
	s->tee = (struct tee){
		.name = "sim", .evidence = sim_evidence, .close = sim_close, .cfg = *cfg
	};
	s->tdx = !cfg->sim_platform || !strcmp(cfg->sim_platform, "tdx");
	if (!s->tdx && strcmp(cfg->sim_platform, "snp")) {
		free(s);
		return set_error(err, errlen, -EINVAL, "sim: platform must be snp or tdx");
	}
	s->tee.kbs_tee = s->tdx ? "tdx" : "snp";
	if (s->tdx) {
		s->tee.extend = sim_extend;
		s->tee.runtime = PLATFORM_TDX;
	}
	if (!pki) {
		free(s);
		return set_error(err, errlen, -EINVAL,
				 "sim: no test PKI (CVM_SIM_PKI or --sim-pki)");
	}
	for (int i = 0; i < 48; i++)
		s->measurement[i] = (uint8_t)(s->tdx ? i : 0xa0 + i);
	if (cfg->sim_measurement &&
	    hex_decode_exact(cfg->sim_measurement, s->measurement, 48) < 0) {
		free(s);
		return set_error(err, errlen, -EINVAL, "sim: measurement must be 48 bytes of hex");
	}
	snprintf(dir, sizeof(dir), "%s/%s", pki, s->tdx ? "tdx" : "snp");
	if (s->tdx) {
		s->key = load_key(dir, "ak.key");
		s->pck = load_key(dir, "pck.key");
		if (file_read_at(dir, "pck-chain.pem", CVM_CAP_CERT, &s->chain, &s->chain_len) < 0)
			s->chain = NULL;
	} else {
		_cleanup_free_ uint8_t *pem = NULL, *hex = NULL;
		size_t n;

		s->key = load_key(dir, "vcek.key");
		if (file_read_at(dir, "vcek.pem", CVM_CAP_CERT, &pem, &n) == 0)
			x509_load_one(pem, n, &s->certs.vcek);
		free(pem);
		pem = NULL;
		if (file_read_at(dir, "ask.pem", CVM_CAP_CERT, &pem, &n) == 0)
			x509_load_one(pem, n, &s->certs.ask);
		if (file_read_at(dir, "chip_id.hex", 1024, &hex, &n) == 0) {
			while (n && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
				hex[--n] = 0;
			hex_decode_exact((char *)hex, s->chip_id, 64);
		}
	}
	if (!s->key || (s->tdx ? !s->pck || !s->chain : !s->certs.vcek || !s->certs.ask)) {
		sim_close(&s->tee);
		return set_error(err, errlen, -ENOENT, "sim: test PKI incomplete in %s", dir);
	}
	*out = &s->tee;
	return 0;
}
