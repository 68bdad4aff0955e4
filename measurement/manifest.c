/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image manifests (docs/image.md): what an image builder publishes about a
 * launch image, signed with the builder's secp256k1 key, and the register
 * sets that verifiers and the key broker compare evidence with. The parser
 * is strict: unknown members, duplicate names, a register both predicted
 * and named unpredicted, or a launch without a required register are
 * refused, so that no value silently goes unchecked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <secp256k1.h>

#include "measurement/platform.h"

#define fail(err, errlen, ...) set_error(err, errlen, -EBADMSG, "E_MANIFEST: " __VA_ARGS__)

/* A launch register's value and has_ flag in a reference. */
static uint8_t *reg_val(struct reference *r, const struct platform_reg *g)
{
	return (uint8_t *)r + g->val;
}

static bool *reg_has(struct reference *r, const struct platform_reg *g)
{
	return (bool *)((char *)r + g->has);
}

uint32_t launch_registers_required(enum cvm_platform p)
{
	const struct platform *pl = platform_get(p);

	return pl ? pl->launch_required : 0;
}

uint32_t reference_pinned(const struct reference *r, enum cvm_platform p)
{
	const struct platform *pl = platform_get(p);

	return pl ? platform_pinned(pl, r) : 0;
}

void launch_registers_text(enum cvm_platform p, uint32_t bits, char *out, size_t cap)
{
	const struct platform *pl = platform_get(p);
	size_t o = 0;

	if (cap)
		out[0] = 0;
	for (size_t i = 0; pl && i < pl->nlaunch_regs && o < cap; i++) {
		if (!(bits & (1u << i)))
			continue;
		int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", pl->launch_regs[i].name);

		if (w < 0)
			break;
		o += (size_t)w;
	}
}

int reference_complete(const struct reference *r, enum cvm_platform p, char *err, size_t errlen)
{
	const struct platform *pl = platform_get(p);
	uint32_t missing = launch_registers_required(p) & ~reference_pinned(r, p);
	char names[160];

	if (missing) {
		launch_registers_text(p, missing, names, sizeof(names));
		return set_error(err, errlen, -EINVAL,
				 "%s: %s not pinned: the %s would go unchecked", pl->name, names,
				 pl->launch_covers);
	}
	if (pl && !platform_key_pinned(pl, r))
		return set_error(
			err, errlen, -EINVAL,
			"%s: %s not pinned: %s proves nothing without a pinned attestation "
			"key",
			pl->name, pl->key_pin->name, pl->noun);
	return 0;
}

/* ---- parsing ---- */

/* A manifest's platforms are the rows that have launch registers. */
static const struct platform *manifest_row(const char *name, size_t max)
{
	const struct platform *pl = platform_by_name(name);

	return pl && pl->nlaunch_regs && (size_t)pl->id < max ? pl : NULL;
}

static int only(const cJSON *o, const char *where, const char *const *names, size_t n, char *err,
		size_t errlen)
{
	const cJSON *m;

	if (!cJSON_IsObject(o))
		return fail(err, errlen, "%s: must be an object", where);
	if ((m = json_unknown_member(o, names, n)))
		return fail(err, errlen, "%s.%.32s: unknown member", where, m->string);
	return 0;
}

static bool name_valid(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n &&
	       s[0] != '.' && s[0] != '-';
}

static int parse_files(const cJSON *files, char *err, size_t errlen)
{
	static const char *const fnames[] = { "path", "sha256" };
	const cJSON *f;
	uint8_t d[32];
	const char *path;
	int r;

	if (!cJSON_IsObject(files) || !cJSON_GetArraySize(files))
		return fail(err, errlen, "files: must be an object naming each file");
	cJSON_ArrayForEach(f, files) {
		if (!name_valid(f->string, 64))
			return fail(err, errlen, "files.%.32s: not a file role name", f->string);
		if ((r = only(f, "files entry", fnames, ARRAY_SIZE(fnames), err, errlen)) < 0)
			return r;
		if (json_get_hex(f, "sha256", d, 32) < 0)
			return fail(err, errlen, "files.%.32s.sha256: must be 32 bytes of hex",
				    f->string);
		if (json_get_string(f, "path", &path) < 0 || !*path || strlen(path) > 4096)
			return fail(err, errlen, "files.%.32s.path: must be a string", f->string);
	}
	if (!cJSON_GetObjectItemCaseSensitive(files, "kernel") ||
	    !cJSON_GetObjectItemCaseSensitive(files, "initrd"))
		return fail(err, errlen, "files: kernel and initrd are required");
	return 0;
}

/*
 * A launch's register value, or its absence: a member by the register's
 * name, or keyed by its number in the row's launch_regs_member.
 */
static int launch_reg(const cJSON *l, const struct platform *pl, size_t i, struct reference *ref,
		      bool *has, char *err, size_t errlen)
{
	const struct platform_reg *g = &pl->launch_regs[i];
	const cJSON *o = l;
	const char *name = g->name;
	char key[24];

	*has = false;
	if (pl->launch_regs_member) {
		o = cJSON_GetObjectItemCaseSensitive(l, pl->launch_regs_member);
		snprintf(key, sizeof(key), "%zu", i);
		name = key;
	}
	if (!o || !cJSON_GetObjectItemCaseSensitive(o, name))
		return 0;
	if (json_get_hex(o, name, reg_val(ref, g), g->len) < 0)
		return fail(err, errlen, "%s launch %s%s%s: must be %zu bytes of hex", pl->name,
			    pl->launch_regs_member ? pl->launch_regs_member : "",
			    pl->launch_regs_member ? "." : "", name, g->len);
	*reg_has(ref, g) = *has = true;
	return 0;
}

/* The keys of a launch_regs_member: register numbers of required registers, in decimal. */
static int launch_reg_keys(const cJSON *l, const struct platform *pl, char *err, size_t errlen)
{
	const cJSON *regs, *e;

	if (!pl->launch_regs_member)
		return 0;
	regs = cJSON_GetObjectItemCaseSensitive(l, pl->launch_regs_member);
	if (regs && !cJSON_IsObject(regs))
		return fail(err, errlen, "%s launch %s: must be an object", pl->name,
			    pl->launch_regs_member);
	cJSON_ArrayForEach(e, regs) {
		char *end;
		long i = strtol(e->string, &end, 10);

		if (*end || !*e->string || i < 0 || i >= (long)pl->nlaunch_regs ||
		    !(pl->launch_required & (1u << i)) || (e->string[0] == '0' && e->string[1]))
			return fail(err, errlen, "%s launch %s.%.16s: not %s", pl->name,
				    pl->launch_regs_member, e->string, pl->launch_regs_key_text);
	}
	return 0;
}

static int parse_launch(const cJSON *l, const struct platform *pl, uint32_t unpredicted,
			struct reference *ref, char *label, size_t labcap, char *err, size_t errlen)
{
	const char *vtype = NULL;
	uint64_t mem = 0, vcpus = 0;
	size_t nmembers = 0;
	char where[48];
	int r;

	reference_defaults(ref);
	while (pl->launch_members[nmembers])
		nmembers++;
	snprintf(where, sizeof(where), "%s launch", pl->name);
	if ((r = only(l, where, pl->launch_members, nmembers, err, errlen)) < 0 ||
	    (r = launch_reg_keys(l, pl, err, errlen)) < 0)
		return r;
	for (size_t i = 0; i < pl->nlaunch_regs; i++) {
		bool has;

		if (!(pl->launch_required & (1u << i)))
			continue;
		if ((r = launch_reg(l, pl, i, ref, &has, err, errlen)) < 0)
			return r;
		if (has && (unpredicted & (1u << i)))
			return fail(err, errlen, "%s: %s is both predicted and unpredicted",
				    pl->name, pl->launch_regs[i].name);
		if (!has && !(unpredicted & (1u << i)))
			return fail(err, errlen,
				    "%s launch: no %s (predict it, or name it in \"unpredicted\")",
				    pl->name, pl->launch_regs[i].name);
	}
	if (cJSON_GetObjectItemCaseSensitive(l, "memory_mib") &&
	    (json_get_u64(l, "memory_mib", &mem) < 0 || !mem || mem > (1u << 22)))
		return fail(err, errlen, "%s launch memory_mib: must be 1 to 4194304", pl->name);
	if (cJSON_GetObjectItemCaseSensitive(l, "vcpus") &&
	    (json_get_u64(l, "vcpus", &vcpus) < 0 || !vcpus || vcpus > 512))
		return fail(err, errlen, "%s launch vcpus: must be 1 to 512", pl->name);
	if (cJSON_GetObjectItemCaseSensitive(l, "vcpu_type") &&
	    (json_get_string(l, "vcpu_type", &vtype) < 0 || !name_valid(vtype, 32)))
		return fail(err, errlen, "%s launch vcpu_type: not a vCPU type name", pl->name);
	if (pl->launch_by_vcpus && (!vcpus || !vtype))
		return fail(err, errlen, "%s launch: vcpus and vcpu_type are required", pl->name);
	if (!pl->launch_by_vcpus && !mem)
		return fail(err, errlen, "%s launch: memory_mib is required", pl->name);
	platform_reference_add(pl, ref);
	if (pl->launch_by_vcpus)
		snprintf(label, labcap, "%llu vCPU %.32s", (unsigned long long)vcpus, vtype);
	else if (vcpus)
		snprintf(label, labcap, "%llu MiB, %llu vCPU", (unsigned long long)mem,
			 (unsigned long long)vcpus);
	else
		snprintf(label, labcap, "%llu MiB", (unsigned long long)mem);
	return 0;
}

static int parse_platform(const cJSON *o, const struct platform *pl, struct manifest_platform *mp,
			  char *err, size_t errlen)
{
	static const char *const names[] = { "launches", "unpredicted" };
	const cJSON *launches, *un, *e;
	size_t k = 0;
	char where[32];
	int r;

	snprintf(where, sizeof(where), "platforms.%s", pl->name);
	if ((r = only(o, where, names, ARRAY_SIZE(names), err, errlen)) < 0)
		return r;
	if ((un = cJSON_GetObjectItemCaseSensitive(o, "unpredicted"))) {
		if (!cJSON_IsArray(un))
			return fail(err, errlen, "%s.unpredicted: must be an array", where);
		cJSON_ArrayForEach(e, un) {
			size_t i;
			const char *s = cJSON_GetStringValue(e);

			for (i = 0; s && i < pl->nlaunch_regs && strcmp(s, pl->launch_regs[i].name);
			     i++)
				;
			if (!s || i == pl->nlaunch_regs || !(pl->launch_required & (1u << i)))
				return fail(err, errlen, "%s.unpredicted: not a launch register",
					    where);
			if (mp->unpredicted & (1u << i))
				return fail(err, errlen, "%s.unpredicted: %s named twice", where,
					    s);
			mp->unpredicted |= 1u << i;
		}
	}
	launches = cJSON_GetObjectItemCaseSensitive(o, "launches");
	if (!cJSON_IsArray(launches) || !cJSON_GetArraySize(launches) ||
	    cJSON_GetArraySize(launches) > MANIFEST_LAUNCHES_MAX)
		return fail(err, errlen, "%s.launches: must be an array of 1 to %d launches", where,
			    MANIFEST_LAUNCHES_MAX);
	mp->n = (size_t)cJSON_GetArraySize(launches);
	mp->launches = calloc(mp->n, sizeof(*mp->launches));
	mp->labels = calloc(mp->n, sizeof(*mp->labels));
	if (!mp->launches || !mp->labels)
		return -ENOMEM;
	cJSON_ArrayForEach(e, launches) {
		if ((r = parse_launch(e, pl, mp->unpredicted, &mp->launches[k], mp->labels[k],
				      sizeof(mp->labels[k]), err, errlen)) < 0)
			return r;
		for (size_t j = 0; j < k; j++)
			if (!strcmp(mp->labels[j], mp->labels[k]))
				return fail(err, errlen, "%s: two launches of %s", where,
					    mp->labels[k]);
		k++;
	}
	mp->present = true;
	return 0;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(m->p); i++) {
		free(m->p[i].launches);
		free(m->p[i].labels);
	}
	memset(m, 0, sizeof(*m));
}

bool manifest_text_is_manifest(const char *text, size_t len)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;

	return json_parse(text, len, &root) == 0 && cJSON_IsObject(root) &&
	       cJSON_GetObjectItemCaseSensitive(root, "manifest") != NULL;
}

int manifest_parse(const char *text, size_t len, struct manifest *m, char *err, size_t errlen)
{
	static const char *const names[] = { "manifest", "name",  "version",
					     "cmdline",	 "files", "platforms" };
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	_cleanup_free_ char *canon = NULL;
	const cJSON *plats, *e;
	const char *s;
	uint64_t ver;
	size_t clen;
	int r;

	memset(m, 0, sizeof(*m));
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		return fail(err, errlen,
			    "not a JSON object (or a duplicate member name, or invalid UTF-8)");
	if ((r = only(root, "manifest", names, ARRAY_SIZE(names), err, errlen)) < 0)
		goto out;
	r = -EBADMSG;
	if (json_get_u64(root, "manifest", &ver) < 0 || ver != MANIFEST_FORMAT) {
		fail(err, errlen, "manifest: must be %d (the format version)", MANIFEST_FORMAT);
		goto out;
	}
	if (json_get_string(root, "name", &s) < 0 || !name_valid(s, 64)) {
		fail(err, errlen, "name: 1 to 64 of [A-Za-z0-9._-]");
		goto out;
	}
	snprintf(m->name, sizeof(m->name), "%s", s);
	if (json_get_string(root, "version", &s) < 0 || !name_valid(s, 64)) {
		fail(err, errlen, "version: 1 to 64 of [A-Za-z0-9._-]");
		goto out;
	}
	snprintf(m->version, sizeof(m->version), "%s", s);
	if (json_get_string(root, "cmdline", &s) < 0 || strlen(s) > 4096) {
		fail(err, errlen, "cmdline: must be a string of at most 4096 bytes");
		goto out;
	}
	if ((r = parse_files(cJSON_GetObjectItemCaseSensitive(root, "files"), err, errlen)) < 0)
		goto out;
	plats = cJSON_GetObjectItemCaseSensitive(root, "platforms");
	r = -EBADMSG;
	if (!cJSON_IsObject(plats) || !cJSON_GetArraySize(plats)) {
		fail(err, errlen, "platforms: must name at least one platform (tdx, snp, tpm)");
		goto out;
	}
	cJSON_ArrayForEach(e, plats) {
		const struct platform *pl = manifest_row(e->string, ARRAY_SIZE(m->p));

		if (!pl) {
			fail(err, errlen, "platforms.%.32s: not a platform (tdx, snp, tpm)",
			     e->string);
			goto out;
		}
		if ((r = parse_platform(e, pl, &m->p[pl->id], err, errlen)) < 0)
			goto out;
	}
	if ((r = jcs_serialize(root, &canon, &clen)) < 0) {
		fail(err, errlen, "cannot be put in canonical form (RFC 8785)");
		goto out;
	}
	SHA256((const uint8_t *)canon, clen, m->sha256);
	return 0;
out:
	manifest_free(m);
	return r < 0 ? r : -EBADMSG;
}

/* ---- signatures ---- */

int manifest_sign(const char *text, size_t len, const struct result_key *k, char **sig_json,
		  char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	struct manifest m;
	secp256k1_ecdsa_signature sig;
	uint8_t compact[64];
	char pub[67];
	int r;

	if (!k->sk)
		return set_error(err, errlen, -EINVAL, "E_MANIFEST_SIGNATURE: no private key");
	if ((r = manifest_parse(text, len, &m, err, errlen)) < 0)
		return r;
	/* RFC 6979 nonces, low S: the same manifest and key give the same signature */
	r = cvm_secp256k1() &&
	    secp256k1_ecdsa_sign(cvm_secp256k1(), &sig, m.sha256, k->sk, NULL, NULL) &&
	    secp256k1_ecdsa_signature_serialize_compact(cvm_secp256k1(), compact, &sig);
	manifest_free(&m);
	if (!r)
		return set_error(err, errlen, -EIO, "E_MANIFEST_SIGNATURE: signing failed");
	result_key_pub_hex(k, pub);
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "builder", pub) ||
	    !json_add_hex(o, "signature", compact, sizeof(compact)) ||
	    jcs_serialize(o, sig_json, &(size_t){ 0 }) < 0)
		return set_error(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

int manifest_check_signature(const struct manifest *m, const char *sig, size_t siglen,
			     const uint8_t *builder, uint8_t signer[33], char *err, size_t errlen)
{
	static const char *const names[] = { "builder", "signature" };
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	secp256k1_ecdsa_signature s;
	secp256k1_pubkey pk;
	uint8_t compact[64], pub[33];
	const char *hex;

	if (json_parse(sig, siglen, &o) < 0 || !cJSON_IsObject(o))
		return set_error(err, errlen, -EBADMSG,
				 "E_MANIFEST_SIGNATURE: the signature file is not a JSON object");
	if (json_unknown_member(o, names, ARRAY_SIZE(names)))
		return set_error(err, errlen, -EBADMSG,
				 "E_MANIFEST_SIGNATURE: the signature file has an unknown member");
	if (json_get_string(o, "builder", &hex) < 0 || result_pub_from_hex(hex, pub) < 0)
		return set_error(err, errlen, -EBADMSG,
				 "E_MANIFEST_SIGNATURE: builder: not a compressed secp256k1 "
				 "public key (66 hex digits)");
	if (json_get_hex(o, "signature", compact, sizeof(compact)) < 0)
		return set_error(err, errlen, -EBADMSG,
				 "E_MANIFEST_SIGNATURE: signature: must be 64 bytes of hex");
	if (builder && CRYPTO_memcmp(builder, pub, 33))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_MANIFEST_SIGNATURE: signed by another key than the builder's");
	if (!cvm_secp256k1() ||
	    !secp256k1_ecdsa_signature_parse_compact(cvm_secp256k1(), &s, compact) ||
	    secp256k1_ecdsa_signature_normalize(cvm_secp256k1(), NULL, &s) ||
	    !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, pub, 33) ||
	    !secp256k1_ecdsa_verify(cvm_secp256k1(), &s, m->sha256, &pk))
		return set_error(err, errlen, -EKEYREJECTED,
				 "E_MANIFEST_SIGNATURE: the signature does not verify over this "
				 "manifest");
	if (signer)
		memcpy(signer, pub, 33);
	return 0;
}

/* ---- candidates: a manifest's launches with a policy's pins ---- */

/* The launch's registers over the pins. */
static void overlay(struct reference *c, const struct reference *l, const struct platform *pl)
{
	platform_reference_add(pl, c);
	for (size_t i = 0; i < pl->nlaunch_regs; i++) {
		const struct platform_reg *g = &pl->launch_regs[i];

		if (!*reg_has((struct reference *)l, g))
			continue;
		*reg_has(c, g) = true;
		memcpy(reg_val(c, g), reg_val((struct reference *)l, g), g->len);
	}
}

int manifest_candidates(const struct manifest *m, enum cvm_platform p, const struct reference *pins,
			struct reference **out, size_t *n, char *err, size_t errlen)
{
	const struct platform *pl = platform_get(p);
	const struct manifest_platform *mp;
	uint32_t twice;
	char names[160];
	int r;

	*out = NULL;
	*n = 0;
	if (!pl || (size_t)p >= ARRAY_SIZE(m->p) || !m->p[p].present)
		return set_error(err, errlen, -ENOENT, "image %s %s is not offered on %s", m->name,
				 m->version, platform_name(p));
	mp = &m->p[p];
	twice = reference_pinned(pins, p) & ~mp->unpredicted;
	if (twice) {
		launch_registers_text(p, twice, names, sizeof(names));
		return set_error(err, errlen, -EINVAL,
				 "%s: %s pinned by hand, but image %s predicts it: leave it to "
				 "the manifest",
				 platform_name(p), names, m->name);
	}
	*out = calloc(mp->n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < mp->n; i++) {
		(*out)[i] = *pins;
		overlay(&(*out)[i], &mp->launches[i], pl);
		if ((r = reference_complete(&(*out)[i], p, names, sizeof(names))) < 0) {
			free(*out);
			*out = NULL;
			return set_error(
				err, errlen, r, "image %s %s: %s%s", m->name, m->version, names,
				r == -EINVAL && (launch_registers_required(p) &
						 ~reference_pinned(pins, p) & mp->unpredicted)
					? " (the manifest does not predict it: pin it by "
					  "hand in the reference)"
					: "");
		}
	}
	*n = mp->n;
	return 0;
}
