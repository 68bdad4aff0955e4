/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-job.json (docs/job.md), read strictly by the schema reader: its bytes
 * come from the customer's authenticated volume, but a parser trusts nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>

#include "agent/job.h"
#include "lib/json_schema.h"
#include "lib/lib.h"

#define JOB_DEFAULT_DEADLINE 3600
#define JOB_DEFAULT_FSIZE (1ull << 30)
#define JOB_DEFAULT_NPROC 256
#define JOB_MAX_SECONDS (30ull * 24 * 3600)
#define JOB_MAX_BYTES (1ull << 46)
#define ENV_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

/* Numbers are JSON numbers with an integer value: not 1.5, not "0x3e8". */
static const struct json_words manifest_words = {
	.unknown = "{in}: unknown member \"{name}\"",
	.not_int = "{path}: not an integer from {min} to {max}",
	.range = "{path}: not an integer from {min} to {max}",
};

static const struct json_doc manifest_doc = {
	.code = "E_MANIFEST: ",
	.root = "cvm-job.json",
	.error = -EINVAL,
	.words = &manifest_words,
};

/* A path below the workload root: relative, no empty or ".." component, no control character. */
static bool relpath_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= JOB_MAX_STR || s[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	for (const char *p = s; *p;) {
		size_t c = strcspn(p, "/");

		if (c == 0 || (c == 2 && !strncmp(p, "..", 2)))
			return false;
		p += c;
		p += *p == '/';
	}
	return true;
}

/* [A-Za-z_][A-Za-z0-9_]*, in ASCII whatever the locale */
static bool env_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || strspn(s, ENV_NAME_CHARS) != n || (s[0] >= '0' && s[0] <= '9'))
		return false;
	return true;
}

/*
 * Names the agent sets itself; the manifest may not replace them. A rootfs
 * job brings its own userland, so its PATH, HOME and LD_ variables are its
 * own (a container image's Env commonly sets PATH).
 */
static bool env_reserved(const char *kv, bool rootfs)
{
	size_t n = strcspn(kv, "=");

	if (!strncmp(kv, "CVM_", 4))
		return true;
	return !rootfs && ((n == 4 && !strncmp(kv, "HOME", 4)) ||
			   (n == 4 && !strncmp(kv, "PATH", 4)) || !strncmp(kv, "LD_", 3));
}

/* An absolute path in the solution's root: "/" then a relative path, or "/" alone. */
static bool abspath_valid(const char *s)
{
	return s[0] == '/' && (!s[1] || relpath_valid(s + 1));
}

/* A program a rootfs job names: an absolute path, or a bare name looked up in PATH. */
static bool rootfs_program_valid(const char *s)
{
	if (s[0] == '/')
		return s[1] && abspath_valid(s);
	return relpath_valid(s) && !strchr(s, '/') && strcmp(s, ".");
}

/* The rules between members: paths and names read by what rootfs says. */
static int check_manifest(struct json_reader *rd, void *base)
{
	struct job_manifest *m = base;

	if (m->rootfs ? !rootfs_program_valid(m->argv[0]) : !relpath_valid(m->argv[0]))
		return json_reader_fail(rd, "argv[0]",
					m->rootfs ? "not an absolute path or a bare name"
						  : "not a relative path inside the workload");
	if (strcmp(m->cwd, ".") && (m->rootfs ? !abspath_valid(m->cwd) : !relpath_valid(m->cwd)))
		return json_reader_fail(rd, "cwd",
					m->rootfs ? "not \".\" or an absolute path"
						  : "not a relative path inside the workload");
	for (size_t i = 0; i < m->envc; i++)
		if (env_reserved(m->env[i], m->rootfs))
			return json_reader_fail(rd, "env", "a name that is invalid or reserved");
	/* a service is reached through the agent's terminator alone, never on the guest's NIC */
	if (m->has_service && m->network == JOB_NETWORK_GUEST)
		return json_reader_fail(rd, "service", "needs \"network\": \"none\"");
	/* a container's output has a place of its own in its root */
	if (m->rootfs && !m->output_dir[0])
		memcpy(m->output_dir, "/output", sizeof("/output"));
	return 0;
}

static int read_argv(struct json_reader *rd, const cJSON *a, void *field)
{
	struct job_manifest *m = field;
	const cJSON *s;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > JOB_MAX_ARGS)
		return json_reader_fail(rd, "", "an array of 1 to 64 strings");
	cJSON_ArrayForEach(s, a) {
		if (!cJSON_IsString(s) || strlen(s->valuestring) >= JOB_MAX_STR)
			return json_reader_fail(rd, "", "an array of strings of under 1024 bytes");
		if (!(m->argv[m->argc++] = strdup(s->valuestring)))
			return -ENOMEM;
	}
	return 0;
}

static int read_env(struct json_reader *rd, const cJSON *e, void *field)
{
	struct job_manifest *m = field;
	const cJSON *v;

	if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) > JOB_MAX_ENV)
		return json_reader_fail(rd, "", "an object of at most 64 strings");
	cJSON_ArrayForEach(v, e) {
		char *kv;

		if (!env_name_valid(v->string))
			return json_reader_fail(rd, "", "a name that is invalid or reserved");
		if (!cJSON_IsString(v) || strlen(v->valuestring) >= JOB_MAX_STR)
			return json_reader_fail(rd, "", "values are strings of under 1024 bytes");
		if (asprintf(&kv, "%s=%s", v->string, v->valuestring) < 0)
			return -ENOMEM;
		m->env[m->envc++] = kv;
	}
	return 0;
}

static int read_cwd(struct json_reader *rd, const cJSON *v, void *field)
{
	const char *s;
	int r = json_reader_string(rd, v, 0, JOB_MAX_STR - 1, &s);

	if (r < 0)
		return r;
	memcpy(field, s, strlen(s) + 1);
	return 0;
}

/* One new name directly under /, where the agent links the output area. */
static int read_output_dir(struct json_reader *rd, const cJSON *v, void *field)
{
	const char *s;
	int r = json_reader_string(rd, v, 0, sizeof(((struct job_manifest *)0)->output_dir) - 1,
				   &s);

	if (r < 0)
		return r;
	if (s[0] != '/' || !relpath_valid(s + 1) || strchr(s + 1, '/') || !strcmp(s, "/."))
		return json_reader_fail(rd, "", "not /NAME");
	memcpy(field, s, strlen(s) + 1);
	return 0;
}

static int read_recipient(struct json_reader *rd, const cJSON *v, void *field)
{
	uint8_t *key = field;
	secp256k1_pubkey pk;

	if (!cJSON_IsString(v) || hex_decode_exact(v->valuestring, key, 33) < 0 ||
	    (key[0] != 2 && key[0] != 3))
		return json_reader_fail(rd, "",
					"not a compressed secp256k1 public key (33 bytes of hex)");
	if (!cvm_secp256k1() || !secp256k1_ec_pubkey_parse(cvm_secp256k1(), &pk, key, 33))
		return json_reader_fail(rd, "", "not a point on secp256k1");
	return 0;
}

/* root, and the overflow id 65534 that stands for "unmapped", are refused */
static const struct json_member user_members[] = {
	{ "uid", .type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(struct job_manifest, uid),
	  .min = 1, .max = 65533 },
	{ "gid", .type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(struct job_manifest, gid),
	  .min = 1, .max = 65533 },
};
static const struct json_schema user_schema = JSON_SCHEMA(user_members);

#define LIMIT(f, lo, hi) .type = JSON_INT, JSON_FIELD(struct job_limits, f), .min = lo, .max = hi
static const struct json_member limits_members[] = {
	{ "cpu_seconds", LIMIT(cpu_seconds, 1, JOB_MAX_SECONDS) },
	{ "memory_bytes", LIMIT(memory_bytes, 16ull << 20, JOB_MAX_BYTES) },
	{ "file_size_bytes", LIMIT(file_size_bytes, 1, JOB_MAX_BYTES) },
	{ "processes", LIMIT(processes, 1, 65536) },
	{ "output_bytes", LIMIT(output_bytes, 4096, JOB_MAX_BYTES) },
	{ "tmp_bytes", LIMIT(tmp_bytes, 4096, JOB_MAX_BYTES) },
};
static const struct json_schema limits_schema = JSON_SCHEMA(limits_members);

/*
 * "service": the port the job listens on in its namespace, at most how long
 * it serves, and how long a connection may stay quiet.
 */
static const struct json_member service_members[] = {
	{ "port", .type = JSON_INT, .flags = JSON_REQUIRED, JSON_FIELD(struct job_service, port),
	  .min = 1, .max = 65535 },
	{ "max_seconds", .type = JSON_INT, JSON_FIELD(struct job_service, max_seconds), .min = 1,
	  .max = JOB_MAX_SECONDS },
	{ "idle_seconds", .type = JSON_INT, JSON_FIELD(struct job_service, idle_seconds), .min = 1,
	  .max = JOB_MAX_SECONDS },
};
static const struct json_schema service_schema = JSON_SCHEMA(service_members);

/* "network": "none" (the default) or "guest": asked for by name, nothing else. */
static const char *const network_names[] = {
	[JOB_NETWORK_NONE] = "none", [JOB_NETWORK_GUEST] = "guest", NULL
};
static const struct json_words network_words = { .not_name = "{path}: \"none\" or \"guest\"" };

#define JM struct job_manifest
static const struct json_member manifest_members[] = {
	{ "argv", .type = JSON_CUSTOM, .flags = JSON_REQUIRED, .read = read_argv },
	{ "env", .type = JSON_CUSTOM, .read = read_env },
	{ "cwd", .type = JSON_CUSTOM, JSON_FIELD(JM, cwd), .read = read_cwd },
	{ "output_dir", .type = JSON_CUSTOM, JSON_FIELD(JM, output_dir), .read = read_output_dir },
	{ "user", .type = JSON_OBJECT, .flags = JSON_REQUIRED, .object = &user_schema },
	{ "limits", .type = JSON_OBJECT, JSON_FIELD(JM, limits), .object = &limits_schema },
	{ "deadline_seconds", .type = JSON_INT, JSON_FIELD(JM, deadline_seconds), .min = 1,
	  .max = JOB_MAX_SECONDS },
	{ "network", .type = JSON_ENUM, JSON_FIELD(JM, network), .names = network_names,
	  .words = &network_words },
	{ "result_recipient", .type = JSON_CUSTOM, .flags = JSON_HAS, JSON_FIELD(JM, recipient),
	  JSON_HAS_FIELD(JM, has_recipient), .read = read_recipient },
	{ "rootfs", .type = JSON_BOOL, JSON_FIELD(JM, rootfs) },
	{ "service", .type = JSON_OBJECT, .flags = JSON_HAS, JSON_FIELD(JM, service),
	  JSON_HAS_FIELD(JM, has_service), .object = &service_schema },
};
#undef JM
static const struct json_schema manifest_schema = { manifest_members, ARRAY_SIZE(manifest_members),
						    check_manifest };

int job_manifest_parse(const char *text, size_t len, struct job_manifest *m, char *err,
		       size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	if (json_parse(text, len, &root) < 0)
		return set_error(err, errlen, -EINVAL, "E_MANIFEST: cvm-job.json: not valid JSON");
	snprintf(m->cwd, sizeof(m->cwd), ".");
	m->limits.file_size_bytes = JOB_DEFAULT_FSIZE;
	m->limits.processes = JOB_DEFAULT_NPROC;
	m->limits.tmp_bytes = JOB_DEFAULT_TMP;
	m->deadline_seconds = JOB_DEFAULT_DEADLINE;
	m->network = JOB_NETWORK_NONE;
	r = json_schema_read(root, &manifest_schema, m, &manifest_doc, err, errlen);
	if (r == -ENOMEM)
		set_error(err, errlen, r, "E_MANIFEST: out of memory");
	if (r < 0)
		job_manifest_free(m);
	return r;
}

void job_manifest_free(struct job_manifest *m)
{
	for (size_t i = 0; i < m->argc; i++)
		free(m->argv[i]);
	for (size_t i = 0; i < m->envc; i++)
		free(m->env[i]);
	memset(m, 0, sizeof(*m));
}
