/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm pack --oci's unpacking (host/oci.c) on images made here by
 * tests/e2e/oci_image.py: layers in order, whiteouts and opaque whiteouts,
 * hard links, gzip, devices left out, the mount points made, the config as
 * the job manifest (users by name, root replaced); docker save's tarball
 * giving the same tree; and hostile images refused or kept inside the
 * root: paths with "..", writes through a link out of the root, a
 * whiteout through such a link, a blob whose digest lies, two images.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/oci.c"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/var/tmp/cvm-oci-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* An image of spec (JSON text) at dir/name, by oci_image.py; docker: its tarball. */
static void make_image(const char *name, const char *spec, bool docker)
{
	const char *top = getenv("CVM_TOP");
	char path[256], cmd[1024];

	snprintf(path, sizeof(path), "%s/%s.spec.json", dir, name);
	assert_int_equal(file_write_atomic(path, spec, strlen(spec), NULL, 0), 0);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s/%s && python3 %s/tests/e2e/oci_image.py spec %s %s/%s%s", dir, name,
		 top ? top : ".", path, dir, name, docker ? " --docker" : "");
	assert_int_equal(system(cmd), 0);
}

/* Unpacks dir/name into dir/name.root; returns oci_unpack's value. */
static int unpack(const char *name, const char *user, cJSON **man, unsigned *dev, char *err,
		  size_t n)
{
	char img[256], root[256], cmd[600];

	snprintf(img, sizeof(img), "%s/%s", dir, name);
	snprintf(root, sizeof(root), "%s/%s.root", dir, name);
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir %s", root, root);
	assert_int_equal(system(cmd), 0);
	return oci_unpack(img, root, user, man, dev, err, n);
}

static bool exists(const char *name, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.root/%s", dir, name, rel);
	return lstat(path, &st) == 0;
}

static char *slurp(const char *name, const char *rel)
{
	char path[512];
	uint8_t *t = NULL;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.root/%s", dir, name, rel);
	return file_read(path, 1 << 20, &t, &n) < 0 ? NULL : (char *)t;
}

#define LAYERS_GOOD                                                                              \
	"\"layers\": ["                                                                          \
	"[{\"path\": \"etc\", \"type\": \"dir\"},"                                               \
	" {\"path\": \"etc/a\", \"data\": \"a\"}, {\"path\": \"etc/b\", \"data\": \"b\"},"       \
	" {\"path\": \"etc/passwd\", \"data\": "                                                 \
	"\"root:x:0:0::/:/bin/sh\\nweb:x:1200:1300::/:/\\n\"},"                                  \
	" {\"path\": \"etc/group\", \"data\": \"root:x:0:\\nstaff:x:1400:\\n\"},"                \
	" {\"path\": \"opt\", \"type\": \"dir\"}, {\"path\": \"opt/x\", \"type\": \"dir\"},"     \
	" {\"path\": \"opt/x/old1\", \"data\": \"1\"}, {\"path\": \"opt/x/sub\", \"type\": "     \
	"\"dir\"},"                                                                              \
	" {\"path\": \"opt/x/sub/old2\", \"data\": \"2\"},"                                      \
	" {\"path\": \"bin\", \"type\": \"dir\"},"                                               \
	" {\"path\": \"bin/run\", \"data\": \"#!/bin/sh\\n\", \"mode\": 493, \"uid\": 1200}],"   \
	"[{\"path\": \"etc/.wh.a\"}, {\"path\": \"opt/x/.wh..wh..opq\"},"                        \
	" {\"path\": \"opt/x/new\", \"data\": \"n\"}, {\"path\": \"etc/c\", \"data\": \"c\"},"   \
	" {\"path\": \"etc/c-link\", \"type\": \"hardlink\", \"target\": \"etc/c\"},"            \
	" {\"path\": \"dev\", \"type\": \"dir\"}, {\"path\": \"dev/null\", \"type\": \"char\"}," \
	" {\"path\": \"run.fifo\", \"type\": \"fifo\"}]]"

static const char good_spec[] =
	"{\"config\": {\"Entrypoint\": [\"/bin/run\", \"--flag\"], \"Cmd\": [\"arg\"],"
	" \"Env\": [\"PATH=/bin\", \"A=1\", \"A=2\"], \"WorkingDir\": \"/opt\", \"User\": \"web\"},"
	" \"gzip\": [1], " LAYERS_GOOD "}";

static void check_good_tree(const char *name, const cJSON *man, unsigned dev)
{
	_cleanup_free_ char *text = cJSON_PrintUnformatted(man), *c = NULL;
	char p1[512], p2[512];
	struct stat s1, s2;

	assert_false(exists(name, "etc/a"));
	assert_true(exists(name, "etc/b"));
	assert_false(exists(name, "etc/.wh.a"));
	assert_false(exists(name, "opt/x/old1"));
	assert_false(exists(name, "opt/x/sub"));
	assert_true(exists(name, "opt/x/new"));
	assert_false(exists(name, "opt/x/.wh..wh..opq"));
	c = slurp(name, "etc/c-link");
	assert_string_equal(c, "c");
	snprintf(p1, sizeof(p1), "%s/%s.root/etc/c", dir, name);
	snprintf(p2, sizeof(p2), "%s/%s.root/etc/c-link", dir, name);
	assert_int_equal(stat(p1, &s1), 0);
	assert_int_equal(stat(p2, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	snprintf(p1, sizeof(p1), "%s/%s.root/bin/run", dir, name);
	assert_int_equal(stat(p1, &s1), 0);
	assert_int_equal(s1.st_uid, 1200);
	assert_int_equal(s1.st_mode & 0777, 0755);
	assert_false(exists(name, "dev/null"));
	assert_int_equal(dev, 1);
	assert_true(exists(name, "run.fifo"));
	for (const char *const *d =
		     (const char *const[]){ "proc", "dev", "tmp", "inputs", "output", NULL };
	     *d; d++)
		assert_true(exists(name, *d));
	assert_string_equal(
		text, "{\"argv\":[\"/bin/run\",\"--flag\",\"arg\"],\"env\":{\"PATH\":\"/bin\","
		      "\"A\":\"2\"},\"rootfs\":true,\"cwd\":\"/opt\",\"user\":{\"uid\":1200,"
		      "\"gid\":1300},\"output_dir\":\"/output\"}");
}

static void test_layers_whiteouts_and_config(void **state)
{
	cJSON *man = NULL;
	unsigned dev = 0;
	char err[512] = "";

	(void)state;
	make_image("good", good_spec, false);
	if (unpack("good", NULL, &man, &dev, err, sizeof(err)) < 0)
		fail_msg("unpack: %s", err);
	check_good_tree("good", man, dev);
	cJSON_Delete(man);
	/* docker save's tarball of the same image: the same tree */
	make_image("good.tar", good_spec, true);
	{
		char sub[128], root[128], cmd[600];

		snprintf(sub, sizeof(sub), "%s/good-docker", dir);
		snprintf(root, sizeof(root), "%s/good-docker.root", dir);
		snprintf(cmd, sizeof(cmd), "rm -rf %s %s && mkdir %s %s", sub, root, sub, root);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/good.tar", dir);
		assert_int_equal(oci_extract_tarball(cmd, sub, err, sizeof(err)), 0);
		if (oci_unpack(sub, root, NULL, &man, &dev, err, sizeof(err)) < 0)
			fail_msg("docker unpack: %s", err);
		check_good_tree("good-docker", man, dev);
		cJSON_Delete(man);
	}
}

static void test_users(void **state)
{
	static const struct {
		const char *image_user, *override, *want, *why;
	} cases[] = {
		{ "", NULL, "{\"uid\":1000,\"gid\":1000}", NULL },
		{ "root", NULL, "{\"uid\":1000,\"gid\":1000}", NULL },
		{ "0:0", NULL, "{\"uid\":1000,\"gid\":1000}", NULL },
		{ "2000", NULL, "{\"uid\":2000,\"gid\":2000}", NULL },
		{ "2000:3000", NULL, "{\"uid\":2000,\"gid\":3000}", NULL },
		{ "web:staff", NULL, "{\"uid\":1200,\"gid\":1400}", NULL },
		{ "web", "4000:4001", "{\"uid\":4000,\"gid\":4001}", NULL },
		{ "nobody-here", NULL, NULL, "User: nobody-here: not a number nor a user" },
		{ "web:nogroup", NULL, NULL, "User: group nogroup: not a number nor a group" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char spec[4096], err[512] = "";
		cJSON *man = NULL;
		unsigned dev;
		int r;

		snprintf(spec, sizeof(spec),
			 "{\"config\": {\"Cmd\": [\"/bin/run\"], \"User\": \"%s\"}, %s}",
			 cases[i].image_user, LAYERS_GOOD);
		make_image("user", spec, false);
		r = unpack("user", cases[i].override, &man, &dev, err, sizeof(err));
		if (cases[i].why) {
			if (r >= 0 || !strstr(err, cases[i].why))
				fail_msg("case %zu: %d '%s'", i, r, err);
		} else {
			_cleanup_free_ char *u = NULL;

			if (r < 0)
				fail_msg("case %zu: %s", i, err);
			u = cJSON_PrintUnformatted(cJSON_GetObjectItem(man, "user"));
			assert_string_equal(u, cases[i].want);
		}
		cJSON_Delete(man);
	}
}

/* Hostile images: refused with a line that says why, nothing outside the root touched. */
static void test_hostile_images(void **state)
{
	static const struct {
		const char *spec, *why;
	} cases[] = {
		{ "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"../escape\", "
		  "\"data\": \"x\"}]]}",
		  "a path outside the root" },
		{ "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"a/../../escape\", "
		  "\"data\": "
		  "\"x\"}]]}",
		  "a path outside the root" },
		{ "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"l\", \"type\": "
		  "\"hardlink\", "
		  "\"target\": \"../../etc/passwd\"}]]}",
		  "a path outside the root" },
		{ "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"w/.wh..\"}]]}",
		  "a whiteout outside the root" },
		{ "{\"config\": {}, \"layers\": [[{\"path\": \"a\", \"data\": \"x\"}]]}",
		  "neither Entrypoint nor Cmd" },
		{ "{\"config\": {\"Cmd\": \"x\"}, \"layers\": []}", "Cmd: not an array" },
		{ "{\"config\": {\"Cmd\": [\"x\"], \"Env\": [\"NOEQUALS\"]}, \"layers\": []}",
		  "Env: not NAME=value" },
		{ "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"tmp\", \"type\": "
		  "\"symlink\", \"target\": \"/var/tmp\"}]]}",
		  "the image's /tmp is not a directory" },
		{ "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [], \"platforms\": [[\"linux\", "
		  "\"amd64\"], "
		  "[\"linux\", \"amd64\"]]}",
		  "2 images for linux/amd64" },
		{ "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [], \"platforms\": [[\"linux\", "
		  "\"arm64\"]]}",
		  "no image for linux/amd64" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char err[512] = "";
		cJSON *man = NULL;
		unsigned dev;
		int r;

		make_image("bad", cases[i].spec, false);
		r = unpack("bad", NULL, &man, &dev, err, sizeof(err));
		if (r >= 0 || !strstr(err, cases[i].why))
			fail_msg("case %zu: %d '%s', wanted '%s'", i, r, err, cases[i].why);
		cJSON_Delete(man);
	}
	assert_int_equal(access("/var/tmp/cvm-oci-escape", F_OK), -1);
	{
		char p[256];

		snprintf(p, sizeof(p), "%s/escape", dir);
		assert_int_equal(access(p, F_OK), -1);
	}
}

/* A file under a link out of the root: the link is replaced by a directory of the root. */
static void test_a_write_through_a_link_stays_in_the_root(void **state)
{
	static const char spec[] =
		"{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"out\", \"type\": "
		"\"symlink\", \"target\": \"/var/tmp\"}], [{\"path\": \"out/cvm-oci-escape\", "
		"\"data\": \"x\"}]]}";
	char err[512] = "", p[256];
	cJSON *man = NULL;
	unsigned dev;
	struct stat st;

	(void)state;
	make_image("link", spec, false);
	if (unpack("link", NULL, &man, &dev, err, sizeof(err)) < 0)
		fail_msg("unpack: %s", err);
	cJSON_Delete(man);
	assert_int_equal(access("/var/tmp/cvm-oci-escape", F_OK), -1);
	snprintf(p, sizeof(p), "%s/link.root/out", dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_true(exists("link", "out/cvm-oci-escape"));
}

/* A hard link through a link out of the root links nothing of the host's. */
static void test_a_hardlink_through_a_link_is_refused(void **state)
{
	static const char spec[] =
		"{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"lnk\", \"type\": "
		"\"symlink\", \"target\": \"/etc\"}], [{\"path\": \"x\", \"type\": \"hardlink\", "
		"\"target\": \"lnk/hostname\"}]]}";
	char err[512] = "", p[256];
	cJSON *man = NULL;
	unsigned dev;
	struct stat a, b;
	int r;

	(void)state;
	make_image("hl", spec, false);
	r = unpack("hl", NULL, &man, &dev, err, sizeof(err));
	cJSON_Delete(man);
	snprintf(p, sizeof(p), "%s/hl.root/x", dir);
	assert_int_equal(stat("/etc/hostname", &a), 0);
	/* refused, or at least not the host's file */
	if (r == 0 && stat(p, &b) == 0)
		assert_false(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	else
		assert_true(r < 0);
}

/* docker save's archive naming a layer through a link of its own: opened inside the archive. */
static void test_a_docker_archive_cannot_name_host_files(void **state)
{
	const char *top = getenv("CVM_TOP");
	char cmd[1024], sub[128], root[128], err[512] = "";
	cJSON *man = NULL;
	unsigned dev;
	int r;

	(void)state;
	(void)top;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && rm -rf evil evil.tar && mkdir evil && ln -s /etc evil/up && "
		 "printf '[{\"Config\": \"up/hostname\", \"Layers\": [\"up/hostname\"]}]' "
		 ">evil/manifest.json && tar -C evil -cf evil.tar manifest.json up",
		 dir);
	assert_int_equal(system(cmd), 0);
	snprintf(sub, sizeof(sub), "%s/evil-x", dir);
	snprintf(root, sizeof(root), "%s/evil-root", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(cmd, sizeof(cmd), "%s/evil.tar", dir);
	assert_int_equal(oci_extract_tarball(cmd, sub, err, sizeof(err)), 0);
	r = oci_unpack(sub, root, NULL, &man, &dev, err, sizeof(err));
	cJSON_Delete(man);
	assert_true(r < 0);
	assert_non_null(strstr(err, "missing from the archive"));
}

/* A whiteout through a link to /etc removes the image's file, never the host's. */
static void test_whiteout_stays_in_the_root(void **state)
{
	static const char spec[] =
		"{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": ["
		"[{\"path\": \"etc\", \"type\": \"dir\"}, {\"path\": \"etc/hostname\", \"data\": "
		"\"img\"},"
		" {\"path\": \"evil\", \"type\": \"symlink\", \"target\": \"/etc\"}],"
		"[{\"path\": \"evil/.wh.hostname\"}]]}";
	char err[512] = "";
	cJSON *man = NULL;
	unsigned dev;
	struct stat st;

	(void)state;
	assert_int_equal(stat("/etc/hostname", &st), 0);
	make_image("wh", spec, false);
	if (unpack("wh", NULL, &man, &dev, err, sizeof(err)) < 0)
		fail_msg("unpack: %s", err);
	cJSON_Delete(man);
	assert_false(exists("wh", "etc/hostname"));
	assert_int_equal(stat("/etc/hostname", &st), 0);
}

/* A blob that is not what its digest says is refused, named. */
static void test_a_blob_that_lies_is_refused(void **state)
{
	char cmd[512], err[512] = "";
	cJSON *man = NULL;
	unsigned dev;

	(void)state;
	make_image("lie",
		   "{\"config\": {\"Cmd\": [\"x\"]}, \"layers\": [[{\"path\": \"a\", \"data\": "
		   "\"x\"}]]}",
		   false);
	/* one byte more in every blob that is a layer (not JSON) */
	snprintf(cmd, sizeof(cmd),
		 "for f in %s/lie/blobs/sha256/*; do head -c1 $f | grep -q '{' || printf x >> $f; "
		 "done",
		 dir);
	assert_int_equal(system(cmd), 0);
	assert_true(unpack("lie", NULL, &man, &dev, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "layer 1: blob sha256:"));
	assert_non_null(strstr(err, "has the digest"));
	cJSON_Delete(man);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_whiteouts_and_config),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_hostile_images),
		cmocka_unit_test(test_a_write_through_a_link_stays_in_the_root),
		cmocka_unit_test(test_whiteout_stays_in_the_root),
		cmocka_unit_test(test_a_hardlink_through_a_link_is_refused),
		cmocka_unit_test(test_a_docker_archive_cannot_name_host_files),
		cmocka_unit_test(test_a_blob_that_lies_is_refused),
	};

	if (geteuid() != 0) {
		printf("test_oci: skipped: the image's owners are restored, which needs root\n");
		return 0;
	}
	return cmocka_run_group_tests_name("oci", tests, setup, teardown);
}
