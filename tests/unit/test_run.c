/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm run's parts (host/run.c, host/fetch.c) that take hostile input or
 * hold the host's resources: the agent's status lines, the status file's
 * growth, the output disk it makes and the bundle it takes from it, the
 * range answers of a download, and its child processes and their groups.
 * tests/cli/test_run.sh runs the whole order under QEMU.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* host/ is not in the test library: the units under test are compiled in. */
#include "host/order.c"
#include "host/order_new.c"
#include "host/qemu.c"
#include "host/fetch.c"
#include "host/run.c"
#include "host/run_proc.c"
#include "host/run_result.c"
#include "host/run_status.c"
#include "host/run_summary.c"

static char dir[] = "/tmp/cvm-test-run-XXXXXX";

static int setup(void **state)
{
	(void)state;
	log_set_prog("test_run");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(dir);
	return 0;
}

/* dir/name, in one of four buffers: a call does not undo the three before it. */
static const char *path_in(const char *name)
{
	static char p[4][512];
	static unsigned i;
	char *b = p[i++ % 4];

	snprintf(b, sizeof(p[0]), "%s/%s", dir, name);
	return b;
}

/* ---- status lines ---- */

static int parse(const char *line, struct status_line *sl)
{
	return status_line_parse(line, strlen(line), sl);
}

static void test_status_line_of_the_agent_is_read(void **state)
{
	struct status_line sl;

	(void)state;
	assert_int_equal(
		parse("{\"t\":5123,\"phase\":\"key\",\"ok\":false,\"code\":\"E_KEY_RELEASE\","
		      "\"detail\":\"PolicyDeny: mrtd\",\"wait_ms\":12}",
		      &sl),
		0);
	assert_string_equal(sl.phase, "key");
	assert_false(sl.ok);
	assert_string_equal(sl.code, "E_KEY_RELEASE");
	assert_string_equal(sl.detail, "PolicyDeny: mrtd");
	assert_true(sl.t == 5123);
	assert_int_equal(parse("{\"phase\":\"result-key\",\"ok\":true}", &sl), 0);
	assert_string_equal(sl.code, "");
	assert_true(sl.t < 0);
	assert_string_equal(sl.input, "");
	assert_int_equal(sl.exit_code, -1);
	/* what tells two lines of a phase apart: the input, the job's start, its exit */
	assert_int_equal(parse("{\"phase\":\"unlock\",\"ok\":true,\"input\":\"data-1\"}", &sl), 0);
	assert_string_equal(sl.input, "data-1");
	assert_int_equal(parse("{\"phase\":\"job\",\"ok\":true,\"state\":\"started\"}", &sl), 0);
	assert_true(sl.started);
	assert_int_equal(
		parse("{\"phase\":\"job\",\"ok\":true,\"exit_code\":3,\"runtime_ms\":1490}", &sl),
		0);
	assert_int_equal(sl.exit_code, 3);
	assert_true(sl.runtime_ms == 1490);
	/* out of shape: left out, the line still read */
	assert_int_equal(parse("{\"phase\":\"key\",\"ok\":true,\"input\":\"../etc\","
			       "\"exit_code\":1e9,\"runtime_ms\":-5}",
			       &sl),
			 0);
	assert_string_equal(sl.input, "");
	assert_int_equal(sl.exit_code, -1);
	assert_true(sl.runtime_ms < 0);
}

/* The writer's bytes (lib/status_line.c, as the agent sends them), read back by the host's parser. */
static void test_status_line_written_is_read(void **state)
{
	cJSON *extra = cJSON_CreateObject();
	struct status_line sl;
	char *text;

	(void)state;
	cJSON_AddNumberToObject(extra, "wait_ms", 12);
	text = status_line_format(5123, "key", false, "E_KEY_RELEASE", "PolicyDeny: \"mrtd\"",
				  extra);
	assert_non_null(text);
	assert_string_equal(text, "{\"t\":5123,\"phase\":\"key\",\"ok\":false,\"code\":"
				  "\"E_KEY_RELEASE\",\"detail\":\"PolicyDeny: \\\"mrtd\\\"\","
				  "\"wait_ms\":12}");
	assert_int_equal(parse(text, &sl), 0);
	assert_string_equal(sl.phase, "key");
	assert_false(sl.ok);
	assert_string_equal(sl.code, "E_KEY_RELEASE");
	assert_string_equal(sl.detail, "PolicyDeny: \"mrtd\"");
	assert_true(sl.t == 5123);
	free(text);
	text = status_line_format(7, "poweroff", true, NULL, NULL, NULL);
	assert_string_equal(text, "{\"t\":7,\"phase\":\"poweroff\",\"ok\":true}");
	assert_int_equal(parse(text, &sl), 0);
	assert_string_equal(sl.code, "");
	assert_string_equal(sl.detail, "");
	free(text);
}

static void test_status_lines_not_of_the_format_are_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"\"boot\"",
		"{\"ok\":true}",
		"{\"phase\":\"boot\"}",
		"{\"phase\":\"boot\",\"ok\":1}",
		"{\"phase\":\"Boot\",\"ok\":true}",
		"{\"phase\":\"bo ot\",\"ok\":true}",
		"{\"phase\":\"\\u001b[2Jboot\",\"ok\":true}",
		"{\"phase\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"ok\":true}",
		"{\"phase\":\"key\",\"ok\":false,\"code\":\"KEY\"}",
		"{\"phase\":\"key\",\"ok\":false,\"code\":\"E_key\"}",
		"{\"phase\":\"key\",\"ok\":false,\"code\":7}",
		"{\"phase\":\"key\",\"ok\":false,\"detail\":{}}",
		"{\"phase\":\"key\",\"ok\":true,\"phase\":\"boot\"}",
		"{\"phase\":\"key\",\"ok\":true} {}",
	};
	struct status_line sl;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (parse(bad[i], &sl) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
}

static void test_status_detail_is_made_printable_and_short(void **state)
{
	char line[1024], longer[400];
	struct status_line sl;

	(void)state;
	assert_int_equal(
		parse("{\"phase\":\"key\",\"ok\":false,\"detail\":\"a\\u001b[31mb\\nc\"}", &sl), 0);
	assert_string_equal(sl.detail, "a?[31mb?c");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	snprintf(line, sizeof(line), "{\"phase\":\"key\",\"ok\":false,\"detail\":\"%s\"}", longer);
	assert_int_equal(parse(line, &sl), 0);
	assert_int_equal(strlen(sl.detail), STATUS_DETAIL_SHOWN + 3);
	assert_string_equal(sl.detail + STATUS_DETAIL_SHOWN, "...");
}

static void feed(struct status_follow *f, const char *s)
{
	status_feed(f, s, strlen(s));
}

static void test_status_lines_are_taken_whole_across_reads(void **state)
{
	struct status_follow f = { .who = "o1" };

	(void)state;
	feed(&f, "{\"phase\":\"boot\",\"ok\":tr");
	assert_int_equal(f.n, 0);
	feed(&f,
	     "ue}\n{\"phase\":\"key\",\"ok\":false,\"code\":\"E_KEY_RELEASE\",\"detail\":\"d\"}\n"
	     "not json\n\n{\"phase\":\"poweroff\",\"ok\":false,\"code\":\"E_KEY_RELEASE\"}");
	assert_int_equal(f.n, 2);
	assert_int_equal(f.bad, 1);
	assert_false(f.poweroff);
	feed(&f, "\n");
	assert_int_equal(f.n, 3);
	assert_true(f.poweroff);
	assert_string_equal(f.seen[0].phase, "boot");
	assert_true(f.seen[0].ok);
	/* the phase that failed, not the poweroff line that repeats its code */
	assert_string_equal(f.fail_phase, "key");
	assert_string_equal(f.fail_detail, "d");
	assert_string_equal(f.last_code, "E_KEY_RELEASE");
}

static void test_an_overlong_status_line_is_skipped_whole(void **state)
{
	struct status_follow f = { .who = "o1" };
	char chunk[1000];

	(void)state;
	memset(chunk, 'x', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = 0;
	feed(&f, "{\"phase\":\"boot\",\"ok\":true,\"pad\":\"");
	for (int i = 0; i < 10; i++)
		feed(&f, chunk);
	/* the overlong line's end must not pass for a line of its own */
	feed(&f, "\"}{\"phase\":\"x\",\"ok\":true}\n{\"phase\":\"key\",\"ok\":true}\n");
	assert_int_equal(f.bad, 1);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.seen[0].phase, "key");
}

static void test_phases_seen_are_capped(void **state)
{
	struct status_follow f = { .who = "o1" };

	(void)state;
	for (int i = 0; i < STATUS_SEEN_MAX + 10; i++)
		feed(&f, "{\"phase\":\"job\",\"ok\":false,\"code\":\"E_JOB_DEADLINE\"}\n");
	assert_int_equal(f.n, STATUS_SEEN_MAX);
	assert_string_equal(f.fail_code, "E_JOB_DEADLINE");
}

static void test_a_status_file_past_its_cap_is_a_flood(void **state)
{
	struct status_follow f = { .who = "o1" };
	const char *p = path_in("status");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(status_poll(&f, path_in("none")), 0);
	assert_int_equal(write(fd, "{\"phase\":\"boot\",\"ok\":true}\n", 27), 27);
	assert_int_equal(status_poll(&f, p), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(ftruncate(fd, STATUS_FILE_MAX), 0);
	assert_int_equal(status_poll(&f, p), 0);
	assert_int_equal(f.off, STATUS_FILE_MAX);
	assert_int_equal(ftruncate(fd, STATUS_FILE_MAX + 1), 0);
	assert_int_equal(status_poll(&f, p), -EFBIG);
	close(fd);
}

/* ---- the output disk and the bundle ---- */

static struct run_opts ropts;
static struct order ord;
static struct image img;

static void run_in_dir(struct run *r)
{
	snprintf(ord.id, sizeof(ord.id), "order-7");
	ropts = (struct run_opts){ .workdir = dir, .output_size = 1u << 20 };
	*r = (struct run){ .ro = &ropts, .o = &ord, .img = &img, .st.who = ord.id };
	assert_int_equal(make_paths(dir, &ord, &r->p), 0);
}

static void test_output_disk_has_the_order_block_and_no_result(void **state)
{
	uint8_t block[OUTDISK_BLOCK];
	char id[RESULT_ORDER_ID_MAX + 1], err[256];
	struct result_source src;
	struct run r;
	struct stat st;
	int fd;

	(void)state;
	run_in_dir(&r);
	assert_int_equal(make_output_disk(&r, err, sizeof(err)), 0);
	assert_int_equal(stat(r.p.output, &st), 0);
	assert_int_equal(st.st_size, 1u << 20);
	assert_int_equal(st.st_mode & 0777, 0600);
	fd = open(r.p.output, O_RDONLY);
	assert_int_equal(pread(fd, block, sizeof(block), OUTDISK_BLOCK), sizeof(block));
	assert_int_equal(outdisk_order_parse(block, id, sizeof(id), err, sizeof(err)), 0);
	assert_string_equal(id, "order-7");
	assert_int_equal(outdisk_open(fd, &src, err, sizeof(err)), -ENOENT);
	close(fd);
}

static int fd_sink(void *ctx, const void *p, size_t n)
{
	return fd_write_all(*(int *)ctx, p, n);
}

/* Evidence of the right shape: cvm run checks the framing and signature, not the evidence. */
static int shaped_evidence(void *ctx, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	cJSON *e = cJSON_CreateObject();

	(void)ctx, (void)err, (void)errlen;
	cJSON_AddStringToObject(e, "tee", "tdx");
	json_add_hex(cJSON_AddObjectToObject(e, "primary"), "report_data", rd, 64);
	*out = e;
	return 0;
}

/* Writes a sealed bundle for order_id to the output disk with its commit record. */
static void commit_bundle(const char *disk, const char *order_id, bool flip)
{
	static const uint8_t digest[32] = { 1 };
	static const struct result_input input = { .name = "solution" };
	const struct result_meta meta = { .order_id = order_id,
					  .order_sha256 = digest,
					  .job_manifest_sha256 = digest,
					  .inputs = &input,
					  .ninputs = 1 };
	struct result_key customer, signer;
	struct outdisk_commit c = { .offset = OUTDISK_BUNDLE_OFFSET };
	struct result_writer *w;
	uint8_t block[OUTDISK_BLOCK], buf[4096];
	char err[256];
	int fd = open(path_in("bundle"), O_RDWR | O_CREAT | O_TRUNC, 0600), out;
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(result_key_generate(&customer, err, sizeof(err)), 0);
	assert_int_equal(result_key_generate(&signer, err, sizeof(err)), 0);
	assert_int_equal(result_writer_new(customer.pub, &signer, &meta, 0, fd_sink, &fd, &w, err,
					   sizeof(err)),
			 0);
	assert_int_equal(result_writer_write(w, "output", 6, err, sizeof(err)), 0);
	if (result_writer_finish(w, NULL, shaped_evidence, NULL, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	result_writer_free(w);
	result_key_wipe(&customer);
	result_key_wipe(&signer);
	out = open(disk, O_RDWR);
	assert_true(out >= 0);
	c.length = (uint64_t)lseek(fd, 0, SEEK_CUR);
	for (off_t at = 0; (n = pread(fd, buf, sizeof(buf), at)) > 0; at += n)
		assert_int_equal(pwrite(out, buf, (size_t)n, OUTDISK_BUNDLE_OFFSET + at), n);
	assert_int_equal(file_digest(path_in("bundle"), "SHA256", c.sha256, 32, &(size_t){ 0 }), 0);
	if (flip) {
		/* a bit of the signature's region, after the commit record's digest was taken */
		assert_int_equal(pread(out, buf, 1, OUTDISK_BUNDLE_OFFSET + c.length - 3), 1);
		buf[0] ^= 1;
		assert_int_equal(pwrite(out, buf, 1, OUTDISK_BUNDLE_OFFSET + c.length - 3), 1);
	}
	assert_int_equal(outdisk_commit_encode(&c, block), 0);
	assert_int_equal(pwrite(out, block, sizeof(block), 0), sizeof(block));
	close(out);
	close(fd);
}

static void test_a_committed_bundle_is_taken_and_checked(void **state)
{
	uint8_t d[32];
	char err[256];
	struct run r;
	struct stat st;

	(void)state;
	run_in_dir(&r);
	unlink(r.p.bundle);
	assert_int_equal(make_output_disk(&r, err, sizeof(err)), 0);
	commit_bundle(r.p.output, "order-7", false);
	if (take_result(&r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(r.have_bundle);
	assert_int_equal(stat(r.p.bundle, &st), 0);
	assert_int_equal(st.st_size, r.bundle_size);
	assert_int_equal(file_digest(path_in("bundle"), "SHA256", d, 32, &(size_t){ 0 }), 0);
	assert_memory_equal(d, r.bundle_sha256, 32);
	assert_int_equal(access(r.p.bundle_part, F_OK), -1);
	unlink(r.p.bundle);
}

static void test_a_bundle_of_another_order_is_refused(void **state)
{
	char err[256];
	struct run r;

	(void)state;
	run_in_dir(&r);
	assert_int_equal(make_output_disk(&r, err, sizeof(err)), 0);
	commit_bundle(r.p.output, "order-8", false);
	assert_int_equal(take_result(&r, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "E_RESULT_ORDER: the bundle is for order order-8");
	assert_false(r.have_bundle);
	assert_int_equal(access(r.p.bundle, F_OK), -1);
	assert_int_equal(access(r.p.bundle_part, F_OK), -1);
}

static void test_a_disk_not_matching_its_commit_record_has_no_result(void **state)
{
	char err[256];
	struct run r;

	(void)state;
	run_in_dir(&r);
	assert_int_equal(make_output_disk(&r, err, sizeof(err)), 0);
	commit_bundle(r.p.output, "order-7", true);
	assert_true(take_result(&r, err, sizeof(err)) < 0);
	assert_string_equal(err, "E_NO_RESULT: the bundle does not match its commit record");
	assert_int_equal(access(r.p.bundle, F_OK), -1);
}

static void test_no_result_names_the_agents_failed_phase(void **state)
{
	struct run r;

	(void)state;
	run_in_dir(&r);
	feed(&r.st,
	     "{\"phase\":\"key\",\"ok\":false,\"code\":\"E_KEY_RELEASE\",\"detail\":\"down\"}\n"
	     "{\"phase\":\"poweroff\",\"ok\":false,\"code\":\"E_KEY_RELEASE\"}\n");
	no_result(&r, "E_NO_RESULT: no commit record");
	assert_string_equal(r.code, "E_KEY_RELEASE");
	assert_string_equal(r.why, "E_KEY_RELEASE: the agent's key phase failed: down");
	/* cvm run's own reason, found first, stays */
	run_in_dir(&r);
	run_fail(&r, "E_DEADLINE: late");
	no_result(&r, "E_NO_RESULT: no commit record");
	assert_string_equal(r.code, "E_DEADLINE");
}

/* ---- downloads ---- */

static void test_content_range_is_parsed_strictly(void **state)
{
	static const struct {
		const char *v;
		int64_t start, total;
	} c[] = {
		{ "bytes 100-199/200", 100, 200 },
		{ "bytes 0-0/*", 0, -1 },
		{ "bytes 5-4/10", -1, -1 },
		{ "bytes -5-9/10", -1, -1 },
		{ "bytes 1-2", -1, -1 },
		{ "items 1-2/3", -1, -1 },
		{ "bytes 1234567890123456789-1234567890123456789/1", -1, -1 },
	};
	struct dl d;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		content_range(&d, c[i].v);
		if (d.range_start != c[i].start || d.range_total != c[i].total)
			fail_msg("%s: %lld, %lld", c[i].v, (long long)d.range_start,
				 (long long)d.range_total);
	}
}

static void test_a_shown_url_has_no_query(void **state)
{
	char s[FETCH_URL_SHOWN_MAX];

	(void)state;
	fetch_url_shown("https://files.example.com/r/1.cvmr?X-Amz-Signature=abc", s, sizeof(s));
	assert_string_equal(s, "https://files.example.com/r/1.cvmr?...");
	fetch_url_shown("http://127.0.0.1:8080/w.img", s, sizeof(s));
	assert_string_equal(s, "http://127.0.0.1:8080/w.img");
}

static void test_a_workload_already_there_is_kept(void **state)
{
	static const uint8_t data[] = "volume bytes";
	struct fetch_report rep;
	uint8_t sha[32];
	char err[256];

	(void)state;
	assert_int_equal(file_write_atomic(path_in("w.img"), data, sizeof(data), err, sizeof(err)),
			 0);
	EVP_Digest(data, sizeof(data), sha, NULL, EVP_sha256(), NULL);
	/* nothing listens on port 9 of loopback: a fetch would fail */
	assert_int_equal(fetch_workload("http://127.0.0.1:9/w.img", path_in("w.img"), sizeof(data),
					sha, 1, 0, false, &rep, err, sizeof(err)),
			 0);
	assert_true(rep.cached);
	sha[0] ^= 1;
	assert_int_equal(fetch_workload("http://127.0.0.1:9/w.img", path_in("w.img"), sizeof(data),
					sha, 2, 1, false, &rep, err, sizeof(err)),
			 -EAGAIN);
	assert_int_equal(rep.attempts, 2);
	assert_non_null(strstr(err, "E_WORKLOAD_FETCH: http://127.0.0.1:9/w.img: "));
	/* a copy that does not match is not kept */
	assert_int_equal(access(path_in("w.img"), F_OK), -1);
}

/* ---- processes ---- */

/* Running, or stopped: not gone, and not a zombie waiting for a reaper. */
static bool alive(pid_t pid)
{
	_cleanup_free_ uint8_t *stat = NULL;
	char path[64];
	const char *end;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (file_read(path, 4096, &stat, &len) < 0 || !(end = strrchr((char *)stat, ')')))
		return false;
	return end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

static void test_a_child_and_its_group_are_stopped(void **state)
{
	char *argv[] = { "sh", "-c", "sleep 60 & echo $! > \"$0\"; wait",
			 (char *)path_in("grandchild"), NULL };
	_cleanup_free_ uint8_t *text = NULL;
	char err[256];
	size_t len;
	pid_t pid, grandchild = 0;
	int ws, i;

	(void)state;
	assert_int_equal(spawn(argv, path_in("child.log"), &pid, err, sizeof(err)), 0);
	assert_int_equal(getpgid(pid), pid);
	for (i = 0; i < 100 && grandchild <= 0; i++) {
		nap_ms(20);
		free(text);
		text = NULL;
		if (file_read(path_in("grandchild"), 64, &text, &len) == 0)
			grandchild = atoi((char *)text);
	}
	assert_true(grandchild > 0 && alive(grandchild));
	assert_false(wait_child(pid, 50, &ws));
	stop_child(pid, &ws);
	assert_true(WIFSIGNALED(ws));
	assert_int_equal(WTERMSIG(ws), SIGTERM);
	for (i = 0; i < 100 && alive(grandchild); i++)
		nap_ms(20);
	assert_false(alive(grandchild));
}

static void test_a_program_that_cannot_run_is_an_error(void **state)
{
	char *argv[] = { "/nonexistent/qemu", NULL };
	char err[256];
	pid_t pid = 0;

	(void)state;
	assert_int_equal(spawn(argv, path_in("x.log"), &pid, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot run /nonexistent/qemu: No such file or directory");
	assert_int_equal(pid, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_line_of_the_agent_is_read),
		cmocka_unit_test(test_status_line_written_is_read),
		cmocka_unit_test(test_status_lines_not_of_the_format_are_refused),
		cmocka_unit_test(test_status_detail_is_made_printable_and_short),
		cmocka_unit_test(test_status_lines_are_taken_whole_across_reads),
		cmocka_unit_test(test_an_overlong_status_line_is_skipped_whole),
		cmocka_unit_test(test_phases_seen_are_capped),
		cmocka_unit_test(test_a_status_file_past_its_cap_is_a_flood),
		cmocka_unit_test(test_output_disk_has_the_order_block_and_no_result),
		cmocka_unit_test(test_a_committed_bundle_is_taken_and_checked),
		cmocka_unit_test(test_a_bundle_of_another_order_is_refused),
		cmocka_unit_test(test_a_disk_not_matching_its_commit_record_has_no_result),
		cmocka_unit_test(test_no_result_names_the_agents_failed_phase),
		cmocka_unit_test(test_content_range_is_parsed_strictly),
		cmocka_unit_test(test_a_shown_url_has_no_query),
		cmocka_unit_test(test_a_workload_already_there_is_kept),
		cmocka_unit_test(test_a_child_and_its_group_are_stopped),
		cmocka_unit_test(test_a_program_that_cannot_run_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
