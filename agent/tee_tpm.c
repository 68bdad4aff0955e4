/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vTPM backend over tpm2-tss ESAPI: an attestation key made as a
 * primary key of the endorsement hierarchy from a fixed template (so the
 * same TPM always yields the same AK, which a broker pins by its SHA-256),
 * and a quote over all 24 SHA-256 PCRs with the first 32 bytes of
 * report_data as qualifying data. The evidence is Trustee's TPM shape:
 * {"ak_public", "tpm_quote": {"message", "signature", "pcrs"}}.
 *
 * Runtime measurements extend PCR 15 of whatever TPM is present, also when
 * the evidence comes from another backend: in the SHA-256 bank (required,
 * the bank quotes cover) and the SHA-384 bank when the TPM has allocated it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "agent/agent.h"
#include "lib/lib.h"

struct tee_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	bool sha384;  /* PCR 15 is allocated in the SHA-384 bank */
	bool backend; /* the tpm backend's own: closed with it */
};

struct tpm {
	struct tee tee;
	struct tee_tpm pcr;
	ESYS_TR ak;
	uint8_t *ak_der;
	int ak_der_len;
};

/* A restricted RSA-2048 signing key, RSASSA with SHA-256 (as Trustee's TPM verifier takes). */
static const TPM2B_PUBLIC ak_template = {
	.publicArea = {
		.type = TPM2_ALG_RSA,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
				    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH,
		.parameters.rsaDetail = {
			.symmetric = { .algorithm = TPM2_ALG_NULL },
			.scheme = { .scheme = TPM2_ALG_RSASSA,
				    .details.rsassa.hashAlg = TPM2_ALG_SHA256 },
			.keyBits = 2048,
			.exponent = 0,
		},
	},
};

/* The AK's public part as a DER SubjectPublicKeyInfo. */
static int rsa_spki(const TPM2B_PUBLIC *pub, uint8_t **der, int *len)
{
	const TPM2B_PUBLIC_KEY_RSA *n = &pub->publicArea.unique.rsa;
	uint32_t e = pub->publicArea.parameters.rsaDetail.exponent ?: 65537;
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *k = NULL;
	BIGNUM *bn = BN_bin2bn(n->buffer, n->size, NULL), *be = BN_new();
	int r = -EIO;

	if (b && c && bn && be && BN_set_word(be, e) &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
	    (params = OSSL_PARAM_BLD_to_param(b)) && EVP_PKEY_fromdata_init(c) == 1 &&
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params) == 1) {
		*der = NULL;
		*len = i2d_PUBKEY(k, der);
		r = *len > 0 ? 0 : -EIO;
	}
	EVP_PKEY_free(k);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(c);
	BN_free(bn);
	BN_free(be);
	ERR_clear_error();
	return r;
}

int tee_tpm_read_pcrs(struct tee_tpm *p, uint8_t pcrs[24][32], char *err, size_t errlen)
{
	uint32_t want = 0xffffff;

	while (want) {
		TPML_PCR_SELECTION sel = { .count = 1 };
		TPML_PCR_SELECTION *got = NULL;
		TPML_DIGEST *values = NULL;
		uint32_t counter, mask;
		size_t k = 0;
		TSS2_RC rc;

		sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
		sel.pcrSelections[0].sizeofSelect = 3;
		for (int i = 0; i < 3; i++)
			sel.pcrSelections[0].pcrSelect[i] = (uint8_t)(want >> (8 * i));
		rc = Esys_PCR_Read(p->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
				   &counter, &got, &values);
		if (rc != TSS2_RC_SUCCESS) {
			Esys_Free(got);
			Esys_Free(values);
			return set_error(err, errlen, -EIO, "tpm: PCR_Read: %s",
					 Tss2_RC_Decode(rc));
		}
		mask = got->count ? (uint32_t)got->pcrSelections[0].pcrSelect[0] |
					    (uint32_t)got->pcrSelections[0].pcrSelect[1] << 8 |
					    (uint32_t)got->pcrSelections[0].pcrSelect[2] << 16
				  : 0;
		for (int i = 0; i < 24; i++)
			if (mask & (1u << i) && k < values->count && values->digests[k].size == 32)
				memcpy(pcrs[i], values->digests[k++].buffer, 32);
		Esys_Free(got);
		Esys_Free(values);
		if (!(mask & want))
			return set_error(err, errlen, -EIO, "tpm: the SHA-256 bank is not active");
		want &= ~mask;
	}
	return 0;
}

static int tpm_evidence(struct tee *tee, const uint8_t rd[64], cJSON **out, char *err,
			size_t errlen)
{
	struct tpm *t = (struct tpm *)tee;
	TPM2B_DATA nonce = { .size = 32 };
	TPML_PCR_SELECTION sel = { .count = 1 };
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	uint8_t sigbuf[sizeof(TPMT_SIGNATURE)], pcrs[24][32];
	size_t off = 0;
	cJSON *o = NULL, *q;
	TSS2_RC rc;
	int r = -ENOMEM;

	memcpy(nonce.buffer, rd, 32);
	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	memset(sel.pcrSelections[0].pcrSelect, 0xff, 3);
	rc = Esys_Quote(t->pcr.esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &nonce,
			&(TPMT_SIG_SCHEME){ .scheme = TPM2_ALG_NULL }, &sel, &quoted, &sig);
	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, -EIO, "tpm: Quote: %s", Tss2_RC_Decode(rc));
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigbuf, sizeof(sigbuf), &off) != TSS2_RC_SUCCESS) {
		r = set_error(err, errlen, -EIO, "tpm: cannot marshal the signature");
		goto out;
	}
	r = tee_tpm_read_pcrs(&t->pcr, pcrs, err, errlen);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	o = cJSON_CreateObject();
	q = o ? cJSON_AddObjectToObject(o, "tpm_quote") : NULL;
	if (!q || json_add_base64(o, "ak_public", t->ak_der, (size_t)t->ak_der_len) < 0 ||
	    json_add_base64(q, "signature", sigbuf, off) < 0 ||
	    json_add_base64(q, "message", quoted->attestationData, quoted->size) < 0 ||
	    !json_add_hex_array(q, "pcrs", pcrs, 24, 32))
		goto out;
	r = tee_add_runtime_log(tee, o, err, errlen);
	if (r == 0) {
		*out = o;
		o = NULL;
	}
out:
	cJSON_Delete(o);
	Esys_Free(quoted);
	Esys_Free(sig);
	return r;
}

/* ---- PCR 15 ---- */

/* Whether the TPM has PCR 15 allocated in the SHA-256 and SHA-384 banks (TPM2_CAP_PCRS). */
static int pcr15_banks(struct tee_tpm *p, char *err, size_t errlen)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 0;
	bool sha256 = false;
	TSS2_RC rc = Esys_GetCapability(p->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					TPM2_CAP_PCRS, 0, 1, &more, &cap);

	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, -EIO, "tpm: GetCapability(PCRS): %s",
				 Tss2_RC_Decode(rc));
	for (uint32_t i = 0; i < cap->data.assignedPCR.count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *s = &cap->data.assignedPCR.pcrSelections[i];
		const bool has15 = s->sizeofSelect >= 2 && (s->pcrSelect[1] & 0x80);

		if (s->hash == TPM2_ALG_SHA256)
			sha256 = has15;
		else if (s->hash == TPM2_ALG_SHA384)
			p->sha384 = has15;
	}
	Esys_Free(cap);
	if (!sha256)
		return set_error(err, errlen, -EIO, "tpm: PCR 15 is not in a SHA-256 bank");
	return 0;
}

/* cfg.tcti, else <root>/dev/tpmrm0: -ENODEV when there is neither. */
static int pcr_connect(const struct tee_config *cfg, struct tee_tpm *p, char *err, size_t errlen)
{
	char conf[4200];
	TSS2_RC rc;

	/*
	 * Without a TCTI the device is looked for only under an explicit root
	 * ("" in the guest): a host program or test that merely opens a backend
	 * must never extend the PCR 15 of the machine it runs on.
	 */
	if (!cfg->tcti && !cfg->root)
		return set_error(err, errlen, -ENODEV, "tpm: none configured");
	if (cfg->tcti)
		snprintf(conf, sizeof(conf), "%s", cfg->tcti);
	else if (snprintf(conf, sizeof(conf), "device:%s/dev/tpmrm0", cfg->root) >=
		 (int)sizeof(conf))
		return set_error(err, errlen, -ENAMETOOLONG, "tpm: root path too long");
	if (!cfg->tcti && access(conf + strlen("device:"), F_OK) < 0)
		return set_error(err, errlen, -ENODEV, "tpm: no %s", conf + strlen("device:"));
	rc = Tss2_TctiLdr_Initialize(conf, &p->tcti);
	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, cfg->tcti ? -EIO : -ENODEV, "tpm: no TPM at %s",
				 conf);
	rc = Esys_Initialize(&p->esys, p->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, -EIO, "tpm: %s: %s", conf, Tss2_RC_Decode(rc));
	return pcr15_banks(p, err, errlen);
}

static void pcr_disconnect(struct tee_tpm *p)
{
	if (p->esys)
		Esys_Finalize(&p->esys);
	Tss2_TctiLdr_Finalize(&p->tcti);
}

int tee_tpm_pcr_open(const struct tee_config *cfg, struct tee_tpm **out, char *err, size_t errlen)
{
	struct tee_tpm *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	r = pcr_connect(cfg, p, err, errlen);
	if (r < 0) {
		pcr_disconnect(p);
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

ESYS_CONTEXT *tee_tpm_esys(struct tee_tpm *p)
{
	return p->esys;
}

bool tee_tpm_pcr_sha384(const struct tee_tpm *p)
{
	return p->sha384;
}

int tee_tpm_pcr_extend(struct tee_tpm *p, const uint8_t sha256[32], const uint8_t sha384[48],
		       char *err, size_t errlen)
{
	TPML_DIGEST_VALUES v = { .count = 1 };
	TSS2_RC rc;

	v.digests[0].hashAlg = TPM2_ALG_SHA256;
	memcpy(v.digests[0].digest.sha256, sha256, 32);
	if (p->sha384) {
		if (!sha384)
			return set_error(err, errlen, -EINVAL,
					 "E_MEASURE: PCR 15 needs a SHA-384 digest too");
		v.digests[1].hashAlg = TPM2_ALG_SHA384;
		memcpy(v.digests[1].digest.sha384, sha384, 48);
		v.count = 2;
	}
	rc = Esys_PCR_Extend(p->esys, ESYS_TR_PCR15, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			     &v);
	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, -EIO, "E_MEASURE: PCR_Extend: %s",
				 Tss2_RC_Decode(rc));
	return 0;
}

void tee_tpm_pcr_close(struct tee_tpm *p)
{
	if (!p || p->backend)
		return;
	pcr_disconnect(p);
	free(p);
}

/* ---- the tpm backend ---- */

static void tpm_close(struct tee *tee)
{
	struct tpm *t = (struct tpm *)tee;

	if (t->pcr.esys && t->ak != ESYS_TR_NONE)
		Esys_FlushContext(t->pcr.esys, t->ak);
	pcr_disconnect(&t->pcr);
	OPENSSL_free(t->ak_der);
	free(t);
}

int tee_tpm_ak_sha256(struct tee *tee, uint8_t out[32])
{
	struct tpm *t = (struct tpm *)tee;
	unsigned n = 0;

	if (strcmp(tee->name, "tpm"))
		return -EINVAL;
	return EVP_Digest(t->ak_der, (size_t)t->ak_der_len, out, &n, EVP_sha256(), NULL) == 1
		       ? 0
		       : -EIO;
}

int tee_tpm_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	struct tpm *t = calloc(1, sizeof(*t));
	TPM2B_PUBLIC *pub = NULL;
	TSS2_RC rc;
	int r;

	if (!t)
		return -ENOMEM;
	t->tee = (struct tee){ .name = "tpm",
			       .kbs_tee = "tpm",
			       .evidence = tpm_evidence,
			       .close = tpm_close,
			       .cfg = *cfg,
			       .pcr = &t->pcr,
			       .pcr_probed = true };
	t->pcr.backend = true;
	t->ak = ESYS_TR_NONE;
	/* chosen as the evidence backend: the system's TPM device when no TCTI is given */
	r = pcr_connect(
		&(struct tee_config){ .root = cfg->root ? cfg->root : "", .tcti = cfg->tcti },
		&t->pcr, err, errlen);
	if (r < 0) {
		tpm_close(&t->tee);
		return r;
	}
	rc = Esys_CreatePrimary(t->pcr.esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				ESYS_TR_NONE, &(TPM2B_SENSITIVE_CREATE){ 0 }, &ak_template,
				&(TPM2B_DATA){ 0 }, &(TPML_PCR_SELECTION){ 0 }, &t->ak, &pub, NULL,
				NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_close(&t->tee);
		return set_error(err, errlen, -EIO, "tpm: cannot make the AK: %s",
				 Tss2_RC_Decode(rc));
	}
	if (rsa_spki(pub, &t->ak_der, &t->ak_der_len) < 0) {
		Esys_Free(pub);
		tpm_close(&t->tee);
		return set_error(err, errlen, -EIO, "tpm: cannot encode the AK");
	}
	Esys_Free(pub);
	*out = &t->tee;
	return 0;
}
