/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm image build | verify (docs/image.md): an image directory
 * (vm-images/NAME/: build.json, image.json, the initrd list and its files)
 * becomes a launch image (initrd, kernel, image.json) and its manifest:
 * each file's digest, the command line, and for every platform the image
 * is offered on, the launch registers `cvm measure` predicts. The builder
 * signs the manifest; brokers, verifiers and customers pin it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/cvm.h"
#include "initrd/initrd.h"
#include "lib/lib.h"
#include "measurement/platform.h"

extern char **environ;

#define MAX_FILES 32
#define MAX_LAUNCHES 16

static void help(FILE *f)
{
	fputs("Usage: cvm image build DIR -o OUT --key BUILDER.key [options]\n"
	      "       cvm image verify MANIFEST --builder PUBKEY [--signature SIG]\n"
	      "\n"
	      "build: makes the launch image of an image directory (vm-images/NAME: build.json,\n"
	      "image.json, the initrd list and its files) in OUT, a new or empty directory:\n"
	      "  OUT/initrd.img    the initrd (cvm initrd build of the list, reproducible)\n"
	      "  OUT/vmlinuz       the kernel build.json names\n"
	      "  OUT/image.json    how cvm run launches it (copied from DIR)\n"
	      "  OUT/manifest.json name, version, command line, each file's SHA-256, and per\n"
	      "                    platform the launch registers cvm measure predicts for\n"
	      "                    every launch offered (TDX MRTD, RTMR0-2; SNP measurement\n"
	      "                    per vCPU count; TPM PCR 0-7 and 9), or that a register is\n"
	      "                    not predicted (a policy must then pin it by hand)\n"
	      "  OUT/manifest.sig  the builder's secp256k1 signature over its RFC 8785 form\n"
	      "Options:\n"
	      "  --key FILE            the image builder's secp256k1 key (cvm keygen)\n"
	      "  --file NAME=PATH      a file or directory of the image that is not in DIR\n"
	      "                        (per deployment: broker.pem, ...) or replaces DIR's;\n"
	      "                        cvm-agent defaults to the one beside this cvm\n"
	      "  --kver VER            the kernel version (default: the newest in /boot)\n"
	      "  --platforms LIST      only these of build.json's platforms (tdx,snp,tpm)\n"
	      "  --firmware P=PATH     platform P's firmware instead of build.json's\n"
	      "  --firmware-log P=LOG  a reference event log of P's firmware and machine (TDX\n"
	      "                        CCEL, TPM TCG2): its firmware registers are predicted too\n"
	      "  --source-date-epoch N file times in the initrd (default 0)\n"
	      "verify: checks that SIG (default MANIFEST with .sig for .json) is the builder's\n"
	      "signature over MANIFEST, and that MANIFEST is well formed; prints its digest.\n"
	      "\n"
	      "Exit status: 0 done, 1 refused (a manifest or signature), 2 usage or file error.\n",
	      f);
}

/* ---- build.json ---- */

/* the platforms a manifest holds */
#define MAX_PLATFORMS ARRAY_SIZE(((struct manifest *)0)->p)

struct plat_recipe {
	bool present;
	char firmware[PATH_MAX], vars[PATH_MAX], vcpu_type[33], log[PATH_MAX];
	uint64_t values[MAX_LAUNCHES]; /* memory_mib (tdx, tpm) or vcpus (snp) */
	size_t n;
};

struct recipe {
	char version[65];
	char kernel[PATH_MAX]; /* "{kver}" replaced */
	char list[256];
	char files[MAX_FILES][65]; /* the files per deployment the list needs */
	size_t nfiles;
	struct plat_recipe p[MAX_PLATFORMS]; /* by enum cvm_platform */
};

/* dir/name into out; -ENAMETOOLONG when it does not fit. */
__attribute__((noinline)) static int join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int path_in(const char *dir, const char *s, char *out, size_t cap)
{
	int n = s[0] == '/' ? snprintf(out, cap, "%s", s) : snprintf(out, cap, "%s/%s", dir, s);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* The row of a platform build.json may name: one with launch registers. */
static const struct platform *recipe_row(const char *name)
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

	if (!cJSON_IsObject(o) || (m = json_unknown_member(o, names, ARRAY_SIZE(names)))) {
		log_error("build.json: platforms.%s: %s", pl->name,
			  cJSON_IsObject(o) ? "unknown member" : "not an object");
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

static int recipe_load(const char *dir, const char *kver, struct recipe *rc)
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
		log_error("%s/build.json: %.32s: unknown member", dir, m->string);
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

/* ---- the staging directory: DIR's files, overlaid by --file, as symbolic links ---- */

static int stage_link(const char *stage, const char *name, const char *target)
{
	char path[PATH_MAX], abs[PATH_MAX];

	if (!realpath(target, abs))
		return log_error_errno(-errno, "%s", target);
	join(path, sizeof(path), stage, name);
	unlink(path);
	if (symlink(abs, path) < 0)
		return log_error_errno(-errno, "%s", path);
	return 0;
}

static int stage_dir(const char *dir, const char *stage)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char src[PATH_MAX];
	int r = 0;

	if (!d)
		return log_error_errno(-errno, "%s", dir);
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		join(src, sizeof(src), dir, de->d_name);
		r = stage_link(stage, de->d_name, src);
	}
	closedir(d);
	return r;
}

static void rm_stage(const char *stage)
{
	DIR *d = opendir(stage);
	struct dirent *de;
	char p[PATH_MAX];

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		join(p, sizeof(p), stage, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(stage);
}

/* ---- predictions: cvm measure, run as a child, its JSON read back ---- */

static int run_measure(char *const *argv, cJSON **out)
{
	int pfd[2], st;
	pid_t pid;
	posix_spawn_file_actions_t fa;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;

	*out = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[0]);
		close(pfd[1]);
		return -EIO;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);

			if (!nb || cap > (1u << 20))
				break;
			buf = nb;
		}
		n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) || !buf)
		return -EINVAL;
	buf[len] = 0;
	return json_parse(buf, len, out) < 0 ? -EBADMSG : 0;
}

struct inputs {
	const char *kernel, *initrd, *cmdline;
};

/* One launch of platform pl: its registers into launch (a manifest launch object). */
static int predict(const struct platform *pl, const struct plat_recipe *pr, uint64_t value,
		   const struct inputs *in, cJSON *launch, cJSON *unpredicted)
{
	char mem[32], vcpus[16];
	char *argv[24];
	int a = 0, r;
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;

	argv[a++] = "cvm";
	argv[a++] = "measure";
	argv[a++] = "--mode";
	argv[a++] = (char *)pl->name;
	if (pl->launch_by_vcpus) {
		snprintf(vcpus, sizeof(vcpus), "%llu", (unsigned long long)value);
		argv[a++] = "--vcpus";
		argv[a++] = vcpus;
		argv[a++] = "--vcpu-type";
		argv[a++] = (char *)pr->vcpu_type;
	} else {
		snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)value);
		argv[a++] = "--memory";
		argv[a++] = mem;
	}
	if (pl->launch_inputs & PLATFORM_LAUNCH_FIRMWARE) {
		argv[a++] = "--ovmf";
		argv[a++] = (char *)pr->firmware;
	}
	if (pr->vars[0]) {
		argv[a++] = "--ovmf-vars";
		argv[a++] = (char *)pr->vars;
	}
	if (pr->log[0]) {
		argv[a++] = "--event-log";
		argv[a++] = (char *)pr->log;
	}
	argv[a++] = "--kernel";
	argv[a++] = (char *)in->kernel;
	argv[a++] = "--initrd";
	argv[a++] = (char *)in->initrd;
	argv[a++] = "--append";
	argv[a++] = (char *)in->cmdline;
	argv[a++] = "--output-format";
	argv[a++] = "json";
	argv[a] = NULL;
	if ((r = run_measure(argv, &j)) < 0) {
		log_error("cvm measure --mode %s (%s %s) failed: see above", pl->name,
			  pl->launch_by_vcpus ? "vcpus" : "memory",
			  pl->launch_by_vcpus ? vcpus : mem);
		return r;
	}
	if (pl->launch_by_vcpus) {
		cJSON_AddNumberToObject(launch, "vcpus", (double)value);
		cJSON_AddStringToObject(launch, "vcpu_type", pr->vcpu_type);
	} else {
		cJSON_AddNumberToObject(launch, "memory_mib", (double)value);
	}
	return platform_launch_from_measure(pl, cJSON_GetObjectItemCaseSensitive(j, pl->name),
					    launch, unpredicted);
}

/* A file's role, its name (not where it lay on the build machine) and its SHA-256. */
static int add_file(cJSON *files, const char *role, const char *path, const char *shown)
{
	const char *slash = strrchr(shown, '/');
	uint8_t d[32];
	cJSON *f;
	int r = file_digest(path, "SHA256", d, sizeof(d), NULL);

	if (r < 0)
		return log_error_errno(r, "%s", path);
	f = cJSON_AddObjectToObject(files, role);
	if (!f || !cJSON_AddStringToObject(f, "path", slash ? slash + 1 : shown) ||
	    !json_add_hex(f, "sha256", d, 32))
		return -ENOMEM;
	return 0;
}

static int copy_file(const char *from, const char *to)
{
	_cleanup_free_ uint8_t *data = NULL;
	char err[256];
	size_t len;
	int r = file_read(from, 1u << 30, &data, &len);

	if (r < 0)
		return log_error_errno(r, "%s", from);
	if ((r = file_write_atomic(to, data, len, err, sizeof(err))) < 0) {
		log_error("%s", err);
		return r;
	}
	chmod(to, 0644);
	return 0;
}

static int newest_kver(char *out, size_t cap)
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

struct build_opts {
	const char *dir, *out, *key, *kver, *platforms;
	const char *files[MAX_FILES]; /* NAME=PATH */
	size_t nfiles;
	const char *firmware[8], *logs[8];
	size_t nfirmware, nlogs;
	int64_t sde;
};

static int platform_override(const char *arg, const char *what, struct recipe *rc, bool log)
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

static int build(struct build_opts *o)
{
	_cleanup_free_ uint8_t *list = NULL, *imgtext = NULL;
	_cleanup_free_ char *canon = NULL, *sig = NULL;
	_cleanup_(cJSON_Deletep) cJSON *m = NULL;
	struct result_key key = { 0 };
	struct image img;
	struct initrd_list l;
	struct recipe rc;
	char kver[128], stage[PATH_MAX], path[PATH_MAX], initrd[PATH_MAX], kernel[PATH_MAX];
	char err[512], hex[65], self[PATH_MAX];
	size_t len, ilen;
	cJSON *files, *plats;
	struct stat st;
	int r;

	if (o->kver)
		snprintf(kver, sizeof(kver), "%s", o->kver);
	else if (newest_kver(kver, sizeof(kver)) < 0) {
		log_error("no kernel in /boot: give --kver");
		return EXIT_USAGE;
	}
	if (recipe_load(o->dir, kver, &rc) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < o->nfirmware; i++)
		if (platform_override(o->firmware[i], "--firmware", &rc, false) < 0)
			return EXIT_USAGE;
	for (size_t i = 0; i < o->nlogs; i++)
		if (platform_override(o->logs[i], "--firmware-log", &rc, true) < 0)
			return EXIT_USAGE;
	if (o->platforms) {
		unsigned want = 0;
		char copy[64], *save, *t;

		snprintf(copy, sizeof(copy), "%s", o->platforms);
		for (t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			const struct platform *pl = recipe_row(t);

			if (!pl || !rc.p[pl->id].present) {
				log_error("--platforms: %s is not a platform of %s/build.json", t,
					  o->dir);
				return EXIT_USAGE;
			}
			want |= 1u << pl->id;
		}
		for (size_t p = 0; p < MAX_PLATFORMS; p++)
			rc.p[p].present &= (want >> p) & 1;
	}
	for (size_t i = 0; platform_at(i); i++) {
		const struct platform *pl = recipe_row(platform_at(i)->name);
		const size_t p = pl ? (size_t)pl->id : 0;

		if (!pl || !rc.p[p].present)
			continue;
		/* firmware registers depend on the machine (memory, vCPUs): one log, one launch */
		if (rc.p[p].log[0] && rc.p[p].n != 1) {
			log_error("--firmware-log %s: a reference log is of one machine, and "
				  "build.json "
				  "offers %zu launches on %s",
				  pl->name, rc.p[p].n, pl->name);
			return EXIT_USAGE;
		}
		if ((pl->launch_inputs & PLATFORM_LAUNCH_FIRMWARE) &&
		    access(rc.p[p].firmware, R_OK) < 0) {
			log_error("%s firmware %s: %s; give --firmware %s=PATH, or leave %s out "
				  "with --platforms",
				  pl->name, rc.p[p].firmware, strerror(errno), pl->name, pl->name);
			return EXIT_USAGE;
		}
		if (rc.p[p].vars[0] && access(rc.p[p].vars, R_OK) < 0)
			return log_error_errno(-errno, "%s", rc.p[p].vars), EXIT_USAGE;
	}
	if (access(rc.kernel, R_OK) < 0) {
		log_error("kernel %s: %s (scripts/setup-deps installs linux-image-amd64)",
			  rc.kernel, strerror(errno));
		return EXIT_USAGE;
	}
	if (result_key_load(o->key, &key, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	if (mkdir(o->out, 0755) < 0 && errno != EEXIST) {
		result_key_wipe(&key);
		return log_error_errno(-errno, "%s", o->out), EXIT_USAGE;
	}
	snprintf(stage, sizeof(stage), "%s/.stage.XXXXXX", o->out);
	if (!mkdtemp(stage)) {
		result_key_wipe(&key);
		return log_error_errno(-errno, "%s", stage), EXIT_USAGE;
	}
	r = stage_dir(o->dir, stage);
	/* the agent beside this cvm, unless the image is given another */
	if (r == 0 && readlink("/proc/self/exe", self, sizeof(self) - 16) > 0) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 16);

		self[n] = 0;
		snprintf(path, sizeof(path), "%s/cvm-agent", dirname(self));
		if (access(path, X_OK) == 0)
			r = stage_link(stage, "cvm-agent", path);
	}
	for (size_t i = 0; r == 0 && i < o->nfiles; i++) {
		const char *eq = strchr(o->files[i], '=');
		char name[65];

		if (!eq || eq == o->files[i] || (size_t)(eq - o->files[i]) >= sizeof(name) ||
		    memchr(o->files[i], '/', (size_t)(eq - o->files[i])) || o->files[i][0] == '.') {
			log_error("--file %s: NAME=PATH, NAME a file name of the image",
				  o->files[i]);
			r = -EINVAL;
			break;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - o->files[i]), o->files[i]);
		r = stage_link(stage, name, eq + 1);
	}
	for (size_t i = 0; r == 0 && i < rc.nfiles; i++) {
		join(path, sizeof(path), stage, rc.files[i]);
		if (stat(path, &st) < 0) {
			log_error(
				"%s: the image needs it (build.json deployment_files): give --file "
				"%s=PATH",
				rc.files[i], rc.files[i]);
			r = -ENOENT;
		}
	}
	/* the initrd */
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", o->out);
	if (r == 0 && (r = file_read_at(stage, rc.list, 16u << 20, &list, &len)) < 0)
		log_error_errno(r, "%s/%s", o->dir, rc.list);
	if (r == 0) {
		r = initrd_list_parse((char *)list, len, stage, kver, &l, err, sizeof(err));
		if (r == 0) {
			r = initrd_list_finish(&l, err, sizeof(err));
			if (r == 0)
				r = initrd_write(&l, initrd, INITRD_GZIP, o->sde, err, sizeof(err));
			initrd_list_free(&l);
		}
		if (r < 0)
			log_error("%s/%s: %s", o->dir, rc.list, err);
	}
	if (r == 0) {
		char src[PATH_MAX];

		chmod(initrd, 0644);
		snprintf(kernel, sizeof(kernel), "%s/vmlinuz", o->out);
		snprintf(path, sizeof(path), "%s/image.json", o->out);
		join(src, sizeof(src), stage, "image.json"); /* DIR's, or --file's */
		r = copy_file(rc.kernel, kernel);
		if (r == 0)
			r = copy_file(src, path);
	}
	rm_stage(stage);
	if (r < 0) {
		result_key_wipe(&key);
		return EXIT_USAGE;
	}
	/* the launch description: name and command line */
	snprintf(path, sizeof(path), "%s/image.json", o->out);
	if (image_load(path, &img, err, sizeof(err)) < 0 ||
	    file_read(path, CVM_CAP_JSON, &imgtext, &ilen) < 0) {
		log_error("%s/image.json: %s", o->dir, err);
		result_key_wipe(&key);
		return EXIT_USAGE;
	}
	/* the manifest */
	m = cJSON_CreateObject();
	cJSON_AddNumberToObject(m, "manifest", MANIFEST_FORMAT);
	cJSON_AddStringToObject(m, "name", img.name);
	cJSON_AddStringToObject(m, "version", rc.version);
	cJSON_AddStringToObject(m, "cmdline", img.cmdline);
	files = cJSON_AddObjectToObject(m, "files");
	r = add_file(files, "kernel", kernel, rc.kernel);
	if (r == 0)
		r = add_file(files, "initrd", initrd, "initrd.img");
	if (r == 0)
		r = add_file(files, "image.json", path, "image.json");
	plats = cJSON_AddObjectToObject(m, "platforms");
	for (size_t k = 0; r == 0 && platform_at(k); k++) {
		const struct platform *pl = recipe_row(platform_at(k)->name);
		struct plat_recipe *pr = pl ? &rc.p[pl->id] : NULL;
		struct inputs in = { kernel, initrd, img.cmdline };
		cJSON *po, *launches, *un;
		char role[32];

		if (!pr || !pr->present)
			continue;
		if (pr->firmware[0]) {
			snprintf(role, sizeof(role), "%s.firmware", pl->name);
			r = add_file(files, role, pr->firmware, pr->firmware);
		}
		if (r == 0 && pr->vars[0]) {
			snprintf(role, sizeof(role), "%s.vars", pl->name);
			r = add_file(files, role, pr->vars, pr->vars);
		}
		if (r == 0 && pr->log[0]) {
			snprintf(role, sizeof(role), "%s.firmware-log", pl->name);
			r = add_file(files, role, pr->log, pr->log);
		}
		po = cJSON_AddObjectToObject(plats, pl->name);
		launches = cJSON_AddArrayToObject(po, "launches");
		un = cJSON_CreateArray();
		for (size_t i = 0; r == 0 && i < pr->n; i++) {
			cJSON *launch = cJSON_CreateObject();

			cJSON_AddItemToArray(launches, launch);
			r = predict(pl, pr, pr->values[i], &in, launch, i == 0 ? un : NULL);
		}
		if (cJSON_GetArraySize(un))
			cJSON_AddItemToObject(po, "unpredicted", un);
		else
			cJSON_Delete(un);
	}
	if (r == 0 && jcs_serialize(m, &canon, &len) < 0)
		r = -ENOMEM;
	if (r == 0 && manifest_sign(canon, len, &key, &sig, err, sizeof(err)) < 0) {
		log_error("%s", err);
		r = -EINVAL;
	}
	result_key_wipe(&key);
	if (r < 0)
		return EXIT_USAGE;
	snprintf(path, sizeof(path), "%s/manifest.json", o->out);
	canon[len++] = '\n';
	if (file_write_atomic(path, canon, len, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	chmod(path, 0644);
	snprintf(path, sizeof(path), "%s/manifest.sig", o->out);
	if (file_write_atomic(path, sig, strlen(sig), err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	chmod(path, 0644);
	{
		struct manifest mf;

		if (manifest_parse(canon, len, &mf, err, sizeof(err)) < 0) {
			log_error("the manifest made does not parse: %s", err);
			return EXIT_USAGE;
		}
		hex_encode(mf.sha256, 32, hex);
		printf("manifest_sha256 %s  %s/manifest.json\n", hex, o->out);
		for (size_t k = 0; k < ARRAY_SIZE(mf.p); k++) {
			const struct manifest_platform *mp = &mf.p[k];
			char names[160];

			if (!mp->present)
				continue;
			launch_registers_text((enum cvm_platform)k, mp->unpredicted, names,
					      sizeof(names));
			printf("%s: %zu launch%s%s%s\n", platform_name((enum cvm_platform)k), mp->n,
			       mp->n == 1 ? "" : "es",
			       mp->unpredicted ? "; not predicted, pin by hand: " : "",
			       mp->unpredicted ? names : "");
		}
		manifest_free(&mf);
	}
	return EXIT_OK;
}

static int build_main(int argc, char **argv)
{
	enum { O_KEY = 256, O_FILE, O_KVER, O_PLAT, O_FW, O_LOG, O_SDE };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, O_KEY },
		{ "file", required_argument, NULL, O_FILE },
		{ "kver", required_argument, NULL, O_KVER },
		{ "platforms", required_argument, NULL, O_PLAT },
		{ "firmware", required_argument, NULL, O_FW },
		{ "firmware-log", required_argument, NULL, O_LOG },
		{ "source-date-epoch", required_argument, NULL, O_SDE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct build_opts o = { 0 };
	char *end;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.out = optarg;
			break;
		case O_KEY:
			o.key = optarg;
			break;
		case O_FILE:
			if (o.nfiles == MAX_FILES) {
				log_error("--file: at most %d", MAX_FILES);
				return EXIT_USAGE;
			}
			o.files[o.nfiles++] = optarg;
			break;
		case O_KVER:
			o.kver = optarg;
			break;
		case O_PLAT:
			o.platforms = optarg;
			break;
		case O_FW:
		case O_LOG:
			if ((c == O_FW ? o.nfirmware : o.nlogs) == 8) {
				log_error("too many --firmware or --firmware-log");
				return EXIT_USAGE;
			}
			if (c == O_FW)
				o.firmware[o.nfirmware++] = optarg;
			else
				o.logs[o.nlogs++] = optarg;
			break;
		case O_SDE:
			errno = 0;
			o.sde = strtoll(optarg, &end, 10);
			if (errno || *end || !*optarg || o.sde < 0 || o.sde > 0xffffffffll) {
				log_error("--source-date-epoch: seconds since 1970 (0 to 2^32-1)");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			help(stdout);
			return EXIT_OK;
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm image --help'",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !o.out || !o.key) {
		log_error("usage: cvm image build DIR -o OUT --key BUILDER.key; see 'cvm image "
			  "--help'");
		return EXIT_USAGE;
	}
	o.dir = argv[optind];
	return build(&o);
}

static int verify_main_(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "builder", required_argument, NULL, 'b' },
		{ "signature", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *builder = NULL, *sigpath = NULL;
	struct refsrc rs;
	char err[512], hex[65];
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'b')
			builder = optarg;
		else if (c == 's')
			sigpath = optarg;
		else if (c == 'h') {
			help(stdout);
			return EXIT_OK;
		} else {
			log_error("unknown or incomplete option '%s'; see 'cvm image --help'",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !builder) {
		log_error("usage: cvm image verify MANIFEST --builder PUBKEY [--signature SIG]");
		return EXIT_USAGE;
	}
	r = refsrc_load(argv[optind], builder, sigpath, NULL, &rs, err, sizeof(err));
	if (r == 0 && !rs.is_manifest) {
		log_error("%s: E_MANIFEST: not an image manifest (no \"manifest\" member)",
			  argv[optind]);
		return EXIT_REJECTED;
	}
	if (r < 0) {
		log_error("%s", err);
		return r == -EBADMSG || r == -EKEYREJECTED ? EXIT_REJECTED : EXIT_USAGE;
	}
	hex_encode(rs.m.sha256, 32, hex);
	printf("%s: image %s %s, manifest_sha256 %s, signed by the builder\n", argv[optind],
	       rs.m.name, rs.m.version, hex);
	refsrc_free(&rs);
	return EXIT_OK;
}

int image_main(int argc, char **argv)
{
	static const struct subcommand cmds[] = { { "build", build_main },
						  { "verify", verify_main_ } };

	return subcommand_run(argc, argv, "image", cmds, ARRAY_SIZE(cmds), help);
}
