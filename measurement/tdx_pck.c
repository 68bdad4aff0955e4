/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SGX extensions of a PCK certificate: Intel "SGX PCK Certificate and
 * Certificate Revocation List Profile Specification", §3.5. The extension
 * 1.2.840.113741.1.13.1 holds a SEQUENCE of {OID, value} pairs; the TCB
 * member (.2) is itself such a SEQUENCE of 18 pairs.
 */
#include <errno.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include "measurement/tdx_internal.h"

/* DER of the OID 1.2.840.113741.1.13.1 without tag and length. */
static const uint8_t sgx_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };

struct tlv {
	int tag;
	bool constructed;
	struct span value;
};

/* One DER element from the front of s, header parsed by OpenSSL. */
static int der_next(struct span *s, struct tlv *t)
{
	const unsigned char *p = s->p;
	long len;
	int tag, cls, ret;

	if (s->len == 0 || s->len > 65536)
		return -EBADMSG;
	ret = ASN1_get_object(&p, &len, &tag, &cls, (long)s->len);
	if (ret & 0x80 || cls != V_ASN1_UNIVERSAL || len < 0 ||
	    (size_t)len > s->len - (size_t)(p - s->p))
		return -EBADMSG;
	t->tag = tag;
	t->constructed = ret & V_ASN1_CONSTRUCTED;
	t->value = span_make(p, (size_t)len);
	s->len -= (size_t)(p - s->p) + (size_t)len;
	s->p = p + len;
	return 0;
}

/* A pair {OID, value}: the OID's last arc under prefix, and the value. */
static int der_pair(struct span *s, const uint8_t *prefix, size_t plen, unsigned *arc,
		    struct tlv *val)
{
	struct tlv seq, oid;
	struct span in;

	if (der_next(s, &seq) < 0 || seq.tag != V_ASN1_SEQUENCE || !seq.constructed)
		return -EBADMSG;
	in = seq.value;
	if (der_next(&in, &oid) < 0 || oid.tag != V_ASN1_OBJECT || der_next(&in, val) < 0 ||
	    in.len != 0)
		return -EBADMSG;
	/* Only single-byte final arcs (< 128) occur under these prefixes. */
	if (oid.value.len != plen + 1 || memcmp(oid.value.p, prefix, plen) != 0 ||
	    oid.value.p[plen] & 0x80)
		return -EBADMSG;
	*arc = oid.value.p[plen];
	return 0;
}

static int der_uint(const struct tlv *t, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (t->tag != V_ASN1_INTEGER || t->constructed || t->value.len == 0 || t->value.len > 3 ||
	    t->value.p[0] & 0x80)
		return -EBADMSG;
	for (size_t i = 0; i < t->value.len; i++)
		v = v << 8 | t->value.p[i];
	if (v > max)
		return -EBADMSG;
	*out = v;
	return 0;
}

static int der_octets(const struct tlv *t, uint8_t *out, size_t n)
{
	if (t->tag != V_ASN1_OCTET_STRING || t->constructed || t->value.len != n)
		return -EBADMSG;
	memcpy(out, t->value.p, n);
	return 0;
}

static int parse_tcb(struct span s, struct pck_info *out)
{
	uint8_t prefix[sizeof(sgx_oid) + 1];
	unsigned seen = 0;

	memcpy(prefix, sgx_oid, sizeof(sgx_oid));
	prefix[sizeof(sgx_oid)] = 2;
	while (s.len) {
		struct tlv val;
		unsigned arc, x;

		if (der_pair(&s, prefix, sizeof(prefix), &arc, &val) < 0)
			return -EBADMSG;
		if (arc >= 1 && arc <= 16) {
			if (der_uint(&val, 255, &x) < 0)
				return -EBADMSG;
			out->comp_svn[arc - 1] = (uint8_t)x;
		} else if (arc == 17) {
			if (der_uint(&val, 65535, &x) < 0)
				return -EBADMSG;
			out->pce_svn = (uint16_t)x;
		} else if (arc == 18) {
			if (der_octets(&val, out->cpu_svn, 16) < 0)
				return -EBADMSG;
		} else {
			continue;
		}
		if (seen & (1u << arc))
			return -EBADMSG;
		seen |= 1u << arc;
	}
	return seen == 0x7fffe ? 0 : -EBADMSG; /* arcs 1 to 18, each once */
}

int pck_info_parse(X509 *leaf, struct pck_info *out)
{
	ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
	int idx = obj ? X509_get_ext_by_OBJ(leaf, obj, -1) : -1;
	const ASN1_OCTET_STRING *data;
	struct span s, in;
	struct tlv outer;
	unsigned seen = 0;

	ASN1_OBJECT_free(obj);
	memset(out, 0, sizeof(*out));
	if (idx < 0)
		return -ENOENT;
	data = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	s = span_make(ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data));
	if (der_next(&s, &outer) < 0 || outer.tag != V_ASN1_SEQUENCE || s.len != 0)
		return -EBADMSG;
	in = outer.value;
	while (in.len) {
		struct tlv val;
		unsigned arc;
		int r = 0;

		if (der_pair(&in, sgx_oid, sizeof(sgx_oid), &arc, &val) < 0)
			return -EBADMSG;
		if (arc < 16 && (seen & (1u << arc)))
			return -EBADMSG;
		if (arc < 16)
			seen |= 1u << arc;
		if (arc == 2)
			r = val.tag == V_ASN1_SEQUENCE ? parse_tcb(val.value, out) : -EBADMSG;
		else if (arc == 3)
			r = der_octets(&val, out->pce_id, 2);
		else if (arc == 4)
			r = der_octets(&val, out->fmspc, 6);
		if (r < 0)
			return r;
	}
	/* TCB, PCE-ID and FMSPC are required. */
	return (seen & 0x1c) == 0x1c ? 0 : -EBADMSG;
}

int tdx_quote_pck_platform(const uint8_t *buf, size_t len, uint8_t fmspc[6], const char **ca,
			   char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	struct pck_info pck;
	struct tdx_quote q;
	struct verdict v;
	char cn[80] = "";
	int r;

	verdict_init(&v, PLATFORM_TDX);
	if (tdx_quote_parse(buf, len, &q, &v) < 0)
		return set_error(err, errlen, -EBADMSG, "not a TDX quote: %s",
				 verdict_first_failure(&v)->detail);
	if (x509_load_pem_chain(q.pck_chain_pem.p, q.pck_chain_pem.len, &chain) < 0 ||
	    sk_X509_num(chain) < 2) {
		sk_X509_pop_free(chain, X509_free);
		return set_error(err, errlen, -EBADMSG, "the quote carries no PCK chain");
	}
	r = pck_info_parse(sk_X509_value(chain, 0), &pck);
	x509_cn(sk_X509_value(chain, 1), cn, sizeof(cn));
	sk_X509_pop_free(chain, X509_free);
	if (r < 0)
		return set_error(err, errlen, -EBADMSG,
				 "the PCK certificate has no SGX extensions");
	/* "Intel SGX PCK Platform CA" or "Intel SGX PCK Processor CA" (PCK profile §2). */
	if (strstr(cn, "Platform CA"))
		*ca = "platform";
	else if (strstr(cn, "Processor CA"))
		*ca = "processor";
	else
		return set_error(err, errlen, -EBADMSG,
				 "the PCK CA '%s' is neither the Platform nor the Processor CA",
				 cn);
	memcpy(fmspc, pck.fmspc, 6);
	return 0;
}
