/* SPDX-License-Identifier: Apache-2.0 */
/* An image directory's build.json, read for cvm image build (docs/image.md, "build.json"). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "host/image.h"
#include "lib/json_schema.h"
#include "lib/lib.h"

static int path_in(const char *dir, const char *s, char *out, size_t cap)
{
	int n = s[0] == '/' ? snprintf(out, cap, "%s", s) : snprintf(out, cap, "%s/%s", dir, s);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* The row of a platform build.json may name: one with launch registers. */
const struct platform *recipe_row(const char *name)
{
	const struct platform *pl = platform_by_name(name);

	return pl && pl->nlaunch_regs && (size_t)pl->id < MAX_PLATFORMS ? pl : NULL;
}

static int recipe_platform(const cJSON *o, const struct platform *pl, const char *dir,
			   struct plat_recipe *pr)
{
	static const char *const names[] = { "firmware", "vars", "memory_mib", "vcpus",
					     "vcpu_type" };
	const char *key = pl->launch_by_vcpus ? "vcpus" : "memory_mib", *s;
	const cJSON *m, *a, *e;

	if (!cJSON_IsObject(o)) {
		log_error("build.json: platforms.%s: not an object", pl->name);
		return -EINVAL;
	}
	if ((m = json_unknown_member(o, names, ARRAY_SIZE(names)))) {
		log_error("build.json: platforms.%s: \"%s\": unknown member", pl->name,
			  json_shown_name(m->string));
		return -EINVAL;
	}
	pr->present = true;
	if (pl->launch_inputs & PLATFORM_LAUNCH_FIRMWARE) {
		if (json_get_string(o, "firmware", &s) < 0 ||
		    path_in(dir, s, pr->firmware, sizeof(pr->firmware)) < 0) {
			log_error("build.json: platforms.%s.firmware: the firmware file", pl->name);
			return -EINVAL;
		}
	}
	if ((pl->launch_inputs & PLATFORM_LAUNCH_VARS) && json_get_string(o, "vars", &s) == 0 &&
	    path_in(dir, s, pr->vars, sizeof(pr->vars)) < 0)
		return -ENAMETOOLONG;
	if (pl->launch_by_vcpus) {
		if (json_get_string(o, "vcpu_type", &s) < 0 || strlen(s) >= sizeof(pr->vcpu_type)) {
			log_error("build.json: platforms.%s.vcpu_type: the QEMU CPU model",
				  pl->name);
			return -EINVAL;
		}
		snprintf(pr->vcpu_type, sizeof(pr->vcpu_type), "%s", s);
	}
	a = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsArray(a) || !cJSON_GetArraySize(a) || cJSON_GetArraySize(a) > MAX_LAUNCHES) {
		log_error("build.json: platforms.%s.%s: an array of 1 to %d launches offered",
			  pl->name, key, MAX_LAUNCHES);
		return -EINVAL;
	}
	cJSON_ArrayForEach(e, a) {
		double d = cJSON_IsNumber(e) ? e->valuedouble : -1;

		if (d < 1 || d > (pl->launch_by_vcpus ? 512 : 4194304) ||
		    d != (double)(uint64_t)d) {
			log_error("build.json: platforms.%s.%s: whole numbers in range", pl->name,
				  key);
			return -EINVAL;
		}
		pr->values[pr->n++] = (uint64_t)d;
	}
	return 0;
}

int recipe_load(const char *dir, const char *kver, struct recipe *rc)
{
	static const char *const names[] = { "version", "kernel", "initrd_list", "deployment_files",
					     "platforms" };
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	const cJSON *m, *e;
	const char *s, *k;
	size_t len;
	int r;

	memset(rc, 0, sizeof(*rc));
	if ((r = file_read_at(dir, "build.json", CVM_CAP_JSON, &text, &len)) < 0)
		return log_error_errno(r, "%s/build.json", dir);
	if (json_parse((char *)text, len, &root) < 0 || !cJSON_IsObject(root)) {
		log_error("%s/build.json: not a JSON object", dir);
		return -EINVAL;
	}
	if ((m = json_unknown_member(root, names, ARRAY_SIZE(names)))) {
		log_error("%s/build.json: \"%s\": unknown member", dir, json_shown_name(m->string));
		return -EINVAL;
	}
	if (json_get_string(root, "version", &s) < 0 || strlen(s) >= sizeof(rc->version)) {
		log_error("%s/build.json: version: the image's version", dir);
		return -EINVAL;
	}
	snprintf(rc->version, sizeof(rc->version), "%s", s);
	if (json_get_string(root, "kernel", &s) < 0 || !(k = strstr(s, "{kver}")) ||
	    snprintf(rc->kernel, sizeof(rc->kernel), "%.*s%s%s", (int)(k - s), s, kver, k + 6) >=
		    (int)sizeof(rc->kernel)) {
		log_error("%s/build.json: kernel: a path with {kver} (/boot/vmlinuz-{kver})", dir);
		return -EINVAL;
	}
	if (json_get_string(root, "initrd_list", &s) < 0 || strchr(s, '/') ||
	    strlen(s) >= sizeof(rc->list)) {
		log_error("%s/build.json: initrd_list: the list's file name in DIR", dir);
		return -EINVAL;
	}
	snprintf(rc->list, sizeof(rc->list), "%s", s);
	m = cJSON_GetObjectItemCaseSensitive(root, "deployment_files");
	if (m && !cJSON_IsArray(m)) {
		log_error("%s/build.json: deployment_files: an array of file names", dir);
		return -EINVAL;
	}
	cJSON_ArrayForEach(e, m) {
		if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || rc->nfiles == MAX_FILES ||
		    strlen(e->valuestring) >= sizeof(rc->files[0])) {
			log_error("%s/build.json: deployment_files: file names", dir);
			return -EINVAL;
		}
		snprintf(rc->files[rc->nfiles++], sizeof(rc->files[0]), "%s", e->valuestring);
	}
	m = cJSON_GetObjectItemCaseSensitive(root, "platforms");
	if (!cJSON_IsObject(m) || !m->child) {
		log_error("%s/build.json: platforms: tdx, snp and tpm launches offered", dir);
		return -EINVAL;
	}
	cJSON_ArrayForEach(e, m) {
		const struct platform *pl = recipe_row(e->string);

		if (!pl) {
			log_error("%s/build.json: platforms.%.32s: not tdx, snp or tpm", dir,
				  e->string);
			return -EINVAL;
		}
		if ((r = recipe_platform(e, pl, dir, &rc->p[pl->id])) < 0)
			return r;
	}
	return 0;
}

int newest_kver(char *out, size_t cap)
{
	DIR *d = opendir("/boot");
	struct dirent *de;

	out[0] = 0;
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "vmlinuz-", 8) &&
		    (!out[0] || strverscmp(de->d_name + 8, out) > 0))
			snprintf(out, cap, "%s", de->d_name + 8);
	if (d)
		closedir(d);
	return out[0] ? 0 : -ENOENT;
}

int recipe_override(const char *arg, const char *what, struct recipe *rc, bool log)
{
	const char *eq = strchr(arg, '=');
	char name[8];
	const struct platform *pl;

	if (!eq || (size_t)(eq - arg) >= sizeof(name))
		goto bad;
	snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
	if (!(pl = recipe_row(name)) || !rc->p[pl->id].present)
		goto bad;
	snprintf(log ? rc->p[pl->id].log : rc->p[pl->id].firmware, PATH_MAX, "%s", eq + 1);
	return 0;
bad:
	log_error("%s %s: PLATFORM=PATH, for a platform of build.json", what, arg);
	return -EINVAL;
}
