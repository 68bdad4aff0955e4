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
#include "host/image.h"
#include "initrd/initrd.h"
#include "lib/lib.h"
#include "measurement/platform.h"

extern char **environ;

/* dir/name into out; -ENAMETOOLONG when it does not fit. */
__attribute__((noinline)) static int join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

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
	      "  --json                what was built as one JSON object (manifest_sha256,\n"
	      "                        manifest, platforms: launches and what to pin by hand)\n"
	      "\n"
	      "verify: checks that SIG (default MANIFEST with .sig for .json) is the builder's\n"
	      "signature over MANIFEST, and that MANIFEST is well formed; prints its digest.\n"
	      "\n"
	      "Exit status: 0 done, 1 refused (a manifest or signature), 2 usage or file error.\n",
	      f);
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

struct build_opts {
	const char *dir, *out, *key, *kver, *platforms;
	const char *files[MAX_FILES]; /* NAME=PATH */
	size_t nfiles;
	const char *firmware[8], *logs[8];
	size_t nfirmware, nlogs;
	int64_t sde;
	bool json;
};

/* Leaves in rc only the platforms --platforms names (all when not given). */
static int recipe_select(const struct build_opts *o, struct recipe *rc)
{
	unsigned want = 0;
	char copy[64], *save, *t;

	if (!o->platforms)
		return 0;
	snprintf(copy, sizeof(copy), "%s", o->platforms);
	for (t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct platform *pl = recipe_row(t);

		if (!pl || !rc->p[pl->id].present) {
			log_error("--platforms: %s is not a platform of %s/build.json", t, o->dir);
			return -EINVAL;
		}
		want |= 1u << pl->id;
	}
	for (size_t p = 0; p < MAX_PLATFORMS; p++)
		rc->p[p].present &= (want >> p) & 1;
	return 0;
}

/* Every input of every platform left is there: firmware, variables, the kernel. */
static int recipe_check(const struct recipe *rc)
{
	for (size_t i = 0; platform_at(i); i++) {
		const struct platform *pl = recipe_row(platform_at(i)->name);
		const struct plat_recipe *pr = pl ? &rc->p[pl->id] : NULL;

		if (!pr || !pr->present)
			continue;
		/* firmware registers depend on the machine (memory, vCPUs): one log, one launch */
		if (pr->log[0] && pr->n != 1) {
			log_error("--firmware-log %s: a reference log is of one machine, and "
				  "build.json "
				  "offers %zu launches on %s",
				  pl->name, pr->n, pl->name);
			return -EINVAL;
		}
		if ((pl->launch_inputs & PLATFORM_LAUNCH_FIRMWARE) &&
		    access(pr->firmware, R_OK) < 0) {
			log_error("%s firmware %s: %s; give --firmware %s=PATH, or leave %s out "
				  "with --platforms",
				  pl->name, pr->firmware, strerror(errno), pl->name, pl->name);
			return -EINVAL;
		}
		if (pr->vars[0] && access(pr->vars, R_OK) < 0)
			return log_error_errno(-errno, "%s", pr->vars);
	}
	if (access(rc->kernel, R_OK) < 0) {
		log_error("kernel %s: %s (scripts/setup-deps installs linux-image-amd64)",
			  rc->kernel, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/* The kernel version, build.json, and the options over it. */
static int recipe_prepare(const struct build_opts *o, char kver[128], struct recipe *rc)
{
	if (o->kver)
		snprintf(kver, 128, "%s", o->kver);
	else if (newest_kver(kver, 128) < 0) {
		log_error("no kernel in /boot: give --kver");
		return -EINVAL;
	}
	if (recipe_load(o->dir, kver, rc) < 0)
		return -EINVAL;
	for (size_t i = 0; i < o->nfirmware; i++)
		if (recipe_override(o->firmware[i], "--firmware", rc, false) < 0)
			return -EINVAL;
	for (size_t i = 0; i < o->nlogs; i++)
		if (recipe_override(o->logs[i], "--firmware-log", rc, true) < 0)
			return -EINVAL;
	if (recipe_select(o, rc) < 0)
		return -EINVAL;
	return recipe_check(rc);
}

/* The staging directory: DIR's files, the agent beside this cvm, --file's, all the list needs. */
static int stage_fill(const struct build_opts *o, const struct recipe *rc, const char *stage)
{
	char self[PATH_MAX], path[PATH_MAX];
	struct stat st;
	ssize_t n;
	int r = stage_dir(o->dir, stage);

	/* the agent beside this cvm, unless the image is given another */
	if (r == 0 && (n = readlink("/proc/self/exe", self, sizeof(self) - 16)) > 0) {
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
			return -EINVAL;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - o->files[i]), o->files[i]);
		r = stage_link(stage, name, eq + 1);
	}
	for (size_t i = 0; r == 0 && i < rc->nfiles; i++) {
		join(path, sizeof(path), stage, rc->files[i]);
		if (stat(path, &st) < 0) {
			log_error(
				"%s: the image needs it (build.json deployment_files): give --file "
				"%s=PATH",
				rc->files[i], rc->files[i]);
			r = -ENOENT;
		}
	}
	return r;
}

/* OUT/initrd.img from the staged list, then OUT/vmlinuz and OUT/image.json. */
static int write_launch_files(const struct build_opts *o, const struct recipe *rc,
			      const char *stage, const char *kver, const char *initrd,
			      const char *kernel)
{
	_cleanup_free_ uint8_t *list = NULL;
	struct initrd_list l;
	char err[512], src[PATH_MAX], path[PATH_MAX];
	size_t len;
	int r = file_read_at(stage, rc->list, 16u << 20, &list, &len);

	if (r < 0)
		return log_error_errno(r, "%s/%s", o->dir, rc->list);
	r = initrd_list_parse((char *)list, len, stage, kver, &l, err, sizeof(err));
	if (r == 0) {
		r = initrd_list_finish(&l, err, sizeof(err));
		if (r == 0)
			r = initrd_write(&l, initrd, l.compress, o->sde, err, sizeof(err));
		initrd_list_free(&l);
	}
	if (r < 0) {
		log_error("%s/%s: %s", o->dir, rc->list, err);
		return r;
	}
	chmod(initrd, 0644);
	snprintf(path, sizeof(path), "%s/image.json", o->out);
	join(src, sizeof(src), stage, "image.json"); /* DIR's, or --file's */
	r = copy_file(rc->kernel, kernel);
	return r < 0 ? r : copy_file(src, path);
}

/* Stages the image's inputs, writes the launch files, removes the stage. */
static int build_launch_files(const struct build_opts *o, const struct recipe *rc, const char *kver,
			      const char *initrd, const char *kernel)
{
	char stage[PATH_MAX];
	int r;

	if (mkdir(o->out, 0755) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "%s", o->out);
	snprintf(stage, sizeof(stage), "%s/.stage.XXXXXX", o->out);
	if (!mkdtemp(stage))
		return log_error_errno(-errno, "%s", stage);
	r = stage_fill(o, rc, stage);
	if (r == 0)
		r = write_launch_files(o, rc, stage, kver, initrd, kernel);
	rm_stage(stage);
	return r;
}

/* One platform of the manifest: its firmware files and a launch per value build.json offers. */
static int manifest_platform(cJSON *files, cJSON *plats, const struct platform *pl,
			     const struct plat_recipe *pr, const struct inputs *in)
{
	static const struct {
		const char *suffix;
		size_t off;
	} extra[] = {
		{ "firmware", offsetof(struct plat_recipe, firmware) },
		{ "vars", offsetof(struct plat_recipe, vars) },
		{ "firmware-log", offsetof(struct plat_recipe, log) },
	};
	cJSON *po, *launches, *un;
	char role[32];
	int r = 0;

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(extra); i++) {
		const char *f = (const char *)pr + extra[i].off;

		snprintf(role, sizeof(role), "%s.%s", pl->name, extra[i].suffix);
		if (f[0])
			r = add_file(files, role, f, f);
	}
	po = cJSON_AddObjectToObject(plats, pl->name);
	launches = cJSON_AddArrayToObject(po, "launches");
	un = cJSON_CreateArray();
	for (size_t i = 0; r == 0 && i < pr->n; i++) {
		cJSON *launch = cJSON_CreateObject();

		cJSON_AddItemToArray(launches, launch);
		r = predict(pl, pr, pr->values[i], in, launch, i == 0 ? un : NULL);
	}
	if (cJSON_GetArraySize(un))
		cJSON_AddItemToObject(po, "unpredicted", un);
	else
		cJSON_Delete(un);
	return r;
}

/* OUT/tcb.json, the initrd's trusted base file by file (cvm initrd tcb --json), named in files. */
static int add_tcb(cJSON *files, const char *initrd)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX], err[512];
	const char *slash = strrchr(initrd, '/');

	snprintf(path, sizeof(path), "%.*s/tcb.json", slash ? (int)(slash - initrd) : 1,
		 slash ? initrd : ".");
	if (initrd_tcb_text(initrd, &text, err, sizeof(err)) < 0 ||
	    file_write_atomic(path, text, strlen(text), err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		return -EIO;
	}
	chmod(path, 0644);
	return add_file(files, "tcb", path, "tcb.json");
}

/* The manifest: name, version, command line, each file's digest, each platform's launches. */
static int manifest_make(const struct recipe *rc, const struct image *img, const char *kernel,
			 const char *initrd, const char *imgjson, cJSON **out)
{
	cJSON *m = cJSON_CreateObject(), *files, *plats;
	struct inputs in = { kernel, initrd, img->cmdline };
	int r;

	cJSON_AddNumberToObject(m, "manifest", MANIFEST_FORMAT);
	cJSON_AddStringToObject(m, "name", img->name);
	cJSON_AddStringToObject(m, "version", rc->version);
	cJSON_AddStringToObject(m, "cmdline", img->cmdline);
	files = cJSON_AddObjectToObject(m, "files");
	r = add_file(files, "kernel", kernel, rc->kernel);
	if (r == 0)
		r = add_file(files, "initrd", initrd, "initrd.img");
	if (r == 0)
		r = add_file(files, "image.json", imgjson, "image.json");
	if (r == 0)
		r = add_tcb(files, initrd);
	plats = cJSON_AddObjectToObject(m, "platforms");
	for (size_t k = 0; r == 0 && platform_at(k); k++) {
		const struct platform *pl = recipe_row(platform_at(k)->name);

		if (pl && rc->p[pl->id].present)
			r = manifest_platform(files, plats, pl, &rc->p[pl->id], &in);
	}
	*out = m;
	return r;
}

/* OUT/manifest.json (its canonical text and a newline) and OUT/manifest.sig. */
static int manifest_write(const char *outdir, char *canon, size_t len, const char *sig)
{
	char path[PATH_MAX], err[512];

	snprintf(path, sizeof(path), "%s/manifest.json", outdir);
	canon[len++] = '\n';
	if (file_write_atomic(path, canon, len, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EIO;
	}
	chmod(path, 0644);
	snprintf(path, sizeof(path), "%s/manifest.sig", outdir);
	if (file_write_atomic(path, sig, strlen(sig), err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EIO;
	}
	chmod(path, 0644);
	return 0;
}

/* What was built: the manifest's digest, and per platform its launches and what is left to pin. */
static int manifest_report(const char *outdir, const char *canon, size_t len, bool json)
{
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	struct manifest mf;
	char err[512], hex[65], path[4200];
	cJSON *pl = cJSON_AddObjectToObject(j, "platforms");

	if (manifest_parse(canon, len, &mf, err, sizeof(err)) < 0) {
		log_error("the manifest made does not parse: %s", err);
		return -EINVAL;
	}
	hex_encode(mf.sha256, 32, hex);
	snprintf(path, sizeof(path), "%s/manifest.json", outdir);
	cJSON_AddStringToObject(j, "manifest_sha256", hex);
	cJSON_AddStringToObject(j, "manifest", path);
	if (!json)
		printf("manifest_sha256 %s  %s\n", hex, path);
	for (size_t k = 0; k < ARRAY_SIZE(mf.p); k++) {
		const struct manifest_platform *mp = &mf.p[k];
		char names[160];

		if (!mp->present)
			continue;
		launch_registers_text((enum cvm_platform)k, mp->unpredicted, names, sizeof(names));
		if (json) {
			cJSON *e = cJSON_AddObjectToObject(pl, platform_name((enum cvm_platform)k));

			cJSON_AddNumberToObject(e, "launches", (double)mp->n);
			cJSON_AddStringToObject(e, "pin_by_hand", mp->unpredicted ? names : "");
			continue;
		}
		printf("%s: %zu launch%s%s%s\n", platform_name((enum cvm_platform)k), mp->n,
		       mp->n == 1 ? "" : "es",
		       mp->unpredicted ? "; not predicted, pin by hand: " : "",
		       mp->unpredicted ? names : "");
	}
	manifest_free(&mf);
	if (json && (text = cJSON_Print(j)))
		printf("%s\n", text);
	return 0;
}

static int build(struct build_opts *o)
{
	_cleanup_(result_key_wipe) struct result_key key = { 0 };
	_cleanup_free_ char *canon = NULL, *sig = NULL;
	_cleanup_(cJSON_Deletep) cJSON *m = NULL;
	struct image img;
	struct recipe rc;
	char kver[128], initrd[PATH_MAX], kernel[PATH_MAX], imgjson[PATH_MAX], err[512];
	size_t len;

	if (recipe_prepare(o, kver, &rc) < 0)
		return EXIT_USAGE;
	if (result_key_load(o->key, &key, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", o->out);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", o->out);
	snprintf(imgjson, sizeof(imgjson), "%s/image.json", o->out);
	if (build_launch_files(o, &rc, kver, initrd, kernel) < 0)
		return EXIT_USAGE;
	/* the launch description: name and command line */
	if (image_load(imgjson, &img, err, sizeof(err)) < 0) {
		log_error("%s/image.json: %s", o->dir, err);
		return EXIT_USAGE;
	}
	if (manifest_make(&rc, &img, kernel, initrd, imgjson, &m) < 0)
		return EXIT_USAGE;
	if (jcs_serialize(m, &canon, &len) < 0)
		return log_error_errno(-ENOMEM, "manifest"), EXIT_USAGE;
	if (manifest_sign(canon, len, &key, &sig, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	if (manifest_write(o->out, canon, len, sig) < 0 ||
	    manifest_report(o->out, canon, len, o->json) < 0)
		return EXIT_USAGE;
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
		{ "json", no_argument, NULL, 'j' },
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
		case 'j':
			o.json = true;
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
		log_error("image build needs%s%s%s; see 'cvm image --help'",
			  optind == argc - 1 ? "" : " one DIR", o.out ? "" : " -o OUT",
			  o.key ? "" : " --key BUILDER.key");
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
