/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX quote, versions 4 and 5: Intel "TDX DCAP Quote Generation Library
 * and Quote Verification Library" reference, Appendix A (Quote Format),
 * tables A.3 (header), A.3.2 (TD report body), A.3.8-A.3.11 (signature
 * data, certification data types 5 and 6), and A.4 for the v5 body
 * descriptor.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "measurement/measurement.h"

#define ATT_KEY_ECDSA_P256 2
#define TEE_TYPE_TDX 0x81
#define CERT_TYPE_PCK_CHAIN 5
#define CERT_TYPE_QE_REPORT 6
#define BODY_TYPE_TD10 2
#define BODY_TYPE_TD15 3

static void parse_td_body(struct span *s, struct tdx_report_body *b, bool v15)
{
	/* Callers have checked that the span holds the whole body. */
	span_copy(s, b->tee_tcb_svn, 16);
	span_copy(s, b->mrseam, 48);
	span_copy(s, b->mrsignerseam, 48);
	span_copy(s, b->seam_attributes, 8);
	span_copy(s, b->td_attributes, 8);
	span_copy(s, b->xfam, 8);
	span_copy(s, b->mrtd, 48);
	span_copy(s, b->mrconfigid, 48);
	span_copy(s, b->mrowner, 48);
	span_copy(s, b->mrownerconfig, 48);
	for (int i = 0; i < 4; i++)
		span_copy(s, b->rtmr[i], 48);
	span_copy(s, b->report_data, 64);
	if (v15) {
		span_copy(s, b->tee_tcb_svn2, 16);
		span_copy(s, b->mrservicetd, 48);
	}
}

/* SGX report body, Intel SGX Developer Reference (sgx_report_body_t), 384 bytes. */
static void parse_qe_report(const uint8_t *raw, struct sgx_report_body *r)
{
	memcpy(r->cpu_svn, raw, 16);
	r->misc_select = le32(raw + 16);
	memcpy(r->attributes, raw + 48, 16);
	memcpy(r->mr_enclave, raw + 64, 32);
	memcpy(r->mr_signer, raw + 128, 32);
	r->isv_prod_id = le16(raw + 256);
	r->isv_svn = le16(raw + 258);
	memcpy(r->report_data, raw + 320, 64);
}

/* The header, the body descriptor (v5) and the TD report body; the signed region. */
static int quote_header(struct span *s, const uint8_t *buf, size_t len, struct tdx_quote *q,
			struct verdict *v)
{
	uint32_t body_len;
	size_t body_size;

	if (span_u16le(s, &q->version) < 0 || span_u16le(s, &q->att_key_type) < 0 ||
	    span_u32le(s, &q->tee_type) < 0 || span_u16le(s, &q->qe_svn) < 0 ||
	    span_u16le(s, &q->pce_svn) < 0 || span_copy(s, q->qe_vendor_id, 16) < 0 ||
	    span_copy(s, q->user_data, 20) < 0)
		return verdict_fail(v, CHECK_FORMAT, "quote is %zu bytes, shorter than its header",
				    len);
	if (q->version != 4 && q->version != 5)
		return verdict_fail(v, CHECK_FORMAT, "quote version %u is not supported (4 or 5)",
				    q->version);
	if (q->tee_type != TEE_TYPE_TDX)
		return verdict_fail(v, CHECK_FORMAT, "TEE type 0x%x is not TDX (0x81)",
				    q->tee_type);

	if (q->version == 4) {
		q->body_type = BODY_TYPE_TD10;
		body_size = TDX_REPORT_BODY_V4_SIZE;
	} else {
		if (span_u16le(s, &q->body_type) < 0 || span_u32le(s, &body_len) < 0)
			return verdict_fail(v, CHECK_FORMAT,
					    "quote truncated in its body descriptor");
		if (q->body_type == BODY_TYPE_TD10)
			body_size = TDX_REPORT_BODY_V4_SIZE;
		else if (q->body_type == BODY_TYPE_TD15)
			body_size = TDX_REPORT_BODY_V5_SIZE;
		else
			return verdict_fail(v, CHECK_FORMAT,
					    "body type %u is not a TD report (2 or 3)",
					    q->body_type);
		if (body_len != body_size)
			return verdict_fail(v, CHECK_FORMAT,
					    "body size %u does not fit body type %u (%zu)",
					    body_len, q->body_type, body_size);
	}
	if (s->len < body_size)
		return verdict_fail(v, CHECK_FORMAT, "quote truncated in its TD report body");
	parse_td_body(s, &q->body, q->body_type == BODY_TYPE_TD15);
	q->signed_region = span_make(buf, len - s->len);
	return 0;
}

/* The signature data: signature, attestation key, the QE report and the PCK chain. */
static int quote_signature_data(struct span sig, struct tdx_quote *q, struct verdict *v)
{
	struct span cert, inner;
	uint32_t cert_len, pem_len;
	uint16_t cert_type, auth_len, pem_type;

	if (span_copy(&sig, q->signature, 64) < 0 || span_copy(&sig, q->attestation_key, 64) < 0 ||
	    span_u16le(&sig, &cert_type) < 0 || span_u32le(&sig, &cert_len) < 0)
		return verdict_fail(v, CHECK_CERT_DATA, "signature data truncated");
	if (cert_type != CERT_TYPE_QE_REPORT)
		return verdict_fail(v, CHECK_CERT_DATA,
				    "certification data type %u is not QE report data (6)",
				    cert_type);
	if (span_take(&sig, cert_len, &cert) < 0 || sig.len != 0)
		return verdict_fail(v, CHECK_CERT_DATA,
				    "certification data size %u disagrees with the signature data",
				    cert_len);
	if (span_copy(&cert, q->qe_report_raw, SGX_REPORT_BODY_SIZE) < 0 ||
	    span_copy(&cert, q->qe_report_signature, 64) < 0 || span_u16le(&cert, &auth_len) < 0 ||
	    span_take(&cert, auth_len, &q->qe_auth_data) < 0 || span_u16le(&cert, &pem_type) < 0 ||
	    span_u32le(&cert, &pem_len) < 0)
		return verdict_fail(
			v, CHECK_CERT_DATA,
			"QE report certification data truncated or lying about a length");
	if (pem_type != CERT_TYPE_PCK_CHAIN)
		return verdict_fail(v, CHECK_CERT_DATA,
				    "inner certification data type %u is not a PCK chain (5)",
				    pem_type);
	if (span_take(&cert, pem_len, &inner) < 0 || cert.len != 0 || pem_len == 0)
		return verdict_fail(v, CHECK_CERT_DATA,
				    "PCK chain size %u disagrees with the certification data",
				    pem_len);
	q->pck_chain_pem = inner;
	parse_qe_report(q->qe_report_raw, &q->qe_report);
	verdict_pass(v, CHECK_CERT_DATA,
		     "QE report with %u bytes of auth data, PCK chain of %u bytes", auth_len,
		     pem_len);
	return 0;
}

int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, struct verdict *v)
{
	struct span s = span_make(buf, len), sig;
	uint32_t sig_len;

	memset(q, 0, sizeof(*q));
	q->raw = buf;
	q->raw_len = len;
	if (quote_header(&s, buf, len, q, v) < 0)
		return -1;
	if (span_u32le(&s, &sig_len) < 0 || span_take(&s, sig_len, &sig) < 0)
		return verdict_fail(v, CHECK_FORMAT,
				    "signature data length %s the %zu bytes that follow",
				    s.len < 4 ? "missing in" : "exceeds", s.len);
	q->trailing = s.len;
	verdict_pass(v, CHECK_FORMAT, "TDX quote v%u, TD report %s%s", q->version,
		     q->body_type == BODY_TYPE_TD15 ? "1.5" : "1.0",
		     q->trailing ? " (padding after the signature data)" : "");

	if (q->att_key_type != ATT_KEY_ECDSA_P256)
		return verdict_fail(v, CHECK_SIG_ALGO,
				    "attestation key type %u is not ECDSA-256-with-P-256 (2)",
				    q->att_key_type);
	verdict_pass(v, CHECK_SIG_ALGO, "ECDSA-256-with-P-256");
	return quote_signature_data(sig, q, v);
}

static void add_hex(cJSON *o, const char *key, const void *p, size_t n)
{
	json_add_hex(o, key, p, n);
}

cJSON *tdx_quote_claims(const struct tdx_quote *q)
{
	const struct tdx_report_body *b = &q->body;
	cJSON *o = cJSON_CreateObject(), *h, *qe;
	char key[16];

	if (!o)
		return NULL;
	h = cJSON_AddObjectToObject(o, "header");
	if (h) {
		cJSON_AddNumberToObject(h, "version", q->version);
		cJSON_AddNumberToObject(h, "att_key_type", q->att_key_type);
		cJSON_AddNumberToObject(h, "tee_type", q->tee_type);
		cJSON_AddNumberToObject(h, "qe_svn", q->qe_svn);
		cJSON_AddNumberToObject(h, "pce_svn", q->pce_svn);
		add_hex(h, "qe_vendor_id", q->qe_vendor_id, 16);
		add_hex(h, "user_data", q->user_data, 20);
	}
	cJSON_AddNumberToObject(o, "body_type", q->body_type);
	add_hex(o, "tee_tcb_svn", b->tee_tcb_svn, 16);
	add_hex(o, "mrseam", b->mrseam, 48);
	add_hex(o, "mrsignerseam", b->mrsignerseam, 48);
	add_hex(o, "seam_attributes", b->seam_attributes, 8);
	add_hex(o, "td_attributes", b->td_attributes, 8);
	cJSON_AddBoolToObject(o, "td_debug", le64(b->td_attributes) & TDX_ATTR_DEBUG);
	cJSON_AddBoolToObject(o, "td_sept_ve_disable",
			      le64(b->td_attributes) & TDX_ATTR_SEPT_VE_DISABLE);
	add_hex(o, "xfam", b->xfam, 8);
	add_hex(o, "mrtd", b->mrtd, 48);
	add_hex(o, "mrconfigid", b->mrconfigid, 48);
	add_hex(o, "mrowner", b->mrowner, 48);
	add_hex(o, "mrownerconfig", b->mrownerconfig, 48);
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "rtmr%d", i);
		add_hex(o, key, b->rtmr[i], 48);
	}
	add_hex(o, "report_data", b->report_data, 64);
	if (q->body_type == 3) {
		add_hex(o, "tee_tcb_svn2", b->tee_tcb_svn2, 16);
		add_hex(o, "mrservicetd", b->mrservicetd, 48);
	}
	add_hex(o, "attestation_key", q->attestation_key, 64);
	qe = cJSON_AddObjectToObject(o, "qe_report");
	if (qe) {
		add_hex(qe, "cpu_svn", q->qe_report.cpu_svn, 16);
		cJSON_AddNumberToObject(qe, "misc_select", q->qe_report.misc_select);
		add_hex(qe, "attributes", q->qe_report.attributes, 16);
		add_hex(qe, "mr_enclave", q->qe_report.mr_enclave, 32);
		add_hex(qe, "mr_signer", q->qe_report.mr_signer, 32);
		cJSON_AddNumberToObject(qe, "isv_prod_id", q->qe_report.isv_prod_id);
		cJSON_AddNumberToObject(qe, "isv_svn", q->qe_report.isv_svn);
		add_hex(qe, "report_data", q->qe_report.report_data, 64);
	}
	cJSON_AddNumberToObject(o, "qe_auth_data_size", (double)q->qe_auth_data.len);
	cJSON_AddNumberToObject(o, "trailing_bytes", (double)q->trailing);
	return o;
}
