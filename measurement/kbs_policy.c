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

#include "lib/json_schema.h"
#include "measurement/order.h"
#include "measurement/platform.h"

/* The complete references made from the policy (resolve makes them again). */
static void free_candidates(struct kbs_policy *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(p->cands); i++) {
		free(p->cands[i]);
		p->cands[i] = NULL;
		p->ncands[i] = 0;
	}
}

void kbs_policy_free(struct kbs_policy *p)
{
	free(p->customers);
	free(p->solutions);
	p->customers = NULL;
	p->solutions = NULL;
	p->ncustomers = p->nsolutions = 0;
	free_candidates(p);
}

static const struct json_words policy_words = {
	.not_object = "{path}: must be an object",
	.not_bool = "{path}: not a boolean",
};

static const struct json_doc policy_doc = {
	.code = "",
	.root = "",
	.error = -EINVAL,
	.words = &policy_words,
};

static int read_builder(struct json_reader *rd, const cJSON *v, void *field)
{
	if (!cJSON_IsString(v) || result_pub_from_hex(v->valuestring, field) < 0)
		return json_reader_fail(rd, "",
					"must be the builder's compressed secp256k1 public key "
					"(66 hex digits)");
	return 0;
}

static int check_image(struct json_reader *rd, void *base)
{
	const struct kbs_policy *p = base;

	if (p->image_by_digest && (p->image_builder[0] || p->image_name[0]))
		return json_reader_fail(rd, "", "either manifest_sha256, or builder and name");
	if (p->image_by_digest)
		return 0;
	if (!p->image_builder[0])
		return json_reader_fail(rd, ".builder",
					"must be the builder's compressed secp256k1 public key "
					"(66 hex digits)");
	if (!p->image_name[0])
		return json_reader_fail(rd, ".name", "must be the image's name");
	return 0;
}

static const struct json_words digest_words = { .not_hex = "{path}: must be {bytes} bytes of hex" };
static const struct json_words name_words = {
	.not_string = "{path}: must be the image's name",
	.length = "{path}: must be the image's name",
};

#define KP struct kbs_policy
static const struct json_member image_members[] = {
	{ "manifest_sha256", .type = JSON_HEX, .flags = JSON_HAS, JSON_FIELD(KP, image_sha256),
	  JSON_HAS_FIELD(KP, image_by_digest), .words = &digest_words },
	{ "builder", .type = JSON_CUSTOM, JSON_FIELD(KP, image_builder), .read = read_builder },
	{ "name", .type = JSON_STRING, JSON_FIELD(KP, image_name), .min = 1, .words = &name_words },
};
static const struct json_schema image_schema = { image_members, ARRAY_SIZE(image_members),
						 check_image };

static int read_platforms(struct json_reader *rd, const cJSON *a, void *field)
{
	unsigned *platforms = field;
	const cJSON *e;

	if (!cJSON_IsArray(a) || !cJSON_GetArraySize(a))
		return json_reader_fail(rd, "", "must be a non-empty array of tdx, snp, tpm");
	cJSON_ArrayForEach(e, a) {
		enum cvm_platform t;

		if (!cJSON_IsString(e) || kbs_tee_parse(e->valuestring, &t) < 0)
			return json_reader_fail(rd, "",
						"must be a non-empty array of tdx, snp, tpm");
		if (*platforms & (1u << t))
			return json_reader_fail(rd, "", "%s named twice", platform_name(t));
		*platforms |= 1u << t;
	}
	return 0;
}

/* The reference values, by reference.c's own tables; its error after "reference: ". */
static int read_reference(struct json_reader *rd, const cJSON *v, void *field)
{
	char why[256];

	if (reference_read(v, field, why, sizeof(why)) < 0)
		return json_reader_fail(rd, "", "%s", why);
	return 0;
}

/* An array of 1 to 64 hex strings of n bytes each (n 33: compressed secp256k1 points), on the heap. */
static int read_hex_list(struct json_reader *rd, const cJSON *a, uint8_t **out, size_t *count,
			 size_t n)
{
	const cJSON *e;
	size_t i = 0;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > 64)
		return json_reader_fail(rd, "", "must be an array of 1 to 64 values");
	if (!(*out = calloc((size_t)cJSON_GetArraySize(a), n)))
		return -ENOMEM;
	cJSON_ArrayForEach(e, a) {
		bool ok = cJSON_IsString(e) &&
			  (n == 33 ? result_pub_from_hex(e->valuestring, *out + i * n) == 0
				   : hex_decode_exact(e->valuestring, *out + i * n, n) == 0);

		if (!ok)
			return json_reader_fail(
				rd, "",
				n == 33 ? "must be compressed secp256k1 public keys "
					  "(66 hex digits)"
					: "must be %zu bytes of hex each",
				n);
		i++;
	}
	*count = i;
	return 0;
}

#define KP struct kbs_policy
static int read_customers(struct json_reader *rd, const cJSON *a, void *field)
{
	KP *p = (KP *)((char *)field - offsetof(KP, customers));

	return read_hex_list(rd, a, (uint8_t **)&p->customers, &p->ncustomers, 33);
}

static int read_solutions(struct json_reader *rd, const cJSON *a, void *field)
{
	KP *p = (KP *)((char *)field - offsetof(KP, solutions));

	return read_hex_list(rd, a, (uint8_t **)&p->solutions, &p->nsolutions, 32);
}

static const struct json_member order_members[] = {
	{ "customer_pubkey", .type = JSON_CUSTOM, JSON_FIELD(KP, customers),
	  .read = read_customers },
	{ "solution_luks_header_sha256", .type = JSON_CUSTOM, JSON_FIELD(KP, solutions),
	  .read = read_solutions },
};
static const struct json_schema order_schema = JSON_SCHEMA(order_members);

static const struct json_member policy_members[] = {
	{ "image", .type = JSON_OBJECT, .flags = JSON_HAS, .object = &image_schema,
	  JSON_HAS_FIELD(KP, has_image) },
	{ "platforms", .type = JSON_CUSTOM, JSON_FIELD(KP, platforms), .read = read_platforms },
	{ "reference", .type = JSON_CUSTOM, JSON_FIELD(KP, ref), .read = read_reference },
	{ "require_runtime_log", .type = JSON_BOOL, JSON_FIELD(KP, require_runtime_log) },
	{ "order", .type = JSON_OBJECT, .flags = JSON_HAS, .object = &order_schema,
	  JSON_HAS_FIELD(KP, has_order) },
};
#undef KP
static const struct json_schema policy_schema = JSON_SCHEMA(policy_members);

/*
 * The rows a policy's candidates are kept for (p->cands), in table order;
 * which of them the reference names, and whether one named has a runtime
 * register (luks_header_sha256 needs one).
 */
static const struct platform *policy_row(size_t i)
{
	const struct platform *pl = platform_at(i);

	return pl && (size_t)pl->id < ARRAY_SIZE(((struct kbs_policy *)0)->cands) ? pl : NULL;
}

/* Whether the policy takes evidence of row pl: a named row only when "platforms" names it. */
static bool policy_takes(const struct kbs_policy *p, const struct platform *pl)
{
	if (pl->ref_complete)
		return (p->platforms & (1u << pl->id)) != 0;
	return platform_in_reference(pl, &p->ref) &&
	       (!p->platforms || (p->platforms & (1u << pl->id)));
}

static bool names_runtime_reg(const struct kbs_policy *p, bool by_reference)
{
	for (size_t i = 0; policy_row(i); i++) {
		const struct platform *pl = policy_row(i);

		if (pl->runtime_reg &&
		    (by_reference ? policy_takes(p, pl) : (p->platforms & (1u << pl->id)) != 0))
			return true;
	}
	return false;
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
	for (size_t i = 0; policy_row(i); i++) {
		const struct platform *pl = policy_row(i);

		if (pl->ref_complete && (p->platforms & (1u << pl->id)) &&
		    (pl->ref_sections & section))
			return true;
	}
	return false;
}

/* Those rows' references: each section they read named, and a whole launch pinned. */
static int named_rows_check(const struct kbs_policy *p, char *err, size_t errlen)
{
	char why[256];

	for (size_t i = 0; policy_row(i); i++) {
		const struct platform *pl = policy_row(i);

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

/* Without an image, the reference values alone must pin every platform the policy takes. */
static int check_reference_only(const struct kbs_policy *p, char *err, size_t errlen)
{
	char why[256];

	if (!p->ref.has_snp && !p->ref.has_tdx && !p->ref.has_tpm)
		return set_error(err, errlen, -EINVAL,
				 "reference: names no platform (snp, tdx or tpm)");
	for (size_t i = 0; policy_row(i); i++) {
		enum cvm_platform t = policy_row(i)->id;
		bool named = platform_in_reference(policy_row(i), &p->ref);

		if (policy_row(i)->ref_complete)
			continue; /* named_rows_check */
		if (p->platforms && !(p->platforms & (1u << t))) {
			if (named && !section_of_named_row(p, policy_row(i)->ref_sections))
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
					 "reference.%s; name the image (\"image\") or pin them",
					 why);
	}
	return named_rows_check(p, err, errlen);
}

static int check_policy(const struct kbs_policy *p, bool has_ref, char *err, size_t errlen)
{
	int r;

	if (!has_ref && !p->has_image)
		return set_error(err, errlen, -EINVAL,
				 "no \"image\" and no \"reference\": nothing would be checked");
	if (!p->has_image && (r = check_reference_only(p, err, errlen)) < 0)
		return r;
	for (size_t i = 0; p->has_image && policy_row(i); i++) {
		const struct platform *pl = policy_row(i);

		if (pl->ref_complete && (p->platforms & (1u << pl->id)))
			return set_error(err, errlen, -EINVAL,
					 "platforms: an image's manifest predicts no %s launch; %s "
					 "takes a policy of reference values",
					 pl->title, pl->name);

		if (platform_in_reference(pl, &p->ref) && !platform_key_pinned(pl, &p->ref))
			return set_error(err, errlen, -EINVAL,
					 "reference.%s: no %s: %s proves nothing without a pinned "
					 "attestation key",
					 pl->name, pl->key_pin->name, pl->noun);
	}
	if (p->ref.has_luks_header_sha256 && ((p->platforms && !names_runtime_reg(p, false)) ||
					      (!p->has_image && !names_runtime_reg(p, true))))
		return set_error(err, errlen, -EINVAL,
				 "luks_header_sha256 needs a runtime register (tdx or tpm)");
	return 0;
}

/* Without an image, the one candidate of each platform is the reference itself. */
static int reference_candidates(struct kbs_policy *p)
{
	for (size_t i = 0; policy_row(i); i++) {
		enum cvm_platform t = policy_row(i)->id;

		if (!policy_takes(p, policy_row(i)))
			continue;
		p->cands[t] = malloc(sizeof(struct reference));
		if (!p->cands[t]) {
			kbs_policy_free(p);
			return -ENOMEM;
		}
		*p->cands[t] = p->ref;
		p->ncands[t] = 1;
	}
	snprintf(p->image_label, sizeof(p->image_label), "reference values");
	return 0;
}

int kbs_policy_parse(const char *text, size_t len, struct kbs_policy *p, char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	reference_defaults(&p->ref);
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		return set_error(err, errlen, -EINVAL, "not a JSON object");
	if ((r = json_schema_read(root, &policy_schema, p, &policy_doc, err, errlen)) < 0 ||
	    (r = check_policy(p, cJSON_GetObjectItemCaseSensitive(root, "reference") != NULL, err,
			      errlen)) < 0) {
		kbs_policy_free(p);
		return r;
	}
	p->require_runtime_log |= p->ref.has_luks_header_sha256;
	return p->has_image ? 0 : reference_candidates(p);
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
	bool any = false;

	for (size_t i = 0; policy_row(i); i++) {
		enum cvm_platform t = policy_row(i)->id;
		struct reference *c, *grown;
		size_t n;
		int r;

		/* a manifest predicts no row with a rule of its own (Azure's paravisor) */
		if (policy_row(i)->ref_complete || (size_t)t >= ARRAY_SIZE(m->p))
			continue;
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
	free_candidates(p);
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

int kbs_policy_check_order(const struct kbs_policy *p, const struct order *o, const char *resource,
			   char *err, size_t errlen)
{
	const struct order_input *in;
	size_t i;

	if (!o)
		return p->has_order ? set_error(err, errlen, -EKEYREJECTED,
						"order: the policy requires an order bound to the "
						"evidence, and the session has none")
				    : 0;
	if (!(in = order_input_by_resource(o, resource)))
		return set_error(err, errlen, -EKEYREJECTED,
				 "order: the order names no input with resource %s", resource);
	if (p->ref.has_luks_header_sha256 &&
	    memcmp(in->luks_header_sha256, p->ref.luks_header_sha256, 32))
		return set_error(err, errlen, -EKEYREJECTED,
				 "order: input %s names another LUKS header than this resource's",
				 in->name);
	for (i = 0; i < p->ncustomers; i++)
		if (!memcmp(p->customers[i], o->customer_pub, 33))
			break;
	if (p->ncustomers && i == p->ncustomers)
		return set_error(err, errlen, -EKEYREJECTED,
				 "order: customer_pubkey is not one the policy names");
	for (i = 0; i < p->nsolutions; i++)
		if (!memcmp(p->solutions[i], o->inputs[o->solution].luks_header_sha256, 32))
			break;
	if (p->nsolutions && i == p->nsolutions)
		return set_error(err, errlen, -EKEYREJECTED,
				 "order: the solution input (%s) is not one the policy names "
				 "(solution_luks_header_sha256)",
				 o->inputs[o->solution].name);
	return 0;
}
