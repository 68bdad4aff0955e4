/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure confidential VMs: SEV-SNP or TDX behind a paravisor (the HCL) that
 * keeps a vTPM. The paravisor puts an HCL report into the vTPM's NV index
 * 0x01400001: the hardware report, whose report_data is SHA-256 of the
 * report's runtime data, a JSON text that carries the public key of the
 * vTPM's attestation key (persistent handle 0x81000003) and the 64 bytes last
 * written to NV index 0x01400002 as "user-data". So a TPM quote by that AK
 * is bound to the hardware.
 *
 * The evidence is Trustee's, version 2 (guest-components,
 * attestation-agent/attester/src/az_snp_vtpm/mod.rs and az_tdx_vtpm/mod.rs;
 * Trustee deps/verifier/src/az_snp_vtpm/compat.rs reads it):
 *   az-snp-vtpm: {"version": 2, "tpm_quote": Q, "hcl_report": B, "vcek": B}
 *   az-tdx-vtpm: {"version": 2, "tpm_quote": Q, "hcl_report": B, "td_quote": B}
 * with Q = {"signature": hex, "message": hex, "pcrs": [24 x hex]} (serde_with
 * Hex: the raw RSASSA signature, the marshalled TPMS_ATTEST, the SHA-256
 * bank) and B = padded base64url (serde_with Base64<UrlSafe>). The quote's
 * qualifying data is the protocol's report_data digest at its own length, as
 * the attester receives it (kbs_protocol rcar_client.rs: hash_algorithm.digest),
 * and the quote covers all 24 SHA-256 PCRs (az-cvm-vtpm src/vtpm/mod.rs,
 * VTPM_QUOTE_PCR_SLOTS).
 *
 * Neither the VCEK nor the TD quote is in the vTPM (NV 0x01C101D0 holds the
 * vTPM's AK certificate from Azure's vTPM CA, not the VCEK chain): both come
 * from the host's metadata service, as Trustee's attester takes them
 * (az-cvm-vtpm az-snp-vtpm/src/imds.rs, az-tdx-vtpm/src/imds.rs). They need
 * no trust in the host: the verifier checks the VCEK against AMD's chain and
 * the TD quote against Intel's.
 *
 * PCR 15, the runtime register, is the plain tpm backend's (tee_tpm.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>

#include "agent/agent.h"
#include "lib/lib.h"

/* az-cvm-vtpm src/vtpm/mod.rs: VTPM_HCL_REPORT_NV_INDEX, INDEX_REPORT_DATA, VTPM_AK_HANDLE. */
#define AZ_NV_HCL_REPORT 0x01400001u
#define AZ_NV_REPORT_DATA 0x01400002u
#define AZ_AK_HANDLE 0x81000003u

/*
 * The HCL report (az-cvm-vtpm src/hcl/mod.rs, struct AttestationReport, all
 * little-endian):
 *   0   AttestationHeader: signature "HCLA", version, report_size,
 *       request_type, status, reserved[3]          (32 bytes)
 *   32  hw_report: the SNP report (1184 bytes) or the TD report (1024),
 *       in a field of max(1184, 1024) bytes
 *   1216 IgvmRequestData: data_size, version, report_type, report_data_hash_type,
 *       variable_data_size                           (20 bytes)
 *   1236 variable data: the runtime data JSON
 * report_type: SNP_REPORT_TYPE = 2, TDX_REPORT_TYPE = 4 (same file).
 */
#define HCL_SIGNATURE 0x414c4348u /* "HCLA" */
#define HCL_HW_OFF 32
#define HCL_SNP_REPORT_LEN 1184
#define HCL_TD_REPORT_LEN 1024
#define HCL_IGVM_OFF (HCL_HW_OFF + HCL_SNP_REPORT_LEN)
#define HCL_REPORT_TYPE_OFF (HCL_IGVM_OFF + 8)
#define HCL_VAR_SIZE_OFF (HCL_IGVM_OFF + 16)
#define HCL_VAR_OFF (HCL_IGVM_OFF + 20)
#define HCL_TYPE_SNP 2
#define HCL_TYPE_TDX 4

/* Caps: NV indices are a few KiB; metadata answers are a certificate chain or a quote. */
#define AZ_HCL_MAX (16u * 1024)
#define AZ_IMDS_MAX (64u * 1024)
#define AZ_IMDS_DEFAULT "http://169.254.169.254"
/* Trustee's attester waits 3 s for the paravisor to refresh the report; we poll up to 5 s. */
#define AZ_REFRESH_MS 5000
#define AZ_POLL_MS 200

struct az {
	struct tee tee;
	struct tee_tpm *tpm; /* also tee.pcr: closed by tee_close */
	uint32_t type;	     /* HCL_TYPE_SNP or HCL_TYPE_TDX */
};

struct hcl {
	uint32_t type;
	struct span var; /* the runtime data JSON */
};

/* Checks the report's header and bounds: E_AZ_HCL, -ENODEV for a report of unknown type. */
static int hcl_parse(const uint8_t *p, size_t n, struct hcl *h, char *err, size_t errlen)
{
	uint32_t var_len;

	if (n < HCL_VAR_OFF)
		return set_error(err, errlen, -EBADMSG,
				 "E_AZ_HCL: the HCL report is %zu bytes, shorter than its header",
				 n);
	if (le32(p) != HCL_SIGNATURE)
		return set_error(err, errlen, -ENODEV, "E_AZ_HCL: NV 0x%08x is not an HCL report",
				 AZ_NV_HCL_REPORT);
	h->type = le32(p + HCL_REPORT_TYPE_OFF);
	if (h->type != HCL_TYPE_SNP && h->type != HCL_TYPE_TDX)
		return set_error(err, errlen, -ENODEV,
				 "E_AZ_HCL: HCL report of unknown type %u (2 SNP, 4 TDX)", h->type);
	var_len = le32(p + HCL_VAR_SIZE_OFF);
	if (var_len > n - HCL_VAR_OFF)
		return set_error(err, errlen, -EBADMSG,
				 "E_AZ_HCL: the runtime data (%u bytes) runs past the report (%zu)",
				 var_len, n);
	h->var = span_make(p + HCL_VAR_OFF, var_len);
	return 0;
}

/* ---- the vTPM's NV indices ---- */

static int nv_buffer_max(ESYS_CONTEXT *esys, uint32_t *max)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 0;
	TSS2_RC rc =
		Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more, &cap);

	/* TCG PC Client Platform TPM Profile: NV_BUFFER_MAX is at least 512 */
	*max = 512;
	if (rc != TSS2_RC_SUCCESS)
		return -EIO;
	if (cap->data.tpmProperties.count == 1 &&
	    cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
	    cap->data.tpmProperties.tpmProperty[0].value > 0)
		*max = cap->data.tpmProperties.tpmProperty[0].value;
	if (*max > TPM2_MAX_NV_BUFFER_SIZE)
		*max = TPM2_MAX_NV_BUFFER_SIZE;
	Esys_Free(cap);
	return 0;
}

/* Asked by capability, so that an absent index is no TPM error (which tss2 would log). */
static bool nv_defined(ESYS_CONTEXT *esys, uint32_t index)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 0;
	bool found;

	if (Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
			       index, 1, &more, &cap) != TSS2_RC_SUCCESS)
		return false;
	found = cap->data.handles.count == 1 && cap->data.handles.handle[0] == index;
	Esys_Free(cap);
	return found;
}

/* -ENODEV when the index is not defined. */
static int nv_open(ESYS_CONTEXT *esys, uint32_t index, ESYS_TR *tr, uint16_t *size)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	TSS2_RC rc;

	if (!nv_defined(esys, index))
		return -ENODEV;
	rc = Esys_TR_FromTPMPublic(esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
	if (rc != TSS2_RC_SUCCESS)
		return -EIO;
	rc = Esys_NV_ReadPublic(esys, *tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(esys, tr);
		return -EIO;
	}
	*size = pub->nvPublic.dataSize;
	Esys_Free(pub);
	return 0;
}

/* The whole index, read with owner authorization as az-cvm-vtpm does, in chunks the TPM takes. */
static int nv_read(ESYS_CONTEXT *esys, uint32_t index, uint8_t **out, size_t *len, char *err,
		   size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint32_t chunk;
	uint16_t size, off = 0;
	ESYS_TR tr;
	int r = nv_open(esys, index, &tr, &size);

	if (r == -ENODEV)
		return set_error(err, errlen, r, "az: no NV index 0x%08x", index);
	if (r < 0)
		return set_error(err, errlen, r, "az: NV_ReadPublic 0x%08x failed", index);
	if (size == 0 || size > AZ_HCL_MAX || !(buf = malloc(size))) {
		Esys_TR_Close(esys, &tr);
		return set_error(err, errlen, size ? -EFBIG : -EBADMSG,
				 "E_AZ_HCL: NV 0x%08x holds %u bytes", index, size);
	}
	nv_buffer_max(esys, &chunk);
	while (off < size) {
		uint16_t n =
			(uint16_t)((uint32_t)(size - off) < chunk ? (uint32_t)(size - off) : chunk);
		TPM2B_MAX_NV_BUFFER *data = NULL;
		TSS2_RC rc = Esys_NV_Read(esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
					  ESYS_TR_NONE, ESYS_TR_NONE, n, off, &data);

		if (rc != TSS2_RC_SUCCESS || data->size != n) {
			Esys_Free(data);
			Esys_TR_Close(esys, &tr);
			return set_error(err, errlen, -EIO, "az: NV_Read 0x%08x: %s", index,
					 rc ? Tss2_RC_Decode(rc) : "short read");
		}
		memcpy(buf + off, data->buffer, n);
		off = (uint16_t)(off + n);
		Esys_Free(data);
	}
	Esys_TR_Close(esys, &tr);
	*out = buf;
	buf = NULL;
	*len = size;
	return 0;
}

/* Writes rd to 0x01400002, defining it as az-cvm-vtpm does (owner read/write) when needed. */
static int nv_write_report_data(ESYS_CONTEXT *esys, const uint8_t rd[64], char *err, size_t errlen)
{
	TPM2B_NV_PUBLIC pub = { .nvPublic = { .nvIndex = AZ_NV_REPORT_DATA,
					      .nameAlg = TPM2_ALG_SHA256,
					      .attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD,
					      .dataSize = 64 } };
	TPM2B_MAX_NV_BUFFER data = { .size = 64 };
	uint16_t size = 0;
	ESYS_TR tr;
	TSS2_RC rc;
	int r = nv_open(esys, AZ_NV_REPORT_DATA, &tr, &size);

	if (r == -EIO)
		return set_error(err, errlen, r, "az: NV_ReadPublic 0x%08x failed",
				 AZ_NV_REPORT_DATA);
	if (r == 0 && size != 64) {
		rc = Esys_NV_UndefineSpace(esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
					   ESYS_TR_NONE, ESYS_TR_NONE);
		if (rc != TSS2_RC_SUCCESS) {
			Esys_TR_Close(esys, &tr);
			return set_error(err, errlen, -EIO, "az: NV_UndefineSpace 0x%08x: %s",
					 AZ_NV_REPORT_DATA, Tss2_RC_Decode(rc));
		}
		r = -ENODEV;
	}
	if (r == -ENODEV) {
		rc = Esys_NV_DefineSpace(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					 ESYS_TR_NONE, &(TPM2B_AUTH){ 0 }, &pub, &tr);
		if (rc != TSS2_RC_SUCCESS)
			return set_error(err, errlen, -EIO, "az: NV_DefineSpace 0x%08x: %s",
					 AZ_NV_REPORT_DATA, Tss2_RC_Decode(rc));
	}
	memcpy(data.buffer, rd, 64);
	rc = Esys_NV_Write(esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			   &data, 0);
	Esys_TR_Close(esys, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, -EIO, "az: NV_Write 0x%08x: %s", AZ_NV_REPORT_DATA,
				 Tss2_RC_Decode(rc));
	return 0;
}

/*
 * Whether the runtime data's "user-data" (hex) is the 64 bytes written to
 * 0x01400002: Trustee's verifier compares the digest's length of it, ours all 64.
 */
static bool hcl_carries(const struct hcl *h, const uint8_t rd[64])
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	const char *hex = NULL;
	uint8_t ud[64];
	size_t len = 0;

	if (json_parse((const char *)h->var.p, h->var.len, &j) < 0 ||
	    json_get_string(j, "user-data", &hex) < 0 || hex_decode(hex, ud, sizeof(ud), &len) < 0)
		return false;
	return len == 64 && !memcmp(ud, rd, 64);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Has the paravisor put rd into a fresh HCL report: writes it to 0x01400002
 * and reads 0x01400001 until its user-data is rd (E_AZ_STALE).
 */
static int hcl_fresh(struct az *a, const uint8_t rd[64], uint8_t **rep, size_t *len, char *err,
		     size_t errlen)
{
	ESYS_CONTEXT *esys = tee_tpm_esys(a->tpm);
	int r = nv_write_report_data(esys, rd, err, errlen);

	if (r < 0)
		return r;
	for (long waited = 0;; waited += AZ_POLL_MS) {
		struct hcl h;

		r = nv_read(esys, AZ_NV_HCL_REPORT, rep, len, err, errlen);
		if (r < 0)
			return r;
		r = hcl_parse(*rep, *len, &h, err, errlen);
		if (r < 0 || h.type != a->type) {
			free(*rep);
			*rep = NULL;
			return r < 0 ? r
				     : set_error(err, errlen, -EBADMSG,
						 "E_AZ_HCL: the HCL report changed type");
		}
		if (hcl_carries(&h, rd))
			return 0;
		free(*rep);
		*rep = NULL;
		if (waited >= AZ_REFRESH_MS)
			return set_error(err, errlen, -ETIMEDOUT,
					 "E_AZ_STALE: the HCL report's user-data is not this "
					 "report_data after %d ms",
					 AZ_REFRESH_MS);
		sleep_ms(AZ_POLL_MS);
	}
}

/* ---- the TPM quote ---- */

/*
 * The length of the digest in report_data: the protocol zero-pads a SHA-256,
 * SHA-384 or SHA-512 digest to 64 bytes, and Trustee's attester quotes the
 * digest itself (a SHA-384 ends in 16 zero bytes with probability 2^-128).
 */
static size_t digest_len(const uint8_t rd[64])
{
	if (!is_zero(rd + 48, 16))
		return 64;
	return is_zero(rd + 32, 16) ? 32 : 48;
}

static int quote_json(struct az *a, const uint8_t *nonce, size_t n, cJSON *q, char *err,
		      size_t errlen)
{
	ESYS_CONTEXT *esys = tee_tpm_esys(a->tpm);
	TPML_PCR_SELECTION sel = { .count = 1 };
	TPM2B_DATA qd = { .size = (uint16_t)n };
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	uint8_t pcrs[24][32];
	ESYS_TR ak;
	TSS2_RC rc;
	int r;

	rc = Esys_TR_FromTPMPublic(esys, AZ_AK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   &ak);
	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, -EIO, "E_AZ_QUOTE: no AK at 0x%08x: %s", AZ_AK_HANDLE,
				 Tss2_RC_Decode(rc));
	memcpy(qd.buffer, nonce, n);
	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	memset(sel.pcrSelections[0].pcrSelect, 0xff, 3);
	rc = Esys_Quote(esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd,
			&(TPMT_SIG_SCHEME){ .scheme = TPM2_ALG_NULL }, &sel, &quoted, &sig);
	Esys_TR_Close(esys, &ak);
	if (rc != TSS2_RC_SUCCESS)
		return set_error(err, errlen, -EIO, "E_AZ_QUOTE: Quote: %s", Tss2_RC_Decode(rc));
	if (sig->sigAlg != TPM2_ALG_RSASSA) {
		r = set_error(err, errlen, -EIO, "E_AZ_QUOTE: the AK does not sign RSASSA");
		goto out;
	}
	r = tee_tpm_read_pcrs(a->tpm, pcrs, err, errlen);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (!json_add_hex(q, "signature", sig->signature.rsassa.sig.buffer,
			  sig->signature.rsassa.sig.size) ||
	    !json_add_hex(q, "message", quoted->attestationData, quoted->size) ||
	    !json_add_hex_array(q, "pcrs", pcrs, 24, 32))
		goto out;
	r = 0;
out:
	Esys_Free(quoted);
	Esys_Free(sig);
	return r;
}

/* serde_with Base64<UrlSafe>: the URL-safe alphabet, padded. */
static int add_b64url(cJSON *o, const char *key, const void *p, size_t n)
{
	_cleanup_free_ char *s = NULL;
	char *padded;
	size_t len;

	if (base64_encode(p, n, BASE64_URL, &s) < 0)
		return -ENOMEM;
	len = strlen(s);
	padded = realloc(s, len + 3);
	if (!padded)
		return -ENOMEM;
	s = padded;
	while (len % 4)
		s[len++] = '=';
	s[len] = 0;
	return cJSON_AddStringToObject(o, key, s) ? 0 : -ENOMEM;
}

/* ---- the host's metadata service ---- */

struct body {
	uint8_t *p;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t n = size * nmemb;

	return buf_append(&b->p, &b->len, data, n, AZ_IMDS_MAX) < 0 ? 0 : n;
}

/* GET (post NULL) or POST a JSON body to the metadata service; the answer is JSON. */
static int imds(const struct az *a, const char *path, const char *post, cJSON **out, char *err,
		size_t errlen)
{
	const char *base = a->tee.cfg.az_imds ? a->tee.cfg.az_imds : AZ_IMDS_DEFAULT;
	struct curl_slist *hdrs = curl_slist_append(NULL, "Metadata: true");
	CURL *c = curl_easy_init();
	struct body b = { 0 };
	char url[512];
	long status = 0;
	CURLcode cc;
	int r;

	if (post && hdrs) {
		struct curl_slist *h = curl_slist_append(hdrs, "Content-Type: application/json");

		hdrs = h ? curl_slist_append(h, "Accept: application/json") : NULL;
	}
	if (!c || !hdrs) {
		curl_easy_cleanup(c);
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* link-local and unauthenticated: no proxy, no redirect, plain HTTP only */
	agent_curl_confine(c, "http");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (cc != CURLE_OK)
		r = set_error(err, errlen, -EIO, "E_AZ_IMDS: %s: %s", path, curl_easy_strerror(cc));
	else if (status != 200)
		r = set_error(err, errlen, -EPROTO, "E_AZ_IMDS: %s: HTTP %ld", path, status);
	else if (!b.p || json_parse((char *)b.p, b.len, out) < 0)
		r = set_error(err, errlen, -EBADMSG, "E_AZ_IMDS: %s: the answer is not JSON", path);
	else
		r = 0;
	free(b.p);
	return r;
}

/* THIM's {"vcekCert": PEM, "certificateChain": PEM}: the VCEK as DER, as Trustee sends it. */
static int vcek_der(const struct az *a, uint8_t **der, int *len, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	const char *pem = NULL;
	X509 *x = NULL;
	BIO *bio;
	int r = imds(a, "/metadata/THIM/amd/certification", NULL, &j, err, errlen);

	if (r < 0)
		return r;
	if (json_get_string(j, "vcekCert", &pem) < 0)
		return set_error(err, errlen, -EBADMSG, "E_AZ_IMDS: the answer has no vcekCert");
	bio = BIO_new_mem_buf(pem, -1);
	if (bio)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	*der = NULL;
	*len = x ? i2d_X509(x, der) : -1;
	X509_free(x);
	if (*len <= 0)
		return set_error(err, errlen, -EBADMSG,
				 "E_AZ_IMDS: vcekCert is not a PEM certificate");
	return 0;
}

/* The TD quote of the TD report in the HCL report, from the host's quoting service. */
static int td_quote(const struct az *a, const uint8_t *rep, uint8_t **quote, size_t *len, char *err,
		    size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject(), *j = NULL;
	_cleanup_free_ char *b64 = NULL, *text = NULL, *q = NULL;
	const char *s = NULL;
	size_t n;
	int r;

	/* base64_url::encode (az-tdx-vtpm src/imds.rs): URL-safe, unpadded */
	if (!req || base64_encode(rep + HCL_HW_OFF, HCL_TD_REPORT_LEN, BASE64_URL, &b64) < 0 ||
	    !cJSON_AddStringToObject(req, "report", b64) || !(text = cJSON_PrintUnformatted(req)))
		return -ENOMEM;
	r = imds(a, "/acc/tdquote", text, &j, err, errlen);
	if (r < 0)
		return r;
	if (json_get_string(j, "quote", &s) < 0 || !(q = strdup(s)))
		return set_error(err, errlen, -EBADMSG, "E_AZ_IMDS: the answer has no quote");
	n = strlen(q);
	while (n && q[n - 1] == '=')
		q[--n] = 0;
	if (base64_decode(q, n, BASE64_URL, quote, len) < 0 || *len == 0)
		return set_error(err, errlen, -EBADMSG, "E_AZ_IMDS: the quote is not base64url");
	return 0;
}

/* ---- the backend ---- */

static int platform_part(struct az *a, const uint8_t *rep, cJSON *o, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *q = NULL;
	uint8_t *der = NULL;
	size_t qlen;
	int dlen = 0, r;

	if (a->type == HCL_TYPE_TDX) {
		r = td_quote(a, rep, &q, &qlen, err, errlen);
		return r < 0 ? r : add_b64url(o, "td_quote", q, qlen);
	}
	r = vcek_der(a, &der, &dlen, err, errlen);
	if (r < 0)
		return r;
	r = add_b64url(o, "vcek", der, (size_t)dlen);
	OPENSSL_free(der);
	return r;
}

static int az_evidence(struct tee *tee, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	struct az *a = (struct az *)tee;
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	_cleanup_free_ uint8_t *rep = NULL;
	const size_t n = digest_len(rd);
	size_t len;
	cJSON *q;
	int r;

	if (!o || !cJSON_AddNumberToObject(o, "version", 2) ||
	    !(q = cJSON_AddObjectToObject(o, "tpm_quote")))
		return -ENOMEM;
	r = hcl_fresh(a, rd, &rep, &len, err, errlen);
	if (r < 0)
		return r;
	r = quote_json(a, rd, n, q, err, errlen);
	if (r == 0)
		r = add_b64url(o, "hcl_report", rep, len);
	if (r == 0)
		r = platform_part(a, rep, o, err, errlen);
	if (r == 0)
		r = tee_add_runtime_log(tee, o, err, errlen);
	if (r < 0)
		return r;
	*out = o;
	o = NULL;
	return 0;
}

/* tee_close closes the TPM (tee.pcr) first. */
static void az_close(struct tee *tee)
{
	free(tee);
}

/* A TPM whose NV index 0x01400001 holds an HCL report of a known type (az-cvm-vtpm is_snp_cvm). */
static int az_probe(struct az *a, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *rep = NULL;
	struct hcl h;
	size_t len;
	int r = nv_read(tee_tpm_esys(a->tpm), AZ_NV_HCL_REPORT, &rep, &len, err, errlen);

	if (r < 0)
		return r;
	r = hcl_parse(rep, len, &h, err, errlen);
	if (r < 0)
		return r;
	a->type = h.type;
	a->tee.kbs_tee = h.type == HCL_TYPE_TDX ? "az-tdx-vtpm" : "az-snp-vtpm";
	return 0;
}

int tee_az_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	struct az *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->tee = (struct tee){ .name = "az",
			       .evidence = az_evidence,
			       .close = az_close,
			       .cfg = *cfg,
			       .pcr_probed = true };
	/* as the tpm backend: the system's TPM device when no TCTI is given */
	r = tee_tpm_pcr_open(
		&(struct tee_config){ .root = cfg->root ? cfg->root : "", .tcti = cfg->tcti },
		&a->tpm, err, errlen);
	if (r == 0)
		r = az_probe(a, err, errlen);
	if (r < 0) {
		if (a->tpm)
			tee_tpm_pcr_close(a->tpm);
		free(a);
		return r;
	}
	a->tee.pcr = a->tpm;
	*out = &a->tee;
	return 0;
}
