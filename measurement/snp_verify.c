/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP report verification: the VCEK (or VLEK) chain to a pinned AMD
 * root, the report signature, and the report's claims against the VCEK's
 * extensions and the reference values.
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
	char product_name[32]; /* productName extension, "Milan-B0" */
	bool has_tcb[5];       /* fmc, bootloader, tee, snp, microcode */
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
static int chain_build(struct snp_verifier *sv, const struct snp_certs *certs, struct snp_chain *ch,
		       struct verdict *v)
{
	X509 *roots[SNP_ROOTS_N + 16];
	enum snp_product products[SNP_ROOTS_N + 16];
	size_t nroots = 0;
	char cn[64];
	uint8_t fp[32];
	char fphex[65];

	if (certs->ark) {
		int i;

		for (i = 0; i < SNP_ROOTS_N; i++)
			if (X509_cmp(certs->ark, sv->ark[i]) == 0)
				break;
		if (i < SNP_ROOTS_N) {
			products[nroots] = snp_roots[i].product;
			roots[nroots++] = sv->ark[i];
		} else if (is_test_root(sv, certs->ark)) {
			products[nroots] = SNP_PRODUCT_UNKNOWN;
			roots[nroots++] = certs->ark;
		} else {
			x509_fingerprint(certs->ark, fp);
			hex_encode(fp, 32, fphex);
			return verdict_fail(v, CHECK_ROOT_PINNED,
					    "ARK (SHA-256 %s) is not a pinned AMD root", fphex);
		}
	} else {
		for (int i = 0; i < SNP_ROOTS_N; i++) {
			products[nroots] = snp_roots[i].product;
			roots[nroots++] = sv->ark[i];
		}
		for (int i = 0; i < sk_X509_num(sv->test_roots) && nroots < ARRAY_SIZE(roots);
		     i++) {
			products[nroots] = SNP_PRODUCT_UNKNOWN;
			roots[nroots++] = sk_X509_value(sv->test_roots, i);
		}
	}

	for (size_t i = 0; i < nroots; i++) {
		X509 *ask = certs->ask;

		if (!ask) {
			/* No intermediate given: the built-in one of this product. */
			int k;

			for (k = 0; k < SNP_ROOTS_N; k++)
				if (roots[i] == sv->ark[k])
					break;
			if (k == SNP_ROOTS_N)
				continue;
			ask = ch->vlek ? sv->asvk[k] : sv->ask[k];
			/* The product's intermediate is the one that issued the leaf. */
			if (X509_NAME_cmp(X509_get_issuer_name(certs->vcek),
					  X509_get_subject_name(ask)) != 0)
				continue;
		}
		if (!x509_signed_by(ask, roots[i]))
			continue;
		if (!x509_signed_by(roots[i], roots[i]))
			return verdict_fail(v, CHECK_CHAIN, "root is not self-signed");
		ch->ark = X509_dup(roots[i]);
		ch->ask = X509_dup(ask);
		ch->product = products[i];
		ch->test_root = products[i] == SNP_PRODUCT_UNKNOWN;
		if (!ch->ark || !ch->ask)
			return -ENOMEM;
		x509_cn(roots[i], ch->root_name, sizeof(ch->root_name));
		verdict_pass(v, CHECK_ROOT_PINNED, "%s%s", ch->root_name,
			     ch->test_root ? " (test root)" : " (pinned)");
		break;
	}
	if (!ch->ark) {
		if (certs->ask) {
			x509_cn(certs->ask, cn, sizeof(cn));
			return verdict_fail(v, CHECK_ROOT_PINNED,
					    "%s is not signed by a pinned AMD root", cn);
		}
		x509_cn(certs->vcek, cn, sizeof(cn));
		return verdict_fail(v, CHECK_ROOT_PINNED, "no ASK given and no built-in ASK for %s",
				    cn);
	}
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

static int check_product(const struct snp_chain *ch, struct snp_report *r,
			 const struct snp_reference *ref, struct verdict *v)
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
	if (ref && ref->product[0]) {
		/* "Milan" matches any stepping; "Milan-B0" only that one. */
		bool ok = strchr(ref->product, '-')
				  ? strcmp(ref->product, ch->product_name) == 0
				  : product_from_name(ref->product) == ch->product;

		if (!ok)
			return verdict_fail(v, CHECK_PRODUCT, "product is %s, reference wants %s",
					    ch->product_name[0] ? ch->product_name
								: snp_product_name(ch->product),
					    ref->product);
	}
	r->product = ch->product;
	verdict_pass(v, CHECK_PRODUCT, "%s",
		     ch->product_name[0] ? ch->product_name : snp_product_name(ch->product));
	return 0;
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

/* "a b c" of the named bits set in x, or "none". */
static void bit_names(const char *(*name)(size_t, uint64_t *), uint64_t x, char *out, size_t cap)
{
	const char *n;
	uint64_t bit;
	size_t len = 0;

	out[0] = 0;
	for (size_t i = 0; (n = name(i, &bit)) && len < cap; i++)
		if (x & bit)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", n);
	if (!out[0])
		snprintf(out, cap, "none");
}

/* SINGLE_SOCKET, the ABI version and the feature bits the reference requires. */
static int check_policy_required(const struct snp_report *r, const struct snp_reference *ref,
				 struct verdict *v)
{
	unsigned major = (unsigned)(r->policy >> 8) & 0xff, minor = (unsigned)r->policy & 0xff;
	uint64_t missing;
	char names[160];

	if (ref->require_single_socket && !(r->policy & SNP_POLICY_SINGLE_SOCKET))
		return verdict_fail(v, CHECK_POLICY_SINGLE_SOCKET,
				    "guest policy lacks SINGLE_SOCKET; the reference requires it");
	verdict_pass(v, CHECK_POLICY_SINGLE_SOCKET, "%s%s",
		     r->policy & SNP_POLICY_SINGLE_SOCKET ? "single socket" : "any sockets",
		     ref->require_single_socket ? " (required)" : "");
	if (ref->has_min_abi && (major < ref->min_abi_major ||
				 (major == ref->min_abi_major && minor < ref->min_abi_minor)))
		return verdict_fail(v, CHECK_POLICY_ABI,
				    "guest policy ABI %u.%u below the reference's minimum %u.%u",
				    major, minor, ref->min_abi_major, ref->min_abi_minor);
	if (ref->has_min_abi)
		verdict_pass(v, CHECK_POLICY_ABI, "ABI %u.%u, at least %u.%u", major, minor,
			     ref->min_abi_major, ref->min_abi_minor);
	else
		verdict_pass(v, CHECK_POLICY_ABI, "ABI %u.%u (no minimum given)", major, minor);
	missing = ref->require_policy & ~r->policy;
	if (missing) {
		bit_names(snp_policy_bit_name, missing, names, sizeof(names));
		return verdict_fail(v, CHECK_POLICY_FEATURES,
				    "guest policy lacks %s; the reference requires it", names);
	}
	bit_names(snp_policy_bit_name, r->policy & ~SNP_POLICY_SINGLE_SOCKET, names, sizeof(names));
	verdict_pass(v, CHECK_POLICY_FEATURES, "%s", names);
	missing = ref->require_platform & ~r->platform_info;
	if (missing) {
		bit_names(snp_platform_bit_name, missing, names, sizeof(names));
		return verdict_fail(v, CHECK_PLATFORM_INFO,
				    "PLATFORM_INFO lacks %s; the reference requires it", names);
	}
	bit_names(snp_platform_bit_name, r->platform_info, names, sizeof(names));
	verdict_pass(v, CHECK_PLATFORM_INFO, "%s (0x%llx)", names,
		     (unsigned long long)r->platform_info);
	return 0;
}

static int check_policy(const struct snp_report *r, const struct snp_reference *ref,
			struct verdict *v)
{
	if ((r->policy & SNP_POLICY_DEBUG) && !(ref && ref->allow_debug))
		return verdict_fail(v, CHECK_POLICY_DEBUG,
				    "guest policy 0x%llx allows DEBUG; the reference does not",
				    (unsigned long long)r->policy);
	verdict_pass(v, CHECK_POLICY_DEBUG, "%s",
		     r->policy & SNP_POLICY_DEBUG ? "DEBUG allowed by the reference" : "no DEBUG");
	if ((r->policy & SNP_POLICY_MIGRATE_MA) && !(ref && ref->allow_migration_agent))
		return verdict_fail(
			v, CHECK_POLICY_MA,
			"guest policy allows a migration agent; the reference does not");
	verdict_pass(v, CHECK_POLICY_MA, "%s",
		     r->policy & SNP_POLICY_MIGRATE_MA ? "allowed by the reference" : "none");
	if ((r->policy & SNP_POLICY_SMT) && ref && !ref->allow_smt)
		return verdict_fail(v, CHECK_POLICY_SMT,
				    "guest policy allows SMT; the reference does not");
	verdict_pass(v, CHECK_POLICY_SMT, "SMT %s", r->policy & SNP_POLICY_SMT ? "allowed" : "off");
	if (ref && ref->has_policy) {
		if (r->policy != ref->policy)
			return verdict_fail(v, CHECK_POLICY, "policy 0x%llx, reference 0x%llx",
					    (unsigned long long)r->policy,
					    (unsigned long long)ref->policy);
		verdict_pass(v, CHECK_POLICY, "0x%llx", (unsigned long long)r->policy);
	}
	{
		uint32_t want = ref && ref->has_vmpl ? ref->vmpl : 0;

		if (r->vmpl != want)
			return verdict_fail(v, CHECK_VMPL, "VMPL %u, expected %u", r->vmpl, want);
		verdict_pass(v, CHECK_VMPL, "%u", r->vmpl);
	}
	return check_policy_required(r, ref, v);
}

/*
 * reported_tcb (the TCB the VCEK was derived for, tcb_match) against the
 * reference's min_tcb, or else the default floor of the report's product.
 */
static int check_min_tcb(const struct snp_report *r, const struct snp_reference *ref,
			 struct verdict *v)
{
	static const char *const names[5] = { "fmc", "bootloader", "tee", "snp", "microcode" };
	struct snp_tcb t = snp_tcb_decode(r->reported_tcb, r->product), m;
	const char *source = "the reference's min_tcb";

	if (ref->has_min_tcb)
		m = ref->min_tcb;
	else if (!snp_default_min_tcb(r, &m, &source)) {
		verdict_pass(v, CHECK_MIN_TCB, "no default floor for %s: give min_tcb",
			     snp_product_name(r->product));
		return 0;
	}
	{
		const uint8_t got[5] = { t.fmc, t.bootloader, t.tee, t.snp, t.microcode };
		const uint8_t min[5] = { m.fmc, m.bootloader, m.tee, m.snp, m.microcode };

		for (int i = 0; i < 5; i++) {
			if (i == 0 && r->product != SNP_PRODUCT_TURIN)
				continue;
			if (got[i] < min[i])
				return verdict_fail(v, CHECK_MIN_TCB,
						    "reported_tcb %s %u below %u (%s)", names[i],
						    got[i], min[i], source);
		}
	}
	if (r->product == SNP_PRODUCT_TURIN)
		verdict_pass(v, CHECK_MIN_TCB,
			     "fmc %u bl %u tee %u snp %u ucode %u, at least %u/%u/%u/%u/%u (%s)",
			     t.fmc, t.bootloader, t.tee, t.snp, t.microcode, m.fmc, m.bootloader,
			     m.tee, m.snp, m.microcode, source);
	else
		verdict_pass(v, CHECK_MIN_TCB,
			     "bl %u tee %u snp %u ucode %u, at least %u/%u/%u/%u (%s)",
			     t.bootloader, t.tee, t.snp, t.microcode, m.bootloader, m.tee, m.snp,
			     m.microcode, source);
	return 0;
}

static int check_reference(const struct snp_report *r, const struct snp_reference *ref,
			   const uint8_t *report_data, struct verdict *v)
{
	if (ref && ref->has_measurement &&
	    verdict_compare(v, CHECK_MEASUREMENT, "measurement", r->measurement, ref->measurement,
			    48) < 0)
		return -1;
	if (ref && ref->has_host_data &&
	    verdict_compare(v, CHECK_HOST_DATA, "host_data", r->host_data, ref->host_data, 32) < 0)
		return -1;
	if (ref && ref->has_family_id &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "family_id", r->family_id, ref->family_id, 16) < 0)
		return -1;
	if (ref && ref->has_image_id &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "image_id", r->image_id, ref->image_id, 16) < 0)
		return -1;
	if (ref && ref->has_id_key_digest &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "id_key_digest", r->id_key_digest,
			    ref->id_key_digest, 48) < 0)
		return -1;
	if (ref && ref->has_author_key_digest &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "author_key_digest", r->author_key_digest,
			    ref->author_key_digest, 48) < 0)
		return -1;
	if (ref && ref->has_report_data &&
	    verdict_compare(v, CHECK_REPORT_DATA, "report_data", r->report_data, ref->report_data,
			    64) < 0)
		return -1;
	if (report_data && verdict_compare(v, CHECK_REPORT_DATA, "report_data", r->report_data,
					   report_data, 64) < 0)
		return -1;
	return check_min_tcb(r, ref, v);
}

int snp_verify(struct snp_verifier *sv, const uint8_t *buf, size_t len,
	       const struct snp_certs *certs, const struct snp_reference *ref,
	       const uint8_t *report_data, struct snp_report *r, struct verdict *v)
{
	struct snp_chain *ch = &sv->chain;
	struct reference none;
	int rc;

	/* Without reference values: the secure defaults. */
	if (!ref) {
		reference_defaults(&none);
		ref = &none.snp;
	}
	verdict_init(v, PLATFORM_SNP);
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

	if (check_product(ch, r, ref, v) < 0 || check_report_against_chain(ch, r, v) < 0 ||
	    check_policy(r, ref, v) < 0 || check_reference(r, ref, report_data, v) < 0)
		return 0;
	return 0;
}
