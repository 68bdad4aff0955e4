/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's configuration, KBS.json (docs/kbs.md, "Configuration"), read
 * by the schema reader, and the check of its store at start.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cvm.h"
#include "host/kbs.h"
#include "host/kbs_serve.h"
#include "lib/json_schema.h"
#include "lib/lib.h"

/* Numbers are JSON numbers with an integer value; strings are not empty. */
static const struct json_words config_words = {
	.not_object = "\"{path}\" must be an object",
	.unknown = "\"{path}\": unknown member",
	.missing = "\"{path}\" is required",
	.not_bool = "\"{path}\" must be true or false",
	.not_int = "\"{path}\" must be a number from {min} to {max}",
	.range = "\"{path}\" must be a number from {min} to {max}",
	.not_string = "\"{path}\" must be a string",
	.length = "\"{path}\" must be a string of {min} to {max} bytes",
};

#define KC struct kbs_config
#define TEXT(f, max_len, req) \
	.type = JSON_STRREF, .flags = (req), JSON_FIELD(KC, f), .min = 1, .max = max_len
#define NUMBER(f, lo, hi) .type = JSON_INT, JSON_FIELD(KC, f), .min = lo, .max = hi

static const struct json_member roots_members[] = {
	{ "snp", TEXT(snp_roots, 4095, 0) },
	{ "tdx", TEXT(tdx_roots, 4095, 0) },
};
static const struct json_schema roots_schema = JSON_SCHEMA(roots_members);

static const struct json_member config_members[] = {
	{ "listen", TEXT(listen, 63, JSON_REQUIRED) },
	{ "tls_cert", TEXT(tls_cert, 4095, JSON_REQUIRED) },
	{ "tls_key", TEXT(tls_key, 4095, JSON_REQUIRED) },
	{ "store", TEXT(store, 1023, JSON_REQUIRED) },
	{ "token_key", TEXT(token_key, 4095, 0) },
	{ "session_ttl", NUMBER(session_ttl, 1, 86400) },
	{ "token_ttl", NUMBER(token_ttl, 1, 86400) },
	{ "max_sessions", NUMBER(max_sessions, 1, 1000000) },
	{ "max_body", NUMBER(max_body, 1024, 16 * 1024 * 1024) },
	{ "max_connections", NUMBER(max_connections, 8, 65536) },
	{ "timeout", NUMBER(timeout, 1, 600) },
	{ "test_roots", .type = JSON_OBJECT, .object = &roots_schema },
	{ "tdx_collateral", TEXT(tdx_collateral, 4095, 0) },
	{ "tdx_without_collateral", .type = JSON_BOOL, JSON_FIELD(KC, tdx_without_collateral) },
};
#undef KC
static const struct json_schema config_schema = JSON_SCHEMA(config_members);

static void defaults(struct kbs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->session_ttl = 300;
	c->token_ttl = 300;
	c->max_sessions = 10000;
	c->max_body = 256 * 1024;
	c->max_connections = 512;
	c->timeout = 10;
}

int kbs_config_load(const char *path, struct kbs_config *c)
{
	_cleanup_free_ uint8_t *text = NULL;
	char code[320], err[512];
	const struct json_doc doc = {
		.code = code, .root = "", .error = -EINVAL, .words = &config_words
	};
	size_t len;
	int r;

	defaults(c);
	snprintf(code, sizeof(code), "%s: ", path);
	if ((r = file_read(path, CVM_CAP_JSON, &text, &len)) < 0)
		return log_error_errno(r, "%s", path);
	if (json_parse((char *)text, len, &c->json) < 0 || !cJSON_IsObject(c->json)) {
		log_error("%s: not a JSON object", path);
		kbs_config_free(c);
		return -EINVAL;
	}
	if ((r = json_schema_read(c->json, &config_schema, c, &doc, err, sizeof(err))) < 0) {
		log_error("%s", err);
		kbs_config_free(c);
		return r;
	}
	return 0;
}

void kbs_config_free(struct kbs_config *c)
{
	cJSON_Delete(c->json);
	memset(c, 0, sizeof(*c));
}

/* ---- the store ---- */

/* Every resource must have a valid policy; the broker refuses to start otherwise. */
static const char *walk_store;
static char walk_images[1200];
static int walk_bad, walk_n;
static char walk_tdx[256]; /* the first resource whose policy admits TDX evidence */

static int check_resource(const char *file, const struct stat *st, int type, struct FTW *ftw)
{
	char path[2048], why[256];
	const char *rel;
	_cleanup_free_ uint8_t *text = NULL;
	struct kbs_policy pol;
	size_t len, base = strlen(walk_store) + strlen("/resources/");

	(void)st;
	(void)ftw;
	if (type != FTW_F || strstr(file, ".tmp."))
		return 0;
	rel = strlen(file) > base ? file + base : file;
	walk_n++;
	if (!kbs_resource_path_valid(rel)) {
		log_error("resource %s: not a repo/type/tag path", rel);
		walk_bad++;
		return 0;
	}
	kbs_store_path(walk_store, "policies", rel, path, sizeof(path));
	if (file_read(path, CVM_CAP_JSON, &text, &len) < 0) {
		log_error("resource %s: no policy (%s); set one with 'cvm kbs set-policy'", rel,
			  path);
		walk_bad++;
	} else if (kbs_policy_parse((char *)text, len, &pol, why, sizeof(why)) < 0 ||
		   kbs_policy_resolve(&pol, walk_images, why, sizeof(why)) < 0) {
		log_error("resource %s: policy %s: %s", rel, path, why);
		walk_bad++;
	} else {
		for (size_t i = 0; platform_at(i) && !walk_tdx[0]; i++)
			if ((platform_at(i)->opts & PLATFORM_OPT_COLLATERAL) &&
			    (size_t)platform_at(i)->id < ARRAY_SIZE(pol.ncands) &&
			    pol.ncands[platform_at(i)->id])
				snprintf(walk_tdx, sizeof(walk_tdx), "%s", rel);
		kbs_policy_free(&pol);
	}
	return 0;
}

int kbs_store_check(const char *store, char *tdx_first, size_t cap)
{
	char dir[1200];

	snprintf(dir, sizeof(dir), "%s/resources", store);
	walk_store = store;
	snprintf(walk_images, sizeof(walk_images), "%s/images", store);
	walk_bad = walk_n = 0;
	walk_tdx[0] = 0;
	if (nftw(dir, check_resource, 16, FTW_PHYS) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "%s", dir);
	snprintf(tdx_first, cap, "%s", walk_tdx);
	return walk_bad ? -EINVAL : walk_n;
}
