/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A key broker resource's policy: the image it is released to (a signed
 * manifest), the platforms, hand-pinned values and runtime-log demands.
 * A policy must pin the whole launched image: firmware, kernel, initrd and
 * command line. One that leaves any of them open is refused, naming what.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measurement/platform.h"

void kbs_policy_free(struct kbs_policy *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(p->cands); i++) {
		free(p->cands[i]);
		p->cands[i] = NULL;
		p->ncands[i] = 0;
	}
}

static int parse_image(const cJSON *img, struct kbs_policy *p, char *err, size_t errlen)
{
	static const char *const names[] = { "manifest_sha256", "builder", "name" };
	const cJSON *m;
	const char *s;

	if (!cJSON_IsObject(img))
		return set_error(err, errlen, -EINVAL, "image: must be an object");
	if ((m = json_unknown_member(img, names, ARRAY_SIZE(names))))
		return set_error(err, errlen, -EINVAL, "image.%.32s: unknown member", m->string);
	p->has_image = true;
	if (cJSON_GetObjectItemCaseSensitive(img, "manifest_sha256")) {
		if (cJSON_GetObjectItemCaseSensitive(img, "builder") ||
		    cJSON_GetObjectItemCaseSensitive(img, "name"))
			return set_error(err, errlen, -EINVAL,
					 "image: either manifest_sha256, or builder and name");
		if (json_get_hex(img, "manifest_sha256", p->image_sha256, 32) < 0)
			return set_error(err, errlen, -EINVAL,
					 "image.manifest_sha256: must be 32 bytes of hex");
		p->image_by_digest = true;
		return 0;
	}
	if (json_get_string(img, "builder", &s) < 0 || result_pub_from_hex(s, p->image_builder) < 0)
		return set_error(err, errlen, -EINVAL,
				 "image.builder: must be the builder's compressed secp256k1 "
				 "public key (66 hex digits)");
	if (json_get_string(img, "name", &s) < 0 || !*s || strlen(s) >= sizeof(p->image_name))
		return set_error(err, errlen, -EINVAL, "image.name: must be the image's name");
	snprintf(p->image_name, sizeof(p->image_name), "%s", s);
	return 0;
}

/* The sections of reference values r names (REF_SECTION_*). */
static unsigned ref_sections(const struct reference *r)
{
	return (r->has_snp ? REF_SECTION_SNP : 0) | (r->has_tdx ? REF_SECTION_TDX : 0) |
	       (r->has_tpm ? REF_SECTION_TPM : 0);
}

/*
 * The rows with a completeness rule of their own (Azure's) are accepted
 * only when "platforms" names them; whether one so named reads a section.
 */
static bool section_of_named_row(const struct kbs_policy *p, unsigned section)
{
	const struct platform *pl;

	for (size_t i = 0; (pl = platform_at(i)); i++)
		if (pl->ref_complete && (p->platforms & (1u << pl->id)) &&
		    (pl->ref_sections & section))
			return true;
	return false;
}

/* Those rows' references: each section they read named, and a whole launch pinned. */
static int named_rows_check(const struct kbs_policy *p, char *err, size_t errlen)
{
	const struct platform *pl;
	char why[256];

	for (size_t i = 0; (pl = platform_at(i)); i++) {
		if (!pl->ref_complete || !(p->platforms & (1u << pl->id)))
			continue;
		if ((ref_sections(&p->ref) & pl->ref_sections) != pl->ref_sections)
			return set_error(err, errlen, -EINVAL,
					 "platforms: %s has no reference values (it reads %s%s)",
					 pl->name,
					 pl->ref_sections & REF_SECTION_SNP ? "snp" : "tdx",
					 pl->ref_sections & REF_SECTION_TPM ? " and tpm" : "");
		if (pl->ref_complete(&p->ref, pl->id, why, sizeof(why)) < 0)
			return set_error(err, errlen, -EINVAL,
					 "reference.%s; name the image (\"image\") or pin them",
					 why);
	}
	return 0;
}

/* Their candidates: the policy's reference values, once each. */
static int named_rows_cands(struct kbs_policy *p)
{
	for (size_t i = 0; platform_at(i); i++) {
		enum cvm_platform t = platform_at(i)->id;

		if (!platform_at(i)->ref_complete || !(p->platforms & (1u << t)))
			continue;
		p->cands[t] = malloc(sizeof(struct reference));
		if (!p->cands[t])
			return -ENOMEM;
		*p->cands[t] = p->ref;
		p->ncands[t] = 1;
	}
	return 0;
}

static int parse_platforms(const cJSON *a, struct kbs_policy *p, char *err, size_t errlen)
{
	const cJSON *e;

	if (!cJSON_IsArray(a) || !cJSON_GetArraySize(a))
		return set_error(err, errlen, -EINVAL,
				 "platforms: must be a non-empty array of tdx, snp, tpm, "
				 "az-snp-vtpm, az-tdx-vtpm");
	cJSON_ArrayForEach(e, a) {
		enum cvm_platform t;

		if (!cJSON_IsString(e) || kbs_tee_parse(e->valuestring, &t) < 0)
			return set_error(err, errlen, -EINVAL,
					 "platforms: must be a non-empty array of tdx, snp, tpm, "
					 "az-snp-vtpm, az-tdx-vtpm");
		if (p->platforms & (1u << t))
			return set_error(err, errlen, -EINVAL, "platforms: %s named twice",
					 e->valuestring);
		p->platforms |= 1u << t;
	}
	return 0;
}

int kbs_policy_parse(const char *text, size_t len, struct kbs_policy *p, char *err, size_t errlen)
{
	static const char *const names[] = { "image", "platforms", "reference",
					     "require_runtime_log" };
	static const enum cvm_platform all[] = { PLATFORM_TDX, PLATFORM_SNP, PLATFORM_TPM };
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	_cleanup_free_ char *ref_text = NULL;
	const cJSON *m, *ref;
	char why[256];
	int r;

	memset(p, 0, sizeof(*p));
	reference_defaults(&p->ref);
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		return set_error(err, errlen, -EINVAL, "not a JSON object");
	if ((m = json_unknown_member(root, names, ARRAY_SIZE(names))))
		return set_error(err, errlen, -EINVAL, "%.32s: unknown member", m->string);
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "image")) &&
	    (r = parse_image(m, p, err, errlen)) < 0)
		return r;
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "platforms")) &&
	    (r = parse_platforms(m, p, err, errlen)) < 0)
		return r;
	ref = cJSON_GetObjectItemCaseSensitive(root, "reference");
	if (!ref && !p->has_image)
		return set_error(err, errlen, -EINVAL,
				 "no \"image\" and no \"reference\": nothing would be checked");
	if (ref) {
		ref_text = cJSON_PrintUnformatted(ref);
		if (!ref_text)
			return -ENOMEM;
		if (reference_parse(ref_text, strlen(ref_text), &p->ref, why, sizeof(why)) < 0)
			return set_error(err, errlen, -EINVAL, "reference: %s", why);
	}
	if (!p->has_image) {
		if (!p->ref.has_snp && !p->ref.has_tdx && !p->ref.has_tpm)
			return set_error(err, errlen, -EINVAL,
					 "reference: names no platform (snp, tdx or tpm)");
		for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
			enum cvm_platform t = all[i];
			bool named = (t == PLATFORM_TDX && p->ref.has_tdx) ||
				     (t == PLATFORM_SNP && p->ref.has_snp) ||
				     (t == PLATFORM_TPM && p->ref.has_tpm);

			if (p->platforms && !(p->platforms & (1u << t))) {
				if (named &&
				    !section_of_named_row(p, platform_get(t)->ref_sections))
					return set_error(err, errlen, -EINVAL,
							 "reference.%s: not among \"platforms\"",
							 platform_name(t));
				continue;
			}
			if (!named) {
				if (p->platforms)
					return set_error(err, errlen, -EINVAL,
							 "platforms: %s has no reference values",
							 platform_name(t));
				continue;
			}
			if (reference_complete(&p->ref, t, why, sizeof(why)) < 0)
				return set_error(err, errlen, -EINVAL,
						 "reference.%s; name the image (\"image\") or pin "
						 "them",
						 why);
		}
		if ((r = named_rows_check(p, err, errlen)) < 0)
			return r;
	} else if (section_of_named_row(p, ~0u)) {
		return set_error(err, errlen, -EINVAL,
				 "platforms: an image's manifest predicts no Azure paravisor; "
				 "az-snp-vtpm and az-tdx-vtpm take a policy of reference values");
	} else if (p->ref.has_tpm && !p->ref.tpm.has_ak_sha256) {
		return set_error(err, errlen, -EINVAL,
				 "reference.tpm: no ak_sha256: a TPM quote proves nothing without "
				 "a pinned attestation key");
	}
	if (p->ref.has_luks_header_sha256 && p->platforms == (1u << PLATFORM_SNP))
		return set_error(err, errlen, -EINVAL,
				 "luks_header_sha256 needs a runtime register (tdx or tpm)");
	if (p->ref.has_luks_header_sha256 && !p->has_image && !p->ref.has_tdx && !p->ref.has_tpm)
		return set_error(err, errlen, -EINVAL,
				 "luks_header_sha256 needs a runtime register (tdx or tpm)");
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "require_runtime_log"))) {
		if (!cJSON_IsBool(m))
			return set_error(err, errlen, -EINVAL,
					 "require_runtime_log: not a boolean");
		p->require_runtime_log = cJSON_IsTrue(m);
	}
	p->require_runtime_log |= p->ref.has_luks_header_sha256;
	if (!p->has_image) {
		for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
			enum cvm_platform t = all[i];

			if (!((t == PLATFORM_TDX && p->ref.has_tdx) ||
			      (t == PLATFORM_SNP && p->ref.has_snp) ||
			      (t == PLATFORM_TPM && p->ref.has_tpm)) ||
			    (p->platforms && !(p->platforms & (1u << t))))
				continue;
			p->cands[t] = malloc(sizeof(struct reference));
			if (!p->cands[t]) {
				kbs_policy_free(p);
				return -ENOMEM;
			}
			*p->cands[t] = p->ref;
			p->ncands[t] = 1;
		}
		if (named_rows_cands(p) < 0) {
			kbs_policy_free(p);
			return -ENOMEM;
		}
		snprintf(p->image_label, sizeof(p->image_label), "reference values");
	}
	return 0;
}

/* The manifest <dir>/<name>.json and its signature <dir>/<name>.sig. */
static int load_manifest(const char *dir, const char *file, const struct kbs_policy *p,
			 struct manifest *m, bool *match, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL, *sig = NULL;
	size_t len, slen, n = strlen(file);
	char sigfile[512], why[256];
	uint8_t signer[33];
	int r;

	*match = false;
	if (n < 6 || n >= sizeof(sigfile) || strcmp(file + n - 5, ".json"))
		return 0;
	snprintf(sigfile, sizeof(sigfile), "%.*s.sig", (int)(n - 5), file);
	if ((r = file_read_at(dir, file, CVM_CAP_JSON, &text, &len)) < 0)
		return set_error(err, errlen, r, "image %s: %s", file, strerror(-r));
	if ((r = manifest_parse((char *)text, len, m, why, sizeof(why))) < 0)
		return set_error(err, errlen, r, "image %s: %s", file, why);
	if (p->image_by_digest ? memcmp(m->sha256, p->image_sha256, 32)
			       : strcmp(m->name, p->image_name)) {
		manifest_free(m);
		return 0;
	}
	if ((r = file_read_at(dir, sigfile, CVM_CAP_JSON, &sig, &slen)) < 0) {
		manifest_free(m);
		return set_error(err, errlen, r, "image %s: no signature %s", file, sigfile);
	}
	r = manifest_check_signature(m, (char *)sig, slen,
				     p->image_by_digest ? NULL : p->image_builder, signer, why,
				     sizeof(why));
	if (r == -EKEYREJECTED && !p->image_by_digest &&
	    strstr(why, "another key")) { /* same name, another builder: not this image */
		manifest_free(m);
		return 0;
	}
	if (r < 0) {
		manifest_free(m);
		return set_error(err, errlen, r, "image %s: %s", file, why);
	}
	*match = true;
	return 0;
}

static int add_candidates(struct kbs_policy *p, const struct manifest *m, char *err, size_t errlen)
{
	static const enum cvm_platform all[] = { PLATFORM_TDX, PLATFORM_SNP, PLATFORM_TPM };
	bool any = false;

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		enum cvm_platform t = all[i];
		struct reference *c, *grown;
		size_t n;
		int r;

		if (p->platforms && !(p->platforms & (1u << t)))
			continue;
		if (!m->p[t].present) {
			if (p->platforms)
				return set_error(err, errlen, -EINVAL,
						 "platforms: image %s %s is not offered on %s",
						 m->name, m->version, platform_name(t));
			continue;
		}
		if ((r = manifest_candidates(m, t, &p->ref, &c, &n, err, errlen)) < 0)
			return r;
		grown = realloc(p->cands[t], (p->ncands[t] + n) * sizeof(*grown));
		if (!grown) {
			free(c);
			return -ENOMEM;
		}
		memcpy(grown + p->ncands[t], c, n * sizeof(*c));
		free(c);
		p->cands[t] = grown;
		p->ncands[t] += n;
		any = true;
	}
	if (!any)
		return set_error(err, errlen, -EINVAL, "image %s %s: no platform left to accept",
				 m->name, m->version);
	return 0;
}

int kbs_policy_resolve(struct kbs_policy *p, const char *images_dir, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	size_t found = 0;
	char hex[65];
	int r = 0;

	if (!p->has_image)
		return 0;
	kbs_policy_free(p);
	d = opendir(images_dir);
	while (d && (de = readdir(d))) {
		struct manifest m;
		bool match;

		if (de->d_name[0] == '.')
			continue;
		if ((r = load_manifest(images_dir, de->d_name, p, &m, &match, err, errlen)) < 0)
			break;
		if (!match)
			continue;
		r = add_candidates(p, &m, err, errlen);
		if (r == 0 && !found++) {
			hex_encode(m.sha256, 32, hex);
			snprintf(p->image_label, sizeof(p->image_label), "%s %s (%.16s)", m.name,
				 m.version, hex);
		}
		manifest_free(&m);
		if (r < 0)
			break;
	}
	if (d)
		closedir(d);
	if (r == 0 && !found) {
		if (p->image_by_digest) {
			hex_encode(p->image_sha256, 32, hex);
			r = set_error(
				err, errlen, -ENOENT,
				"image: no signed manifest with SHA-256 %s in %s (add it with "
				"'cvm kbs add-image')",
				hex, images_dir);
		} else {
			r = set_error(
				err, errlen, -ENOENT,
				"image: no manifest named %s signed by that builder in %s (add "
				"it with 'cvm kbs add-image')",
				p->image_name, images_dir);
		}
	}
	if (r < 0)
		kbs_policy_free(p);
	return r;
}
