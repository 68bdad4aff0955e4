/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP report verification: the VCEK (or VLEK) chain to a pinned AMD
 * root, the report signature, and the report's claims against the VCEK's
 * extensions; then the reference values (snp_policy.c).
 *
 * Certificate extensions: AMD "Versioned Chip Endorsement Key (VCEK)
 * Certificate and KDS Interface Specification" (57230), Table 8, under
 * 1.3.6.1.4.1.3704.1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "measurement/measurement.h"
#include "measurement/snp_internal.h"
#include "measurement/snp_roots.h"

#define SIGNING_KEY_VCEK 0
#define SIGNING_KEY_VLEK 1

/* What the chain tells about the report, kept between calls. */
struct snp_chain {
	X509 *ark, *ask, *vcek; /* references to the certificates verified */
	EVP_PKEY *key;		/* the VCEK's public key */
	enum snp_product product;
	bool vlek;
	bool test_root;
	char product_name[SNP_PRODUCT_NAME_MAX]; /* productName extension, "Milan-B0" */
	bool has_tcb[5];			 /* fmc, bootloader, tee, snp, microcode */
	struct snp_tcb tcb;
	uint8_t hwid[64];
	size_t hwid_len;
	char root_name[64];
};

struct snp_verifier {
	time_t now;
	X509 *ark[SNP_ROOTS_N], *ask[SNP_ROOTS_N], *asvk[SNP_ROOTS_N];
	STACK_OF(X509) *test_roots;
	bool cached;
	struct snp_chain chain;
};

static void chain_clear(struct snp_chain *c)
{
	X509_free(c->ark);
	X509_free(c->ask);
	X509_free(c->vcek);
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

void snp_verifier_free(struct snp_verifier *sv)
{
	if (!sv)
		return;
	for (int i = 0; i < SNP_ROOTS_N; i++) {
		X509_free(sv->ark[i]);
		X509_free(sv->ask[i]);
		X509_free(sv->asvk[i]);
	}
	sk_X509_pop_free(sv->test_roots, X509_free);
	chain_clear(&sv->chain);
	free(sv);
}

int snp_verifier_new(const char *test_roots_pem, time_t now, struct snp_verifier **out)
{
	struct snp_verifier *sv = calloc(1, sizeof(*sv));
	int r = 0;

	if (!sv)
		return -ENOMEM;
	sv->now = now;
	for (int i = 0; i < SNP_ROOTS_N && r == 0; i++) {
		const struct snp_root *root = &snp_roots[i];
		uint8_t fp[32], want[32];

		r = x509_load_one(root->ark_pem, strlen(root->ark_pem), &sv->ark[i]);
		if (r == 0)
			r = x509_load_one(root->ask_pem, strlen(root->ask_pem), &sv->ask[i]);
		if (r == 0)
			r = x509_load_one(root->asvk_pem, strlen(root->asvk_pem), &sv->asvk[i]);
		if (r == 0)
			r = x509_fingerprint(sv->ark[i], fp);
		if (r == 0 &&
		    (hex_decode_exact(root->ark_sha256, want, 32) < 0 || memcmp(fp, want, 32) != 0))
			r = -EBADMSG; /* a built-in root that does not match its pin */
	}
	if (r == 0 && test_roots_pem) {
		_cleanup_free_ uint8_t *pem = NULL;
		size_t len;

		r = file_read(test_roots_pem, CVM_CAP_CERT, &pem, &len);
		if (r == 0)
			r = x509_load_pem_chain(pem, len, &sv->test_roots);
	}
	if (r < 0) {
		snp_verifier_free(sv);
		return r;
	}
	*out = sv;
	return 0;
}

void snp_certs_free(struct snp_certs *c)
{
	X509_free(c->ark);
	X509_free(c->ask);
	X509_free(c->vcek);
	memset(c, 0, sizeof(*c));
}

/* Reads DIR/base.pem or DIR/base.der. -ENOENT when neither exists. */
static int load_named(const char *dir, const char *base, X509 **out, char *err, size_t errlen)
{
	static const char *const exts[] = { ".pem", ".der", ".crt", ".cert" };

	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		_cleanup_free_ uint8_t *buf = NULL;
		char name[64];
		size_t len;
		int r;

		snprintf(name, sizeof(name), "%s%s", base, exts[i]);
		r = file_read_at(dir, name, CVM_CAP_CERT, &buf, &len);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(-r));
			return r;
		}
		r = x509_load_one(buf, len, out);
		if (r < 0)
			snprintf(err, errlen, "%s/%s: not a certificate", dir, name);
		return r;
	}
	return -ENOENT;
}

int snp_certs_load_dir(const char *dir, struct snp_certs *c, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *bundle = NULL;
	size_t len;
	int r;

	memset(c, 0, sizeof(*c));
	r = load_named(dir, "vcek", &c->vcek, err, errlen);
	if (r == -ENOENT)
		r = load_named(dir, "vlek", &c->vcek, err, errlen);
	if (r == -ENOENT) {
		snprintf(err, errlen, "%s: no vcek or vlek certificate (.pem or .der)", dir);
		return r;
	}
	if (r < 0)
		goto fail;
	r = load_named(dir, "ask", &c->ask, err, errlen);
	if (r == -ENOENT)
		r = load_named(dir, "asvk", &c->ask, err, errlen);
	if (r < 0 && r != -ENOENT)
		goto fail;
	r = load_named(dir, "ark", &c->ark, err, errlen);
	if (r < 0 && r != -ENOENT)
		goto fail;

	/* AMD KDS serves the intermediate and root as one PEM: ASK then ARK. */
	if (!c->ask || !c->ark) {
		r = file_read_at(dir, "ask_ark.pem", CVM_CAP_CERT, &bundle, &len);
		if (r == -ENOENT)
			r = file_read_at(dir, "cert_chain.pem", CVM_CAP_CERT, &bundle, &len);
		if (r == 0) {
			STACK_OF(X509) *sk = NULL;

			r = x509_load_pem_chain(bundle, len, &sk);
			if (r < 0 || sk_X509_num(sk) != 2) {
				sk_X509_pop_free(sk, X509_free);
				snprintf(err, errlen, "%s/ask_ark.pem: expected two certificates",
					 dir);
				r = -EBADMSG;
				goto fail;
			}
			if (!c->ask)
				c->ask = X509_dup(sk_X509_value(sk, 0));
			if (!c->ark)
				c->ark = X509_dup(sk_X509_value(sk, 1));
			sk_X509_pop_free(sk, X509_free);
		} else if (r != -ENOENT) {
			snprintf(err, errlen, "%s/ask_ark.pem: %s", dir, strerror(-r));
			goto fail;
		}
	}
	return 0;
fail:
	snp_certs_free(c);
	return r;
}

/* ---- VCEK extensions ---- */

static const X509_EXTENSION *find_ext(X509 *c, const char *oid)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int idx = obj ? X509_get_ext_by_OBJ(c, obj, -1) : -1;

	ASN1_OBJECT_free(obj);
	return idx < 0 ? NULL : X509_get_ext(c, idx);
}

/* An SPL extension: a DER INTEGER of 0..255. 1 present, 0 absent, -EBADMSG bad. */
static int ext_u8(X509 *c, const char *oid, uint8_t *out)
{
	const X509_EXTENSION *ext = find_ext(c, oid);
	const ASN1_OCTET_STRING *val;
	const unsigned char *p;
	ASN1_INTEGER *ai;
	long n;

	if (!ext)
		return 0;
	val = X509_EXTENSION_get_data((X509_EXTENSION *)ext);
	p = ASN1_STRING_get0_data(val);
	ai = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(val));
	if (!ai || p != ASN1_STRING_get0_data(val) + ASN1_STRING_length(val)) {
		ASN1_INTEGER_free(ai);
		return -EBADMSG;
	}
	n = ASN1_INTEGER_get(ai);
	ASN1_INTEGER_free(ai);
	if (n < 0 || n > 255)
		return -EBADMSG;
	*out = (uint8_t)n;
	return 1;
}

static int ext_product_name(X509 *c, char *out, size_t cap)
{
	const X509_EXTENSION *ext = find_ext(c, "1.3.6.1.4.1.3704.1.2");
	const ASN1_OCTET_STRING *val;
	const unsigned char *p;
	ASN1_IA5STRING *s;
	int n;

	out[0] = 0;
	if (!ext)
		return 0;
	val = X509_EXTENSION_get_data((X509_EXTENSION *)ext);
	p = ASN1_STRING_get0_data(val);
	s = d2i_ASN1_IA5STRING(NULL, &p, ASN1_STRING_length(val));
	if (!s || p != ASN1_STRING_get0_data(val) + ASN1_STRING_length(val)) {
		ASN1_IA5STRING_free(s);
		return -EBADMSG;
	}
	n = ASN1_STRING_length(s);
	if (n <= 0 || (size_t)n >= cap || memchr(ASN1_STRING_get0_data(s), 0, (size_t)n)) {
		ASN1_IA5STRING_free(s);
		return -EBADMSG;
	}
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
	out[n] = 0;
	ASN1_IA5STRING_free(s);
	return 1;
}

/*
 * hwID (57230, Table 8): AMD's KDS stores the raw bytes without an OCTET
 * STRING tag, 64 of them for Milan and Genoa and 8 for Turin (its VCEKs are
 * issued for the first 8 bytes of CHIP_ID: the real Turin certificates of
 * tests/data/snp/turin). A DER OCTET STRING of 8 or 64 bytes is also taken;
 * raw lengths are tried first, as a raw value is never 10 or 66 bytes.
 */
static int ext_hwid(X509 *c, uint8_t *out, size_t *len)
{
	const X509_EXTENSION *ext = find_ext(c, "1.3.6.1.4.1.3704.1.4");
	const ASN1_OCTET_STRING *val;
	const unsigned char *p;
	ASN1_OCTET_STRING *os;
	int n;

	if (!ext)
		return 0;
	val = X509_EXTENSION_get_data((X509_EXTENSION *)ext);
	n = ASN1_STRING_length(val);
	p = ASN1_STRING_get0_data(val);
	if (n == 64 || n == 8) {
		memcpy(out, p, (size_t)n);
		*len = (size_t)n;
		return 1;
	}
	os = d2i_ASN1_OCTET_STRING(NULL, &p, n);
	if (!os || p != ASN1_STRING_get0_data(val) + n ||
	    (ASN1_STRING_length(os) != 8 && ASN1_STRING_length(os) != 64)) {
		ASN1_OCTET_STRING_free(os);
		return -EBADMSG;
	}
	*len = (size_t)ASN1_STRING_length(os);
	memcpy(out, ASN1_STRING_get0_data(os), *len);
	ASN1_OCTET_STRING_free(os);
	return 1;
}

static int chain_read_extensions(struct snp_chain *ch)
{
	static const char *const oids[5] = {
		"1.3.6.1.4.1.3704.1.3.9", /* fmcSPL, Turin */
		"1.3.6.1.4.1.3704.1.3.1", /* blSPL */
		"1.3.6.1.4.1.3704.1.3.2", /* teeSPL */
		"1.3.6.1.4.1.3704.1.3.3", /* snpSPL */
		"1.3.6.1.4.1.3704.1.3.8", /* ucodeSPL */
	};
	uint8_t *fields[5] = { &ch->tcb.fmc, &ch->tcb.bootloader, &ch->tcb.tee, &ch->tcb.snp,
			       &ch->tcb.microcode };
	int r;

	for (int i = 0; i < 5; i++) {
		r = ext_u8(ch->vcek, oids[i], fields[i]);
		if (r < 0)
			return r;
		ch->has_tcb[i] = r == 1;
	}
	r = ext_product_name(ch->vcek, ch->product_name, sizeof(ch->product_name));
	if (r < 0)
		return r;
	r = ext_hwid(ch->vcek, ch->hwid, &ch->hwid_len);
	return r < 0 ? r : 0;
}

/* "Milan-B0" -> Milan */
static enum snp_product product_from_name(const char *name)
{
	static const enum snp_product all[] = { SNP_PRODUCT_MILAN, SNP_PRODUCT_GENOA,
						SNP_PRODUCT_TURIN };

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		const char *n = snp_product_name(all[i]);
		size_t l = strlen(n);

		if (strncmp(name, n, l) == 0 && (name[l] == 0 || name[l] == '-'))
			return all[i];
	}
	return SNP_PRODUCT_UNKNOWN;
}

/* ---- the chain ---- */

static bool is_rsa_pss_4096(X509 *c)
{
	EVP_PKEY *k = X509_get0_pubkey(c);

	return k && (EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_is_a(k, "RSA-PSS")) &&
	       EVP_PKEY_get_bits(k) == 4096;
}

static bool is_test_root(struct snp_verifier *sv, X509 *c)
{
	for (int i = 0; i < sk_X509_num(sv->test_roots); i++)
		if (X509_cmp(c, sk_X509_value(sv->test_roots, i)) == 0)
			return true;
	return false;
}

static bool same_cert(X509 *a, X509 *b)
{
	return a == b || (a && b && X509_cmp(a, b) == 0);
}

/*
 * Finds the root and intermediate. The root is the given ARK when there is
 * one (it must then be a pinned root or a test root), else a built-in or
 * test root whose name and key signed the intermediate.
 */
/* The roots to try, with their products: the pinned one given as ARK, or every pinned and test root. */
struct chain_roots {
	X509 *cert[SNP_ROOTS_N + 16];
	enum snp_product product[SNP_ROOTS_N + 16];
	size_t n;
};

static int chain_roots(struct snp_verifier *sv, const struct snp_certs *certs,
		       struct chain_roots *rs, struct verdict *v)
{
	uint8_t fp[32];
	char fphex[65];
	int i;

	if (!certs->ark) {
		for (i = 0; i < SNP_ROOTS_N; i++) {
			rs->product[rs->n] = snp_roots[i].product;
			rs->cert[rs->n++] = sv->ark[i];
		}
		for (i = 0; i < sk_X509_num(sv->test_roots) && rs->n < ARRAY_SIZE(rs->cert); i++) {
			rs->product[rs->n] = SNP_PRODUCT_UNKNOWN;
			rs->cert[rs->n++] = sk_X509_value(sv->test_roots, i);
		}
		return 0;
	}
	for (i = 0; i < SNP_ROOTS_N; i++)
		if (X509_cmp(certs->ark, sv->ark[i]) == 0)
			break;
	if (i < SNP_ROOTS_N) {
		rs->product[rs->n] = snp_roots[i].product;
		rs->cert[rs->n++] = sv->ark[i];
	} else if (is_test_root(sv, certs->ark)) {
		rs->product[rs->n] = SNP_PRODUCT_UNKNOWN;
		rs->cert[rs->n++] = certs->ark;
	} else {
		x509_fingerprint(certs->ark, fp);
		hex_encode(fp, 32, fphex);
		return verdict_fail(v, CHECK_ROOT_PINNED,
				    "ARK (SHA-256 %s) is not a pinned AMD root", fphex);
	}
	return 0;
}

/* The intermediate to try under root: the one given, else the product's built-in one (or NULL). */
static X509 *chain_ask(struct snp_verifier *sv, const struct snp_certs *certs,
		       const struct snp_chain *ch, X509 *root)
{
	X509 *ask;
	int k;

	if (certs->ask)
		return certs->ask;
	for (k = 0; k < SNP_ROOTS_N; k++)
		if (root == sv->ark[k])
			break;
	if (k == SNP_ROOTS_N)
		return NULL;
	ask = ch->vlek ? sv->asvk[k] : sv->ask[k];
	/* The product's intermediate is the one that issued the leaf. */
	if (X509_NAME_cmp(X509_get_issuer_name(certs->vcek), X509_get_subject_name(ask)) != 0)
		return NULL;
	return ask;
}

/* The first root that signed an intermediate, into ch; a failed check when none did. */
static int chain_pick(struct snp_verifier *sv, const struct snp_certs *certs, struct snp_chain *ch,
		      const struct chain_roots *rs, struct verdict *v)
{
	char cn[64];

	for (size_t i = 0; i < rs->n; i++) {
		X509 *ask = chain_ask(sv, certs, ch, rs->cert[i]);

		if (!ask || !x509_signed_by(ask, rs->cert[i]))
			continue;
		if (!x509_signed_by(rs->cert[i], rs->cert[i]))
			return verdict_fail(v, CHECK_CHAIN, "root is not self-signed");
		ch->ark = X509_dup(rs->cert[i]);
		ch->ask = X509_dup(ask);
		ch->product = rs->product[i];
		ch->test_root = rs->product[i] == SNP_PRODUCT_UNKNOWN;
		if (!ch->ark || !ch->ask)
			return -ENOMEM;
		x509_cn(rs->cert[i], ch->root_name, sizeof(ch->root_name));
		verdict_pass(v, CHECK_ROOT_PINNED, "%s%s", ch->root_name,
			     ch->test_root ? " (test root)" : " (pinned)");
		return 0;
	}
	if (certs->ask) {
		x509_cn(certs->ask, cn, sizeof(cn));
		return verdict_fail(v, CHECK_ROOT_PINNED, "%s is not signed by a pinned AMD root",
				    cn);
	}
	x509_cn(certs->vcek, cn, sizeof(cn));
	return verdict_fail(v, CHECK_ROOT_PINNED, "no ASK given and no built-in ASK for %s", cn);
}

static int chain_build(struct snp_verifier *sv, const struct snp_certs *certs, struct snp_chain *ch,
		       struct verdict *v)
{
	struct chain_roots rs = { .n = 0 };
	char cn[64];
	int r;

	if ((r = chain_roots(sv, certs, &rs, v)) < 0 || (r = chain_pick(sv, certs, ch, &rs, v)) < 0)
		return r;
	if (!x509_signed_by(certs->vcek, ch->ask)) {
		x509_cn(ch->ask, cn, sizeof(cn));
		return verdict_fail(v, CHECK_CHAIN, "%s is not signed by %s",
				    ch->vlek ? "VLEK" : "VCEK", cn);
	}
	/* AMD signs the whole chain with RSASSA-PSS; anything else is not AMD's. */
	if (X509_get_signature_nid(ch->ask) != NID_rsassaPss ||
	    X509_get_signature_nid(certs->vcek) != NID_rsassaPss ||
	    X509_get_signature_nid(ch->ark) != NID_rsassaPss)
		return verdict_fail(v, CHECK_CHAIN, "chain signatures are not RSASSA-PSS");
	if (X509_check_ca(ch->ark) < 1 || X509_check_ca(ch->ask) < 1)
		return verdict_fail(v, CHECK_CHAIN, "ARK or ASK is not a CA certificate");
	x509_cn(ch->ask, cn, sizeof(cn));
	verdict_pass(v, CHECK_CHAIN, "%s <- %s <- %s", ch->vlek ? "VLEK" : "VCEK", cn,
		     ch->root_name);
	return 0;
}

static int chain_verify(struct snp_verifier *sv, const struct snp_certs *certs,
			struct snp_chain *ch, struct verdict *v)
{
	char cn[64];
	EVP_PKEY *k;
	time_t now = sv->now ? sv->now : time(NULL);
	int r;

	if (!certs || !certs->vcek)
		return verdict_fail(v, CHECK_CERTIFICATES, "no VCEK or VLEK certificate given");
	x509_cn(certs->vcek, cn, sizeof(cn));
	if (strcmp(cn, "SEV-VLEK") == 0)
		ch->vlek = true;
	else if (strcmp(cn, "SEV-VCEK") != 0)
		return verdict_fail(v, CHECK_CERTIFICATES,
				    "leaf certificate is %s, not SEV-VCEK or SEV-VLEK", cn);
	ch->vcek = X509_dup(certs->vcek);
	if (!ch->vcek)
		return -ENOMEM;
	if (chain_read_extensions(ch) < 0)
		return verdict_fail(v, CHECK_CERTIFICATES, "malformed AMD extension in the %s",
				    ch->vlek ? "VLEK" : "VCEK");
	verdict_pass(v, CHECK_CERTIFICATES, "%s %s", ch->vlek ? "VLEK" : "VCEK",
		     ch->product_name[0] ? ch->product_name : "(no product name)");

	r = chain_build(sv, certs, ch, v);
	if (r < 0)
		return r;

	{
		X509 *all[3] = { ch->vcek, ch->ask, ch->ark };
		const char *names[3] = { ch->vlek ? "VLEK" : "VCEK", "ASK", "ARK" };

		for (int i = 0; i < 3; i++)
			if (x509_check_time(all[i], now) < 0)
				return verdict_fail(v, CHECK_VALIDITY,
						    "%s is not valid at the verification time",
						    names[i]);
		char when[32];

		time_rfc3339(now, when);
		verdict_pass(v, CHECK_VALIDITY, "all certificates valid at %s", when);
	}

	k = X509_get0_pubkey(ch->vcek);
	if (!k || !EVP_PKEY_is_a(k, "EC") || EVP_PKEY_get_bits(k) != 384)
		return verdict_fail(v, CHECK_KEY_TYPE, "%s key is not ECDSA P-384",
				    ch->vlek ? "VLEK" : "VCEK");
	{
		char curve[32] = "";

		EVP_PKEY_get_group_name(k, curve, sizeof(curve), NULL);
		if (strcmp(curve, "secp384r1") != 0)
			return verdict_fail(v, CHECK_KEY_TYPE, "%s key is on %s, not P-384",
					    ch->vlek ? "VLEK" : "VCEK", curve);
	}
	if (!is_rsa_pss_4096(ch->ask) || !is_rsa_pss_4096(ch->ark))
		return verdict_fail(v, CHECK_KEY_TYPE, "ASK or ARK key is not RSA-4096");
	verdict_pass(v, CHECK_KEY_TYPE, "P-384 leaf, RSA-4096 ASK and ARK");
	if (!EVP_PKEY_up_ref(k))
		return -ENOMEM;
	ch->key = k;

	if (ch->test_root)
		ch->product = product_from_name(ch->product_name);
	return 0;
}

/* Replays the chain checks of a cached chain, so the verdict lists them all. */
static void chain_replay(const struct snp_chain *ch, struct verdict *v)
{
	verdict_pass(v, CHECK_CERTIFICATES, "%s %s (cached)", ch->vlek ? "VLEK" : "VCEK",
		     ch->product_name);
	verdict_pass(v, CHECK_ROOT_PINNED, "%s (cached)", ch->root_name);
	verdict_pass(v, CHECK_CHAIN, "cached");
	verdict_pass(v, CHECK_VALIDITY, "cached");
	verdict_pass(v, CHECK_KEY_TYPE, "cached");
}

static bool chain_is_cached(struct snp_verifier *sv, const struct snp_certs *certs)
{
	const struct snp_chain *ch = &sv->chain;

	return sv->cached && certs && same_cert(certs->vcek, ch->vcek) &&
	       (!certs->ask || same_cert(certs->ask, ch->ask)) &&
	       (!certs->ark || same_cert(certs->ark, ch->ark));
}

/* ---- the report against the chain ---- */

/* The product of the chain, the report's CPUID and the certificate's name agree. */
static int check_product(const struct snp_chain *ch, struct snp_report *r, struct verdict *v)
{
	enum snp_product named = product_from_name(ch->product_name);

	if (ch->product == SNP_PRODUCT_UNKNOWN)
		return verdict_fail(v, CHECK_PRODUCT, "product of the chain is unknown");
	if (ch->product_name[0] && named != ch->product)
		return verdict_fail(v, CHECK_PRODUCT, "%s certificate under the %s root",
				    ch->product_name, snp_product_name(ch->product));
	if (r->version >= 3 && r->product != ch->product)
		return verdict_fail(
			v, CHECK_PRODUCT, "report CPUID (family %02xh model %02xh) is not %s",
			r->cpuid_fam_id, r->cpuid_mod_id, snp_product_name(ch->product));
	r->product = ch->product;
	verdict_pass(v, CHECK_PRODUCT, "%s",
		     ch->product_name[0] ? ch->product_name : snp_product_name(ch->product));
	return 0;
}

/* The product the reference names, if any: recorded only when it differs. */
static int check_product_reference(const struct snp_report *r, const char *product_name,
				   const struct snp_reference *ref, struct verdict *v)
{
	/* "Milan" matches any stepping; "Milan-B0" only that one. */
	bool ok = strchr(ref->product, '-') ? strcmp(ref->product, product_name) == 0
					    : product_from_name(ref->product) == r->product;

	if (!ref->product[0] || ok)
		return 0;
	return verdict_fail(v, CHECK_PRODUCT, "product is %s, reference wants %s",
			    product_name[0] ? product_name : snp_product_name(r->product),
			    ref->product);
}

static int check_report_against_chain(const struct snp_chain *ch, struct snp_report *r,
				      struct verdict *v)
{
	unsigned signing_key = (r->flags >> 2) & 7;
	uint8_t rbe[48], sbe[48];
	struct snp_tcb rep;
	const char *what = ch->vlek ? "VLEK" : "VCEK";

	if (signing_key != (ch->vlek ? SIGNING_KEY_VLEK : SIGNING_KEY_VCEK))
		return verdict_fail(v, CHECK_SIGNING_KEY,
				    "report names signing key %u, chain is a %s", signing_key,
				    what);
	verdict_pass(v, CHECK_SIGNING_KEY, "%s", what);

	for (int i = 0; i < 48; i++) {
		rbe[i] = r->sig_r[47 - i];
		sbe[i] = r->sig_s[47 - i];
	}
	if (ecdsa_verify_raw(ch->key, EVP_sha384(), r->raw, SNP_REPORT_SIGNED_SIZE, rbe, sbe, 48) <
	    0)
		return verdict_fail(v, CHECK_SIGNATURE,
				    "report signature does not verify with the %s", what);
	verdict_pass(v, CHECK_SIGNATURE, "ECDSA P-384 by the %s", what);

	rep = snp_tcb_decode(r->reported_tcb, ch->product);
	{
		const uint8_t want[5] = { ch->tcb.fmc, ch->tcb.bootloader, ch->tcb.tee, ch->tcb.snp,
					  ch->tcb.microcode };
		const uint8_t got[5] = { rep.fmc, rep.bootloader, rep.tee, rep.snp, rep.microcode };
		static const char *const names[5] = { "fmc", "bootloader", "tee", "snp",
						      "microcode" };

		for (int i = 0; i < 5; i++) {
			if (i == 0 && ch->product != SNP_PRODUCT_TURIN)
				continue;
			if (!ch->has_tcb[i])
				return verdict_fail(v, CHECK_TCB_MATCH,
						    "%s has no %s SPL extension", what, names[i]);
			if (want[i] != got[i])
				return verdict_fail(v, CHECK_TCB_MATCH,
						    "reported_tcb %s is %u, %s says %u", names[i],
						    got[i], what, want[i]);
		}
		verdict_pass(v, CHECK_TCB_MATCH, "reported_tcb equals the %s TCB", what);
	}

	if (ch->vlek) {
		if (ch->hwid_len)
			return verdict_fail(v, CHECK_CHIP_ID, "VLEK carries a hwID");
		verdict_pass(v, CHECK_CHIP_ID, "VLEK: not bound to a chip");
	} else if (r->flags & 2) {
		verdict_pass(v, CHECK_CHIP_ID, "chip_id masked by the guest (MASK_CHIP_ID)");
	} else {
		size_t want = ch->product == SNP_PRODUCT_TURIN ? 8 : 64;

		if (!ch->hwid_len)
			return verdict_fail(v, CHECK_CHIP_ID, "VCEK has no hwID extension");
		/* Turin: the hwID is CHIP_ID's first 8 bytes, the other 56 are zero. */
		if (ch->hwid_len != want)
			return verdict_fail(v, CHECK_CHIP_ID, "%s VCEK hwID is %zu bytes, not %zu",
					    snp_product_name(ch->product), ch->hwid_len, want);
		if (CRYPTO_memcmp(ch->hwid, r->chip_id, ch->hwid_len) != 0 ||
		    !is_zero(r->chip_id + ch->hwid_len, 64 - ch->hwid_len))
			return verdict_fail(v, CHECK_CHIP_ID, "chip_id differs from the VCEK hwID");
		verdict_pass(v, CHECK_CHIP_ID, "chip_id equals the VCEK hwID");
	}
	return 0;
}

int snp_verify_genuine(struct snp_verifier *sv, const uint8_t *buf, size_t len,
		       const struct snp_certs *certs, struct snp_report *r,
		       char product_name[SNP_PRODUCT_NAME_MAX], struct verdict *v)
{
	struct snp_chain *ch = &sv->chain;
	int rc;

	verdict_init(v, PLATFORM_SNP);
	product_name[0] = 0;
	if (snp_report_parse(buf, len, r, v) < 0)
		return 0;

	if (chain_is_cached(sv, certs)) {
		chain_replay(ch, v);
	} else {
		sv->cached = false;
		chain_clear(ch);
		rc = chain_verify(sv, certs, ch, v);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			return 0;
		sv->cached = true;
	}
	if (check_product(ch, r, v) == 0 && check_report_against_chain(ch, r, v) == 0)
		snprintf(product_name, SNP_PRODUCT_NAME_MAX, "%s", ch->product_name);
	return 0;
}

int snp_verify_match(const struct snp_report *r, const char *product_name,
		     const struct snp_reference *ref, const uint8_t *report_data, struct verdict *v)
{
	struct reference none;

	/* Without reference values: the secure defaults. */
	if (!ref) {
		reference_defaults(&none);
		ref = &none.snp;
	}
	if (check_product_reference(r, product_name, ref, v) < 0 ||
	    snp_check_policy(r, ref, v) < 0 || snp_check_reference(r, ref, report_data, v) < 0)
		return -1;
	return 0;
}

int snp_verify(struct snp_verifier *sv, const uint8_t *buf, size_t len,
	       const struct snp_certs *certs, const struct snp_reference *ref,
	       const uint8_t *report_data, struct snp_report *r, struct verdict *v)
{
	char product_name[SNP_PRODUCT_NAME_MAX];
	int rc = snp_verify_genuine(sv, buf, len, certs, r, product_name, v);

	if (rc < 0 || !verdict_ok(v))
		return rc;
	snp_verify_match(r, product_name, ref, report_data, v);
	return 0;
}
