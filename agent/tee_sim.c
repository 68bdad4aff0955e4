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
#include "agent/tee_sim.h"
#include "lib/lib.h"
#include "measurement/az_vtpm.h"
#include "measurement/platform.h"

struct sim {
	struct tee tee;
	bool tdx;
	EVP_PKEY *key;		/* SNP: VCEK; TDX: attestation key */
	EVP_PKEY *pck;		/* TDX */
	struct snp_certs certs; /* SNP: VCEK and ASK */
	uint8_t *chain;		/* TDX: PCK chain PEM */
	size_t chain_len;
	uint8_t chip_id[64];
	uint8_t measurement[48]; /* SNP: MEASUREMENT; TDX: MRTD */
	uint8_t rtmr[3][48];	 /* TDX: RTMR0-2 */
	uint8_t mrconfigid[48];	 /* TDX: MRCONFIGID, as the launch file sets it */
	uint8_t host_data[32];	 /* SNP: HOST_DATA, as the launch file sets it */
	uint32_t az;		 /* Azure: AZ_HCL_TYPE_SNP or _TDX; 0 otherwise */
	EVP_PKEY *vtpm_ak;	 /* Azure: the vTPM's RSA-2048 AK */
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

int sim_sign_raw(EVP_PKEY *k, const EVP_MD *md, const void *msg, size_t len, uint8_t *r, uint8_t *s,
		 size_t n)
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

int sim_snp_sign(const struct sim_snp_fields *p, EVP_PKEY *vcek, uint8_t rep[SNP_REPORT_SIZE])
{
	uint8_t r[48], sv[48];

	memset(rep, 0, SNP_REPORT_SIZE);
	put_le(rep + 0x000, p->version, 4);
	put_le(rep + 0x008, p->policy, 8);
	put_le(rep + 0x030, p->vmpl, 4);
	put_le(rep + 0x034, 1, 4); /* ECDSA P-384 with SHA-384 */
	put_le(rep + 0x038, p->reported_tcb, 8);
	put_le(rep + 0x040, p->platform_info, 8);
	put_le(rep + 0x048, p->flags, 4);
	memcpy(rep + 0x050, p->report_data, 64);
	memcpy(rep + 0x090, p->measurement, 48);
	memcpy(rep + 0x0C0, p->host_data, 32);
	put_le(rep + 0x180, p->reported_tcb, 8);
	if (p->version >= 3) {
		rep[0x188] = p->cpuid_fam;
		rep[0x189] = p->cpuid_mod;
		rep[0x18A] = p->cpuid_step;
	}
	memcpy(rep + 0x1A0, p->chip_id, 64);
	put_le(rep + 0x1E0, p->reported_tcb, 8);
	put_le(rep + 0x1F0, p->reported_tcb, 8);
	if (sim_sign_raw(vcek, EVP_sha384(), rep, SNP_REPORT_SIGNED_SIZE, r, sv, 48) < 0)
		return -EIO;
	for (int i = 0; i < 48; i++) {
		rep[0x2A0 + i] = r[47 - i];
		rep[0x2E8 + i] = sv[47 - i];
	}
	return 0;
}

static int snp_evidence(struct sim *s, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	/* The test VCEK's TCB (scripts/test-pki/snp): boot loader 4, TEE 1, SNP 24, ucode 219. */
	struct sim_snp_fields f = {
		.version = 3,
		.policy = 0x30000,
		.reported_tcb = 4ull | 1ull << 8 | 24ull << 48 | 219ull << 56,
		.cpuid_fam = 0x19, /* Milan: family 19h, model 01h */
		.cpuid_mod = 0x01,
		.cpuid_step = 0x01,
	};
	uint8_t rep[SNP_REPORT_SIZE];
	cJSON *o, *chain;

	memcpy(f.report_data, rd, 64);
	memcpy(f.measurement, s->measurement, 48);
	memcpy(f.host_data, s->host_data, 32);
	memcpy(f.chip_id, s->chip_id, 64);
	if (sim_snp_sign(&f, s->key, rep) < 0)
		return set_error(err, errlen, -EIO, "sim: cannot sign the report");
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
	struct runtime_log log;
	size_t len;
	char why[160];

	memset(out, 0, 48);
	if (!t->cfg.runtime_log)
		return 0;
	if (file_read(t->cfg.runtime_log, CVM_CAP_JSON, &text, &len) < 0 ||
	    runtime_log_parse((char *)text, len, &log, why, sizeof(why)) < 0)
		return set_error(err, errlen, -EINVAL, "sim: runtime log unreadable");
	memcpy(out, log.rtmr3, 48);
	runtime_log_free(&log);
	return 0;
}

uint8_t *sim_tdx_sign(const struct sim_tdx_fields *p, EVP_PKEY *ak, EVP_PKEY *pck,
		      const uint8_t *chain, size_t chain_len, size_t *len)
{
	const size_t auth_len = 32;
	size_t cert_len = 384 + 64 + 2 + auth_len + 2 + 4 + chain_len;
	size_t sig_len = 64 + 64 + 2 + 4 + cert_len, total = 48 + 584 + 4 + sig_len, o;
	uint8_t *q = calloc(1, total), *body, *qe, xy[64], digest[32], auth[32];
	unsigned dlen = 0;
	EVP_MD_CTX *c;

	if (!q)
		return NULL;
	/* header (Table A.3) */
	put_le(q, p->version, 2);
	put_le(q + 2, p->att_key_type, 2);
	put_le(q + 4, 0x81, 4);
	memcpy(q + 12, "\x93\x9a\x72\x33\xf7\x9c\x4c\xa9\x94\x0a\x0d\xb3\x95\x7f\x06\x07", 16);
	/* TD report body (Table A.3.2) */
	body = q + 48;
	memcpy(body + 0, p->tee_tcb_svn, 16);
	memcpy(body + 120, p->td_attributes, 8);
	memcpy(body + 136, p->mrtd, 48);
	memcpy(body + 184, p->mrconfigid, 48);
	for (int i = 0; i < 4; i++)
		memcpy(body + 328 + 48 * i, p->rtmr[i], 48);
	memcpy(body + 520, p->report_data, 64);
	o = 48 + 584;
	put_le(q + o, (uint32_t)sig_len, 4);
	o += 4;
	if (sim_sign_raw(ak, EVP_sha256(), q, 48 + 584, q + o, q + o + 32, 32) < 0 ||
	    p256_key_xy(ak, xy) < 0)
		goto fail;
	memcpy(q + o + 64, xy, 64);
	o += 128;
	q[o] = 6;
	put_le(q + o + 2, (uint32_t)cert_len, 4);
	o += 6;
	/* QE report: report_data = SHA-256(AK || auth data) || 0^32 */
	qe = q + o;
	qe[256] = 2; /* ISVPRODID of the TD QE */
	put_le(qe + 258, p->qe_isv_svn, 2);
	memset(auth, 0x5a, sizeof(auth));
	c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, xy, 64) != 1 || EVP_DigestUpdate(c, auth, sizeof(auth)) != 1 ||
	    EVP_DigestFinal_ex(c, digest, &dlen) != 1) {
		EVP_MD_CTX_free(c);
		goto fail;
	}
	EVP_MD_CTX_free(c);
	memcpy(qe + 320, digest, 32);
	if (p->break_qe_binding)
		qe[320] ^= 1;
	if (sim_sign_raw(pck, EVP_sha256(), qe, 384, qe + 384, qe + 384 + 32, 32) < 0)
		goto fail;
	put_le(qe + 448, auth_len, 2);
	memcpy(qe + 450, auth, auth_len);
	qe[450 + auth_len] = 5;
	put_le(qe + 452 + auth_len, (uint32_t)chain_len, 4);
	memcpy(qe + 456 + auth_len, chain, chain_len);
	*len = total;
	return q;
fail:
	free(q);
	return NULL;
}

static int tdx_evidence(struct sim *s, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	struct sim_tdx_fields f = {
		.version = 4,
		.att_key_type = 2, /* ECDSA-256 with P-256 */
		.tee_tcb_svn = { 3, 0, 5 },
		.td_attributes = { 0, 0, 0, 0x10 }, /* SEPT_VE_DISABLE, as real TDs run */
		.qe_isv_svn = 4,
	};
	_cleanup_free_ uint8_t *q = NULL;
	_cleanup_free_ char *b64 = NULL;
	size_t total = 0;
	cJSON *ev;
	int r;

	memcpy(f.mrtd, s->measurement, 48);
	memcpy(f.mrconfigid, s->mrconfigid, 48);
	memcpy(f.rtmr, s->rtmr, sizeof(s->rtmr));
	memcpy(f.report_data, rd, 64);
	r = sim_rtmr3(&s->tee, f.rtmr[3], err, errlen);
	if (r < 0)
		return r;
	q = sim_tdx_sign(&f, s->key, s->pck, s->chain, s->chain_len, &total);
	if (!q)
		return set_error(err, errlen, -EIO, "sim: cannot sign the quote");
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

/* ---- Azure: an HCL report and a vTPM quote (measurement/az_vtpm.h) ---- */

void sim_az_pcrs(const uint8_t measurement[48], uint8_t pcrs[24][32])
{
	memset(pcrs, 0, 24 * 32);
	for (int i = 0; i <= 9; i++) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		uint8_t idx = (uint8_t)i;

		if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(c, "cvm-sim-vtpm-pcr", 16) != 1 ||
		    EVP_DigestUpdate(c, &idx, 1) != 1 ||
		    EVP_DigestUpdate(c, measurement, 48) != 1 ||
		    EVP_DigestFinal_ex(c, pcrs[i], NULL) != 1)
			memset(pcrs[i], 0xff, 32); /* unpinnable: a reference cannot match it */
		EVP_MD_CTX_free(c);
	}
}

uint8_t *sim_tpm_quote(const uint8_t *nonce, size_t nlen, const uint8_t pcrs[24][32], size_t *len)
{
	/* TPMS_ATTEST, TPM 2.0 Part 2 10.12.12, of type TPM_ST_ATTEST_QUOTE (big-endian) */
	uint8_t *m = calloc(1, 200), digest[32];
	size_t o = 0;
	EVP_MD_CTX *c;

	if (!m || nlen > 64)
		goto fail;
	memcpy(m, "\xff\x54\x43\x47\x80\x18\x00\x22\x00\x0b", 10); /* magic, type, name */
	o = 10;
	memset(m + o, 0x5a, 32); /* qualifiedSigner: a SHA-256 name */
	o += 32;
	m[o++] = (uint8_t)(nlen >> 8);
	m[o++] = (uint8_t)nlen;
	memcpy(m + o, nonce, nlen);
	o += nlen;
	o += 8 + 4 + 4; /* clock, resetCount, restartCount */
	m[o++] = 1;	/* safe */
	o += 8;		/* firmwareVersion */
	memcpy(m + o, "\x00\x00\x00\x01\x00\x0b\x03\xff\xff\xff\x00\x20", 12);
	o += 12; /* one SHA-256 bank, PCR 0-23; a 32-byte digest follows */
	c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, pcrs, 24 * 32) != 1 || EVP_DigestFinal_ex(c, digest, NULL) != 1) {
		EVP_MD_CTX_free(c);
		goto fail;
	}
	EVP_MD_CTX_free(c);
	memcpy(m + o, digest, 32);
	*len = o + 32;
	return m;
fail:
	free(m);
	return NULL;
}

/* base64url with padding, as Trustee's attester writes it (serde_with Base64<UrlSafe>). */
static int b64url_padded(const uint8_t *p, size_t n, cJSON *o, const char *key)
{
	_cleanup_free_ char *b = NULL;
	char *full;
	size_t len;
	int r;

	if (base64_encode(p, n, BASE64_URL, &b) < 0)
		return -ENOMEM;
	len = strlen(b);
	full = calloc(1, len + 3);
	if (!full)
		return -ENOMEM;
	memcpy(full, b, len);
	while (len % 4)
		full[len++] = '=';
	r = cJSON_AddStringToObject(o, key, full) ? 0 : -ENOMEM;
	free(full);
	return r;
}

static int hex_member_add(cJSON *o, const char *key, const uint8_t *p, size_t n)
{
	_cleanup_free_ char *h = hex_encode_alloc(p, n);

	return h && cJSON_AddStringToObject(o, key, h) ? 0 : -ENOMEM;
}

/* {"keys": [HCLAkPub], "vm-configuration": {...}, "user-data": hex}, as Azure's paravisor writes it. */
static char *az_var_data(EVP_PKEY *ak, const uint8_t rd[64])
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	_cleanup_free_ uint8_t *nb = NULL;
	_cleanup_free_ char *n64 = NULL, *ud = hex_encode_alloc(rd, 64);
	BIGNUM *n = NULL;
	cJSON *keys, *k, *cfg;
	int nlen;

	if (!o || !ud || EVP_PKEY_get_bn_param(ak, "n", &n) != 1)
		goto fail;
	nlen = BN_num_bytes(n);
	nb = malloc((size_t)nlen);
	if (!nb || BN_bn2bin(n, nb) != nlen ||
	    base64_encode(nb, (size_t)nlen, BASE64_URL, &n64) < 0)
		goto fail;
	keys = cJSON_AddArrayToObject(o, "keys");
	k = cJSON_CreateObject();
	if (!keys || !k || !cJSON_AddItemToArray(keys, k))
		goto fail;
	cJSON_AddStringToObject(k, "kid", "HCLAkPub");
	cJSON_AddStringToObject(k, "kty", "RSA");
	cJSON_AddStringToObject(k, "e", "AQAB");
	cJSON_AddStringToObject(k, "n", n64);
	cfg = cJSON_AddObjectToObject(o, "vm-configuration");
	if (cfg) {
		cJSON_AddBoolToObject(cfg, "secure-boot", true);
		cJSON_AddBoolToObject(cfg, "tpm-enabled", true);
	}
	for (char *p = ud; *p; p++)
		*p = (char)(*p >= 'a' ? *p - 32 : *p); /* Azure writes it in upper case */
	cJSON_AddStringToObject(o, "user-data", ud);
	BN_free(n);
	return cJSON_PrintUnformatted(o);
fail:
	BN_free(n);
	ERR_clear_error();
	return NULL;
}

/* The hardware report binding SHA-256 of the var data: an SNP report, or a TD report and quote. */
static int az_hardware(struct sim *s, const uint8_t bind[64], uint8_t hw[AZ_HCL_HW_SIZE],
		       uint8_t **tdq, size_t *tdq_len)
{
	if (s->az == AZ_HCL_TYPE_SNP) {
		struct sim_snp_fields f = {
			.version = 3,
			.policy = 0x30000,
			.reported_tcb = 4ull | 1ull << 8 | 24ull << 48 | 219ull << 56,
			.cpuid_fam = 0x19,
			.cpuid_mod = 0x01,
			.cpuid_step = 0x01,
		};

		memcpy(f.report_data, bind, 64);
		memcpy(f.measurement, s->measurement, 48);
		memcpy(f.chip_id, s->chip_id, 64);
		return sim_snp_sign(&f, s->key, hw);
	}
	/* the paravisor's TD: SEPT_VE_DISABLE clear, as on Azure (tests/vectors/azure) */
	struct sim_tdx_fields f = {
		.version = 4, .att_key_type = 2, .tee_tcb_svn = { 3, 0, 5 }, .qe_isv_svn = 4
	};

	memcpy(f.mrtd, s->measurement, 48);
	memcpy(f.rtmr, s->rtmr, sizeof(s->rtmr));
	memcpy(f.report_data, bind, 64);
	hw[0] = 0x81; /* TD report: REPORTTYPE.TYPE (TDX module spec, REPORTMACSTRUCT) */
	memcpy(hw + 128, bind, 64);
	memcpy(hw + 512 + 16, s->measurement, 48); /* TDINFO.MRTD */
	*tdq = sim_tdx_sign(&f, s->key, s->pck, s->chain, s->chain_len, tdq_len);
	return *tdq ? 0 : -EIO;
}

/* "tpm_quote": the vTPM's PCRs, quoted with report_data and signed by its AK. */
static int az_tpm_quote(struct sim *s, const uint8_t rd[64], cJSON *o, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *msg = NULL, *sig = NULL;
	uint8_t pcrs[24][32];
	size_t mlen = 0, slen = 0, nlen = 64;
	EVP_MD_CTX *c = NULL;
	cJSON *q, *pa;
	int r;

	sim_az_pcrs(s->measurement, pcrs);
	if (s->tee.cfg.runtime_log) {
		_cleanup_free_ uint8_t *text = NULL;
		struct runtime_log log;
		size_t len;
		char why[160];

		if (file_read(s->tee.cfg.runtime_log, CVM_CAP_JSON, &text, &len) < 0 ||
		    runtime_log_parse((char *)text, len, &log, why, sizeof(why)) < 0)
			return set_error(err, errlen, -EINVAL, "sim: runtime log unreadable");
		memcpy(pcrs[15], log.pcr15_sha256, 32);
		runtime_log_free(&log);
	}
	/* A 48-byte report_data (SHA-384, zero-padded) is quoted as 48 bytes, as Trustee's attester does. */
	if (is_zero(rd + 48, 16))
		nlen = 48;
	msg = sim_tpm_quote(rd, nlen, (const uint8_t(*)[32])pcrs, &mlen);
	c = EVP_MD_CTX_new();
	if (!msg || !c || EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, s->vtpm_ak) != 1 ||
	    EVP_DigestSign(c, NULL, &slen, msg, mlen) != 1 || !(sig = malloc(slen)) ||
	    EVP_DigestSign(c, sig, &slen, msg, mlen) != 1) {
		EVP_MD_CTX_free(c);
		return set_error(err, errlen, -EIO, "sim: cannot sign the vTPM quote");
	}
	EVP_MD_CTX_free(c);
	q = cJSON_AddObjectToObject(o, "tpm_quote");
	pa = cJSON_CreateArray();
	if (!q || !pa || !cJSON_AddItemToObject(q, "pcrs", pa)) {
		cJSON_Delete(pa);
		return -ENOMEM;
	}
	for (int i = 0; i < 24; i++) {
		_cleanup_free_ char *h = hex_encode_alloc(pcrs[i], 32);

		if (!h || !cJSON_AddItemToArray(pa, cJSON_CreateString(h)))
			return -ENOMEM;
	}
	if ((r = hex_member_add(q, "signature", sig, slen)) < 0 ||
	    (r = hex_member_add(q, "message", msg, mlen)) < 0)
		return r;
	return 0;
}

/* Trustee's version 2 shape: the HCL report, the hardware's certificate or TD quote, the quote. */
static int az_evidence(struct sim *s, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	_cleanup_free_ char *var = az_var_data(s->vtpm_ak, rd);
	_cleanup_free_ uint8_t *hcl = NULL, *tdq = NULL;
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	uint8_t hw[AZ_HCL_HW_SIZE] = { 0 }, bind[64] = { 0 };
	size_t hlen = 0, tdlen = 0;
	int r;

	if (!var || !o)
		return -ENOMEM;
	if (EVP_Digest(var, strlen(var), bind, NULL, EVP_sha256(), NULL) != 1 ||
	    az_hardware(s, bind, hw, &tdq, &tdlen) < 0 ||
	    az_hcl_build(s->az, hw,
			 s->az == AZ_HCL_TYPE_SNP ? SNP_REPORT_SIZE : AZ_HCL_TD_REPORT_SIZE,
			 (const uint8_t *)var, strlen(var), &hcl, &hlen) < 0)
		return set_error(err, errlen, -EIO, "sim: cannot make the HCL report");
	cJSON_AddNumberToObject(o, "version", 2);
	if ((r = az_tpm_quote(s, rd, o, err, errlen)) < 0 ||
	    (r = b64url_padded(hcl, hlen, o, "hcl_report")) < 0)
		return r;
	if (s->az == AZ_HCL_TYPE_SNP) {
		_cleanup_free_ uint8_t *der = NULL;
		int n = i2d_X509(s->certs.vcek, &der);
		cJSON *chain = snp_certs_to_sev_json(&s->certs, false);

		/* The ASK rides in cvm's "cert_chain" extension: the test PKI's is not built in. */
		if (n <= 0 || (r = b64url_padded(der, (size_t)n, o, "vcek")) < 0 || !chain ||
		    !cJSON_AddItemToObject(o, "cert_chain", chain)) {
			cJSON_Delete(chain);
			return -ENOMEM;
		}
	} else if ((r = b64url_padded(tdq, tdlen, o, "td_quote")) < 0) {
		return r;
	}
	*out = o;
	o = NULL;
	return 0;
}

static int sim_evidence(struct tee *t, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	struct sim *s = (struct sim *)t;
	int r = s->az	 ? az_evidence(s, rd, out, err, errlen)
		: s->tdx ? tdx_evidence(s, rd, out, err, errlen)
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

int sim_launch_parse(const char *text, size_t len, bool tdx, struct sim_launch *l, char *err,
		     size_t errlen)
{
	static const char *const tdx_names[] = { "mrtd", "rtmr0", "rtmr1", "rtmr2", "mrconfigid" };
	static const char *const snp_names[] = { "measurement", "host_data" };
	const char *const *names = tdx ? tdx_names : snp_names;
	uint8_t *const tdx_regs[] = { l->mrtd, l->rtmr[0], l->rtmr[1], l->rtmr[2], l->mrconfigid };
	uint8_t *const snp_regs[] = { l->measurement, l->host_data };
	const size_t tdx_len[] = { 48, 48, 48, 48, 48 }, snp_len[] = { 48, 32 };
	uint8_t *const *regs = tdx ? tdx_regs : snp_regs;
	const size_t *lens = tdx ? tdx_len : snp_len;
	const size_t n = tdx ? ARRAY_SIZE(tdx_names) : ARRAY_SIZE(snp_names);
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	const cJSON *m;

	memset(l, 0, sizeof(*l));
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		return set_error(err, errlen, -EINVAL, "not a JSON object");
	if ((m = json_unknown_member(root, names, n)))
		return set_error(err, errlen, -EINVAL, "%.32s: unknown member (%s takes %s)",
				 m->string, tdx ? "tdx" : "snp",
				 tdx ? "mrtd, rtmr0, rtmr1, rtmr2, mrconfigid"
				     : "measurement, host_data");
	for (size_t i = 0; i < n; i++) {
		int r = json_get_hex(root, names[i], regs[i], lens[i]);

		/* a TDX register left out is one nothing was measured into; no order: zeros */
		if (r == -ENOENT && (tdx || i > 0))
			continue;
		if (r < 0) {
			memset(l, 0, sizeof(*l));
			return set_error(err, errlen, -EINVAL, "%s: %s", names[i],
					 r == -ENOENT	 ? "missing"
					 : lens[i] == 48 ? "must be 48 bytes of hex"
							 : "must be 32 bytes of hex");
		}
	}
	return 0;
}

/* The launch registers from cfg: the measurement (MRTD) alone, or a launch file. */
static int sim_launch_load(struct sim *s, const struct tee_config *cfg, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	struct sim_launch l;
	char why[160];
	size_t len;
	int r;

	for (int i = 0; i < 48; i++)
		s->measurement[i] = (uint8_t)(s->tdx ? i : 0xa0 + i);
	if (cfg->sim_measurement && cfg->sim_launch)
		return set_error(err, errlen, -EINVAL,
				 "sim: a measurement or a launch file, not both");
	if (cfg->sim_measurement) {
		if (hex_decode_exact(cfg->sim_measurement, s->measurement, 48) < 0)
			return set_error(err, errlen, -EINVAL,
					 "sim: measurement must be 48 bytes of hex");
		return 0;
	}
	if (!cfg->sim_launch)
		return 0;
	if ((r = file_read(cfg->sim_launch, 4096, &text, &len)) < 0)
		return set_error(err, errlen, r, "sim: launch %.256s: %s", cfg->sim_launch,
				 strerror(-r));
	if (sim_launch_parse((const char *)text, len, s->tdx, &l, why, sizeof(why)) < 0)
		return set_error(err, errlen, -EINVAL, "sim: launch %.256s: %s", cfg->sim_launch,
				 why);
	memcpy(s->measurement, s->tdx ? l.mrtd : l.measurement, 48);
	memcpy(s->rtmr, l.rtmr, sizeof(s->rtmr));
	memcpy(s->mrconfigid, l.mrconfigid, 48);
	memcpy(s->host_data, l.host_data, 32);
	return 0;
}

static void sim_close(struct tee *t)
{
	struct sim *s = (struct sim *)t;

	EVP_PKEY_free(s->key);
	EVP_PKEY_free(s->pck);
	EVP_PKEY_free(s->vtpm_ak);
	snp_certs_free(&s->certs);
	free(s->chain);
	free(s);
}

int tee_sim_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	struct sim *s = calloc(1, sizeof(*s));
	const struct platform *pl;
	char dir[1024];
	const char *pki = cfg->sim_pki ? cfg->sim_pki : getenv("CVM_SIM_PKI");
	int r;

	if (!s)
		return -ENOMEM;
	s->tee = (struct tee){
		.name = "sim", .evidence = sim_evidence, .close = sim_close, .cfg = *cfg
	};
	s->tdx = !cfg->sim_platform || !strcmp(cfg->sim_platform, "tdx");
	if (cfg->sim_platform && !strcmp(cfg->sim_platform, "az-snp-vtpm"))
		s->az = AZ_HCL_TYPE_SNP;
	if (cfg->sim_platform && !strcmp(cfg->sim_platform, "az-tdx-vtpm"))
		s->az = AZ_HCL_TYPE_TDX, s->tdx = true;
	if (!s->tdx && !s->az && strcmp(cfg->sim_platform, "snp")) {
		free(s);
		return set_error(err, errlen, -EINVAL,
				 "sim: platform must be snp, tdx, az-snp-vtpm or az-tdx-vtpm");
	}
	pl = s->az ? platform_by_kbs_tee(cfg->sim_platform)
		   : platform_get(s->tdx ? PLATFORM_TDX : PLATFORM_SNP);
	s->tee.kbs_tee = pl->kbs_tee;
	if (s->az && !(s->vtpm_ak = EVP_RSA_gen(2048))) {
		free(s);
		return set_error(err, errlen, -ENOMEM, "sim: cannot make the vTPM's AK");
	}
	if (s->tdx && !s->az) {
		s->tee.extend = sim_extend;
		s->tee.runtime = pl->id;
	}
	if (!pki) {
		free(s);
		return set_error(err, errlen, -EINVAL,
				 "sim: no test PKI (CVM_SIM_PKI or --sim-pki)");
	}
	if ((r = sim_launch_load(s, cfg, err, errlen)) < 0) {
		free(s);
		return r;
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
