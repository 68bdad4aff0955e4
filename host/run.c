/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm run: the provider's controller (docs/order.md §7, §8). It checks an
 * order (signature, limits, the image it names), fetches the workload,
 * makes the output disk with the order block, starts swtpm when the image
 * wants a vTPM, launches QEMU, follows the agent's status lines to the
 * order's deadline, takes the sealed bundle from the output disk and
 * uploads it. The host is not trusted and holds no secret: it handles the
 * encrypted volume and the sealed bundle, and reads the guest's status
 * lines and disk as hostile input. With --print-qemu it only prints the
 * QEMU command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "host/cvm.h"
#include "host/fetch.h"
#include "lib/lib.h"

/* cvm run's exit status when it launches (docs/order.md §8). */
enum {
	RUN_RESULT = 0,	      /* a committed result, uploaded */
	RUN_NO_RESULT = 1,    /* accepted, but no result: the agent's code, E_DEADLINE, E_QEMU... */
	RUN_REFUSED = 2,      /* usage, the order, the image, the workload: nothing launched */
	RUN_NOT_UPLOADED = 3, /* a committed result, kept in the work directory, not uploaded */
};

#define RUN_PATH_MAX 4096
#define OUTPUT_SIZE_DEFAULT (256ull << 20)
#define OUTPUT_SIZE_MAX (1ull << 40)
#define FETCH_ATTEMPTS 4
#define UPLOAD_RETRIES_DEFAULT 4
#define BACKOFF_MS 1000
#define POLL_MS 100
#define GRACE_MS 5000
/* What the guest may write to the host's disk through QEMU before it is stopped. */
#define STATUS_FILE_MAX (1u << 20)
#define CONSOLE_FILE_MAX (64u << 20)
#define STATUS_LINE_MAX 4096
#define STATUS_SEEN_MAX 64
#define DETAIL_SHOWN 160

static void run_usage(FILE *f)
{
	fputs("Usage: cvm run ORDER.json [--workdir DIR] [options]\n"
	      "       cvm run ORDER.json --print-qemu [options]\n"
	      "\n"
	      "Runs a signed order (docs/order.md): checks it against the provider's limits\n"
	      "and the image it names, fetches the workload (resumable, size-capped, SHA-256\n"
	      "checked), makes the output disk, starts swtpm when the image wants a vTPM,\n"
	      "launches QEMU, shows the agent's phases on stderr, stops the VM at the order's\n"
	      "deadline, copies the sealed result to DIR/result.cvmr and uploads it with HTTP\n"
	      "PUT to the order's upload URL. A JSON summary goes to stdout. With\n"
	      "--print-qemu it only prints the QEMU command line, shell-quoted.\n"
	      "\n"
	      "  --workdir DIR         the order's files: workload.img, output.img, status,\n"
	      "                        console.log, result.cvmr, swtpm state (made if missing;\n"
	      "                        default ./cvm-run-ID, ID the order's id). A result\n"
	      "                        kept there by an earlier run of the order is uploaded\n"
	      "                        again, not run again\n"
	      "  --platform P          plain (default), tdx or snp\n"
	      "  --images DIR          where images live: DIR/NAME/image.json (default\n"
	      "                        vm-images)\n"
	      "  --qemu PATH           the QEMU binary (default qemu-system-x86_64)\n"
	      "  --limits FILE         the provider's limits, as for 'cvm order check'\n"
	      "  --output-size BYTES   the output disk (default 268435456; 4 KiB multiple)\n"
	      "  --upload-retries N    upload retries after the first try (default 4; 0-10),\n"
	      "                        waiting 1 s, 2 s, 4 s... between them\n"
	      "  --print-qemu          print the command line; launch nothing (--workdir\n"
	      "                        defaults to .)\n"
	      "\n"
	      "Exit status: 0 a committed result, uploaded; 1 no result (the agent's code,\n"
	      "E_DEADLINE, E_QEMU, E_INTERRUPTED); 2 usage, or refused before launch (the\n"
	      "order, its image, the workload); 3 a committed result, kept in DIR, whose\n"
	      "upload failed (the same command again retries the upload). --print-qemu: 0\n"
	      "printed, 1 refused, 2 usage or image error.\n",
	      f);
}

/* ---- options ---- */

struct run_opts {
	const char *order, *images, *workdir, *qemu, *limits;
	enum qemu_platform platform;
	bool print;
	uint64_t output_size;
	unsigned upload_retries;
};

/* A decimal number of at most 19 digits, nothing else. */
static int parse_u64(const char *s, uint64_t *v)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 19 || s[n])
		return -EINVAL;
	*v = strtoull(s, NULL, 10);
	return 0;
}

static int parse_value(int c, struct run_opts *o)
{
	uint64_t v;

	if (c == 's') {
		if (parse_u64(optarg, &v) < 0 || v % OUTDISK_BLOCK ||
		    v < OUTDISK_BUNDLE_OFFSET + OUTDISK_BLOCK || v > OUTPUT_SIZE_MAX)
			return log_error("--output-size: a multiple of 4096 from 12288 to 2^40"),
			       -EINVAL;
		o->output_size = v;
	} else {
		if (parse_u64(optarg, &v) < 0 || v > 10)
			return log_error("--upload-retries: 0 to 10"), -EINVAL;
		o->upload_retries = (unsigned)v;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "print-qemu", no_argument, NULL, 'P' },
		{ "platform", required_argument, NULL, 'p' },
		{ "images", required_argument, NULL, 'i' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "qemu", required_argument, NULL, 'q' },
		{ "limits", required_argument, NULL, 'l' },
		{ "output-size", required_argument, NULL, 's' },
		{ "upload-retries", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct run_opts){ .images = "vm-images",
				.platform = QEMU_PLAIN,
				.output_size = OUTPUT_SIZE_DEFAULT,
				.upload_retries = UPLOAD_RETRIES_DEFAULT };
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			o->print = true;
			break;
		case 'p':
			if (qemu_platform_parse(optarg, &o->platform) < 0)
				return log_error("--platform: plain, tdx or snp"), -EINVAL;
			break;
		case 'i':
			o->images = optarg;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 'q':
			o->qemu = optarg;
			break;
		case 'l':
			o->limits = optarg;
			break;
		case 's':
		case 'u':
			if (parse_value(c, o) < 0)
				return -EINVAL;
			break;
		case 'h':
			run_usage(stdout);
			return 1;
		default:
			return log_error("see 'cvm run --help'"), -EINVAL;
		}
	}
	if (argc - optind != 1)
		return log_error("needs one ORDER.json; see 'cvm run --help'"), -EINVAL;
	o->order = argv[optind];
	return 0;
}

/* The order, checked against the limits: EXIT_OK, or the exit status of the failure. */
static int load_order(const struct run_opts *ro, struct order *o)
{
	struct order_limits lim = ORDER_LIMITS_MAX;
	_cleanup_free_ uint8_t *text = NULL, *ltext = NULL;
	char err[320];
	size_t len;
	int r;

	if (ro->limits) {
		if ((r = file_read(ro->limits, CVM_CAP_JSON, &ltext, &len)) < 0)
			return log_error_errno(r, "%s", ro->limits), EXIT_USAGE;
		if (order_limits_parse((const char *)ltext, len, &lim, err, sizeof(err)) < 0)
			return log_error("%s: %s", ro->limits, err), EXIT_USAGE;
	}
	if ((r = file_read(ro->order, CVM_CAP_JSON, &text, &len)) < 0)
		return log_error_errno(r, "%s", ro->order), EXIT_USAGE;
	if (order_parse((const char *)text, len, &lim, o, err, sizeof(err)) < 0)
		return log_error("%s: %s", ro->order, err), EXIT_REJECTED;
	return EXIT_OK;
}

/* The image the order names: EXIT_OK, or the exit status of the failure. */
static int load_image(const struct run_opts *ro, const struct order *o, struct image *img)
{
	char path[RUN_PATH_MAX], err[320];
	int r;

	/* the order's image name is [a-z0-9][a-z0-9._-]*: no way out of the images directory */
	snprintf(path, sizeof(path), "%s/%s/image.json", ro->images, o->image);
	r = image_load(path, img, err, sizeof(err));
	if (r == -ENOENT) {
		log_error("%s: E_ORDER_IMAGE: image %s is not one of this provider's (no %s)",
			  ro->order, o->image, path);
		return EXIT_REJECTED;
	}
	if (r < 0 || strcmp(img->name, o->image)) {
		log_error("%s: %s", path, r < 0 ? err : "E_IMAGE: name is not its directory's");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* ---- --print-qemu ---- */

/* Words of [A-Za-z0-9] and ",._+:@%/=-" go as they are; others in single quotes. */
static void print_word(const char *s)
{
	if (*s &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+:@%/=-") ==
		    strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

/* The order's files in a work directory. */
struct run_paths {
	char workload[RUN_PATH_MAX], output[RUN_PATH_MAX], status[RUN_PATH_MAX],
		console[RUN_PATH_MAX], sock[RUN_PATH_MAX], tpmstate[RUN_PATH_MAX],
		swtpm_log[RUN_PATH_MAX], qemu_pid[RUN_PATH_MAX], bundle[RUN_PATH_MAX],
		bundle_part[RUN_PATH_MAX];
};

/*
 * DIR's files, absolute: QEMU reads a relative "a:b/x" as protocol "a"
 * (and a relative path means another file once QEMU's cwd differs).
 */
static int make_paths(const char *dir, struct run_paths *p)
{
	const struct {
		char *out;
		const char *name;
	} f[] = {
		{ p->workload, "workload.img" }, { p->output, "output.img" },
		{ p->status, "status" },	 { p->console, "console.log" },
		{ p->sock, "swtpm.sock" },	 { p->tpmstate, "swtpm" },
		{ p->swtpm_log, "swtpm.log" },	 { p->qemu_pid, "qemu.pid" },
		{ p->bundle, "result.cvmr" },	 { p->bundle_part, "result.cvmr.part" },
	};

	char cwd[RUN_PATH_MAX] = "";

	if (dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -ENAMETOOLONG;
	if (!strcmp(dir, "."))
		dir = "";
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		int n = snprintf(f[i].out, RUN_PATH_MAX, "%s%s%s%s%s", cwd, cwd[0] ? "/" : "", dir,
				 dir[0] ? "/" : "", f[i].name);

		if (n < 0 || n >= RUN_PATH_MAX)
			return -ENAMETOOLONG;
	}
	return 0;
}

static int qemu_argv(const struct run_opts *ro, const struct order *o, const struct image *img,
		     const struct run_paths *p, char ***argv, char *err, size_t errlen)
{
	const struct qemu_paths paths = {
		.qemu = ro->qemu,
		.workload = p->workload,
		.output = p->output,
		.status = p->status,
		.swtpm_socket = p->sock,
	};

	return qemu_args(img, o, ro->platform, &paths, argv, err, errlen);
}

static int print_qemu(const struct run_opts *ro, const struct order *o, const struct image *img)
{
	struct run_paths p;
	char err[320], **argv = NULL;

	if (make_paths(ro->workdir, &p) < 0)
		return log_error("%s: path too long", ro->workdir), EXIT_USAGE;
	if (qemu_argv(ro, o, img, &p, &argv, err, sizeof(err)) < 0) {
		log_error("%s: %s", ro->order, err);
		return EXIT_REJECTED;
	}
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			putchar(' ');
		print_word(argv[i]);
	}
	putchar('\n');
	qemu_args_free(argv);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

/* ---- the agent's status lines (docs/agent.md): the guest's words, read as hostile ---- */

struct status_line {
	char phase[32];
	char code[64];
	char detail[DETAIL_SHOWN + 4];
	bool ok;
	double t; /* the guest's milliseconds since boot; -1 when absent */
};

/* 1 to cap - 1 bytes, the first of 'first', the rest of 'rest'. */
static bool word_valid(const char *s, const char *first, const char *rest, size_t cap)
{
	size_t n = strlen(s);

	return n > 0 && n < cap && strchr(first, s[0]) && strspn(s + 1, rest) == n - 1;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGIT "0123456789"

/* A copy of a guest string for a terminal: printable ASCII, at most DETAIL_SHOWN of it. */
static void sanitize(const char *s, char *out)
{
	size_t i;

	for (i = 0; s[i] && i < DETAIL_SHOWN; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	snprintf(out + i, 4, "%s", s[i] ? "..." : "");
}

/* One line: {"t": ms, "phase": ..., "ok": bool, "code": "E_...", "detail": ..., ...}. */
static int status_line_parse(const char *text, size_t n, struct status_line *sl)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	const cJSON *t, *d;
	const char *phase, *code = NULL;

	memset(sl, 0, sizeof(*sl));
	sl->t = -1;
	if (json_parse(text, n, &root) < 0 || !cJSON_IsObject(root) ||
	    json_get_string(root, "phase", &phase) < 0 || json_get_bool(root, "ok", &sl->ok) < 0 ||
	    !word_valid(phase, LOWER, LOWER DIGIT "_-", sizeof(sl->phase)))
		return -EBADMSG;
	if (cJSON_GetObjectItemCaseSensitive(root, "code") &&
	    (json_get_string(root, "code", &code) < 0 || strncmp(code, "E_", 2) ||
	     !word_valid(code, "E", UPPER DIGIT "_", sizeof(sl->code))))
		return -EBADMSG;
	d = cJSON_GetObjectItemCaseSensitive(root, "detail");
	if (d && !cJSON_IsString(d))
		return -EBADMSG;
	t = cJSON_GetObjectItemCaseSensitive(root, "t");
	if (t && cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < 1e12)
		sl->t = t->valuedouble;
	snprintf(sl->phase, sizeof(sl->phase), "%s", phase);
	if (code)
		snprintf(sl->code, sizeof(sl->code), "%s", code);
	if (d)
		sanitize(d->valuestring, sl->detail);
	return 0;
}

struct status_follow {
	const char *who; /* the order id, for the lines shown */
	uint64_t off;	 /* bytes of the status file consumed */
	char buf[STATUS_LINE_MAX];
	size_t len;
	bool skipping; /* inside a line longer than buf */
	unsigned bad;  /* lines that were not status lines */
	size_t n;
	struct {
		char phase[32], code[64];
		bool ok;
	} seen[STATUS_SEEN_MAX];
	char last_code[64]; /* of the last line with a code */
	/* the last phase that failed, its code and detail */
	char fail_code[64], fail_phase[32], fail_detail[DETAIL_SHOWN + 4];
	bool poweroff;
};

static void status_show(const struct status_follow *f, const struct status_line *sl)
{
	char t[24] = "";

	if (sl->t >= 0)
		snprintf(t, sizeof(t), "[%7.1f s] ", sl->t / 1000);
	fprintf(stderr, "%s: %s: %s%-10s %s%s%s%s%s\n", log_prog(), f->who, t, sl->phase,
		sl->ok ? "ok" : "FAILED", sl->code[0] ? " " : "", sl->code,
		sl->detail[0] ? ": " : "", sl->detail);
}

static void status_take(struct status_follow *f, const char *line, size_t n)
{
	struct status_line sl;

	if (status_line_parse(line, n, &sl) < 0) {
		f->bad++;
		return;
	}
	status_show(f, &sl);
	if (f->n < STATUS_SEEN_MAX) {
		snprintf(f->seen[f->n].phase, sizeof(f->seen[f->n].phase), "%s", sl.phase);
		snprintf(f->seen[f->n].code, sizeof(f->seen[f->n].code), "%s", sl.code);
		f->seen[f->n++].ok = sl.ok;
	}
	if (sl.code[0])
		snprintf(f->last_code, sizeof(f->last_code), "%s", sl.code);
	/* the poweroff line repeats the code of the phase that failed */
	if (!sl.ok && sl.code[0] && strcmp(sl.phase, "poweroff")) {
		snprintf(f->fail_code, sizeof(f->fail_code), "%s", sl.code);
		snprintf(f->fail_phase, sizeof(f->fail_phase), "%s", sl.phase);
		snprintf(f->fail_detail, sizeof(f->fail_detail), "%s", sl.detail);
	}
	f->poweroff |= !strcmp(sl.phase, "poweroff");
}

/* Bytes of the status file, in order: each whole line is taken; longer lines than buf are not. */
static void status_feed(struct status_follow *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (f->len < sizeof(f->buf))
				f->buf[f->len++] = p[i];
			else
				f->skipping = true;
			continue;
		}
		if (f->skipping)
			f->bad++;
		else if (f->len)
			status_take(f, f->buf, f->len);
		f->len = 0;
		f->skipping = false;
	}
}

/* Takes what the status file gained; -EFBIG once it has grown past STATUS_FILE_MAX. */
static int status_poll(struct status_follow *f, const char *path)
{
	char buf[8192];
	ssize_t n = 1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (n > 0 && f->off < STATUS_FILE_MAX) {
		size_t want = sizeof(buf);

		if (want > STATUS_FILE_MAX - f->off)
			want = (size_t)(STATUS_FILE_MAX - f->off);
		n = pread(fd, buf, want, (off_t)f->off);
		if (n > 0) {
			status_feed(f, buf, (size_t)n);
			f->off += (uint64_t)n;
		}
	}
	if (f->off >= STATUS_FILE_MAX && pread(fd, buf, 1, (off_t)f->off) > 0)
		n = -EFBIG;
	close(fd);
	return n == -EFBIG ? -EFBIG : 0;
}

/* ---- processes ---- */

static void nap_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* In the child: its own process group, ended with this process, default signals. */
static __attribute__((noreturn)) void child_exec(char *const argv[], int log, int null, int report,
						 pid_t parent)
{
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	sigset_t none;
	int e;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/*
 * Starts argv (PATH searched) with stdin from /dev/null and stdout and
 * stderr to log, in a process group of its own (a terminal's Ctrl-C comes
 * to us, and the group ends with it), and learns whether exec worked.
 */
static int spawn(char *const argv[], const char *log, pid_t *out, char *err, size_t errlen)
{
	int p[2] = { -1, -1 }, lfd, nfd, e = 0, st;
	pid_t parent = getpid(), pid = -1;
	ssize_t n;

	lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd < 0)
		return set_error(err, errlen, -errno, "%s: %s", log, strerror(errno));
	nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfd < 0 || pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		e = errno;
	else if (pid == 0)
		child_exec(argv, lfd, nfd, p[1], parent);
	if (p[1] >= 0)
		close(p[1]);
	if (pid > 0) {
		setpgid(pid, pid);
		while ((n = read(p[0], &e, sizeof(e))) < 0 && errno == EINTR)
			;
		if (n == (ssize_t)sizeof(e))
			waitpid(pid, &st, 0);
		else
			e = 0;
	}
	if (p[0] >= 0)
		close(p[0]);
	if (nfd >= 0)
		close(nfd);
	close(lfd);
	if (e)
		return set_error(err, errlen, -e, "cannot run %s: %s", argv[0], strerror(e));
	*out = pid;
	return 0;
}

/* Waits up to ms for pid to end; true when it has (reaped, or not ours to wait for). */
static bool wait_child(pid_t pid, unsigned ms, int *wstatus)
{
	const int64_t end = mono_ms() + ms;

	for (;;) {
		pid_t w = waitpid(pid, wstatus, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			return true;
		if (mono_ms() >= end)
			return false;
		nap_ms(POLL_MS / 2);
	}
}

/*
 * Ends a child started by spawn() and its process group (QEMU's guestfwd
 * socat processes): SIGTERM, SIGKILL after GRACE_MS, then reaps it.
 */
static void stop_child(pid_t pid, int *wstatus)
{
	kill(-pid, SIGTERM);
	if (!wait_child(pid, GRACE_MS, wstatus)) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR)
			;
	}
	kill(-pid, SIGKILL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- one order's run ---- */

struct run {
	const struct run_opts *ro;
	const struct order *o;
	const struct image *img;
	struct run_paths p;
	pid_t qemu, swtpm;
	int qemu_wstatus;
	bool launched, qemu_ended;
	const char *stopped_by; /* why cvm run stopped QEMU: "deadline", "signal", "flood" */
	time_t started;
	int64_t t0, fetch_ms, vm_ms, upload_ms;
	struct fetch_report fetch;
	struct status_follow st;
	char code[64];			 /* what ended the run without an uploaded result */
	char why[480];			 /* its one line */
	bool have_bundle, partial, kept; /* kept: DIR/result.cvmr of an earlier run */
	int job_exit;
	uint64_t bundle_size;
	uint8_t bundle_sha256[32];
	bool upload_tried;
	struct upload_report up;
	int exit;
};

/* Records "E_CODE: why" as what ended the run; the first one stays. */
static void run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_fail(struct run *r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (r->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	n = strspn(r->why, UPPER DIGIT "_");
	snprintf(r->code, sizeof(r->code), "%.*s", (int)(n < sizeof(r->code) ? n : 0), r->why);
}

static void say(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", log_prog(), r->o->id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void on_signal(int sig)
{
	(void)sig;
	fetch_stop = 1;
}

/* No SA_RESTART: a signal cuts a wait short, and every loop looks at fetch_stop. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int prepare_workdir(struct run *r, char *err, size_t errlen)
{
	const char *dir = r->ro->workdir;
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return set_error(err, errlen, -errno, "E_WORKDIR: %s: %s", dir, strerror(errno));
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return set_error(err, errlen, -ENOTDIR, "E_WORKDIR: %s is not a directory", dir);
	if (make_paths(dir, &r->p) < 0)
		return set_error(err, errlen, -ENAMETOOLONG, "E_WORKDIR: %s: path too long", dir);
	if (access(r->p.bundle, F_OK) == 0) {
		r->kept = true;
		return 0;
	}
	if (!r->img->platform[r->ro->platform].vtpm)
		return 0;
	if (strlen(r->p.sock) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return set_error(err, errlen, -ENAMETOOLONG,
				 "E_WORKDIR: %s: too long for swtpm's socket", r->p.sock);
	if (strchr(dir, ','))
		return set_error(err, errlen, -EINVAL,
				 "E_WORKDIR: %s: swtpm's options cannot hold a ','", dir);
	return 0;
}

/* The output disk (docs/result.md §3): zeros, and the order block naming the order. */
static int make_output_disk(const struct run *r, char *err, size_t errlen)
{
	uint8_t b[OUTDISK_BLOCK];
	int fd, rc = 0;

	if (outdisk_order_encode(r->o->id, b) < 0)
		return set_error(err, errlen, -EINVAL, "E_OUTPUT: the order id");
	fd = open(r->p.output, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)r->ro->output_size) < 0 ||
	    pwrite(fd, b, sizeof(b), OUTDISK_BLOCK) != (ssize_t)sizeof(b) || fsync(fd) < 0)
		rc = set_error(err, errlen, -errno, "E_OUTPUT: %s: %s", r->p.output,
			       strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static int start_swtpm(struct run *r, char *err, size_t errlen)
{
	char state[RUN_PATH_MAX + 8], ctrl[RUN_PATH_MAX + 32];
	char *argv[] = { "swtpm",  "socket", "--tpm2",	"--tpmstate",	 state,
			 "--ctrl", ctrl,     "--flags", "startup-clear", NULL };
	const int64_t end = mono_ms() + GRACE_MS;
	char why[320];
	struct stat st;
	int ws;

	rm_tree(r->p.tpmstate);
	unlink(r->p.sock);
	if (mkdir(r->p.tpmstate, 0700) < 0)
		return set_error(err, errlen, -errno, "E_SWTPM: %s: %s", r->p.tpmstate,
				 strerror(errno));
	snprintf(state, sizeof(state), "dir=%s", r->p.tpmstate);
	snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s", r->p.sock);
	if (spawn(argv, r->p.swtpm_log, &r->swtpm, why, sizeof(why)) < 0)
		return set_error(err, errlen, -ENOEXEC, "E_SWTPM: %s", why);
	while (stat(r->p.sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		if (wait_child(r->swtpm, 0, &ws)) {
			r->swtpm = 0;
			return set_error(err, errlen, -EIO, "E_SWTPM: swtpm ended (see %s)",
					 r->p.swtpm_log);
		}
		if (mono_ms() >= end || fetch_stop)
			return set_error(err, errlen, -ETIMEDOUT, "E_SWTPM: no socket from swtpm");
		nap_ms(POLL_MS / 2);
	}
	return 0;
}

static int launch(struct run *r, char *err, size_t errlen)
{
	char **argv = NULL, pid[24], why[320];
	int rc;

	if (r->img->platform[r->ro->platform].vtpm && (rc = start_swtpm(r, err, errlen)) < 0)
		return rc;
	/* a status file of an earlier run would read as this one's */
	unlink(r->p.status);
	if ((rc = qemu_argv(r->ro, r->o, r->img, &r->p, &argv, err, errlen)) < 0)
		return rc;
	rc = spawn(argv, r->p.console, &r->qemu, why, sizeof(why));
	qemu_args_free(argv);
	if (rc < 0)
		return set_error(err, errlen, rc, "E_QEMU: %s", why);
	r->launched = true;
	snprintf(pid, sizeof(pid), "%d\n", (int)r->qemu);
	file_write_atomic(r->p.qemu_pid, pid, strlen(pid), NULL, 0);
	return 0;
}

/* Follows the status lines until QEMU ends, or stops it: deadline, signal, a flooding guest. */
static void follow(struct run *r)
{
	const int64_t t = mono_ms(), deadline = t + (int64_t)r->o->deadline_seconds * 1000;
	struct stat cst;

	for (;;) {
		int flood = status_poll(&r->st, r->p.status);

		if (wait_child(r->qemu, 0, &r->qemu_wstatus)) {
			r->qemu_ended = true;
			break;
		}
		if (fetch_stop)
			r->stopped_by = "signal";
		else if (mono_ms() >= deadline)
			r->stopped_by = "deadline";
		else if (flood < 0 ||
			 (stat(r->p.console, &cst) == 0 && cst.st_size > CONSOLE_FILE_MAX))
			r->stopped_by = "flood";
		if (r->stopped_by)
			break;
		nap_ms(POLL_MS);
	}
	if (r->qemu_ended)
		kill(-r->qemu, SIGKILL); /* what its group still holds */
	else
		stop_child(r->qemu, &r->qemu_wstatus);
	r->qemu = 0;
	r->vm_ms = mono_ms() - t;
	status_poll(&r->st, r->p.status);
	unlink(r->p.qemu_pid);
}

/* swtpm ends when QEMU disconnects; if it has not, it is stopped. */
static void end_swtpm(struct run *r, unsigned wait_ms)
{
	int ws;

	if (r->swtpm > 0 && !wait_child(r->swtpm, wait_ms, &ws))
		stop_child(r->swtpm, &ws);
	r->swtpm = 0;
	unlink(r->p.sock);
	rm_tree(r->p.tpmstate);
}

static void qemu_outcome(struct run *r)
{
	const int ws = r->qemu_wstatus;

	if (r->stopped_by && !strcmp(r->stopped_by, "deadline"))
		run_fail(r, "E_DEADLINE: the order's %llu s passed; QEMU was stopped",
			 (unsigned long long)r->o->deadline_seconds);
	else if (r->stopped_by && !strcmp(r->stopped_by, "signal"))
		run_fail(r, "E_INTERRUPTED: stopped by a signal; QEMU was stopped");
	else if (r->stopped_by)
		run_fail(r,
			 "E_GUEST_FLOOD: the guest wrote past %u bytes of status or %u of "
			 "console; QEMU was stopped",
			 STATUS_FILE_MAX, CONSOLE_FILE_MAX);
	else if (WIFSIGNALED(ws))
		run_fail(r, "E_QEMU: QEMU was killed by signal %d", WTERMSIG(ws));
	else if (WIFEXITED(ws) && WEXITSTATUS(ws))
		run_fail(r, "E_QEMU: QEMU exited with status %d (see %s)", WEXITSTATUS(ws),
			 r->p.console);
}

static void evp_md_ctx_freep(EVP_MD_CTX **c)
{
	EVP_MD_CTX_free(*c);
}

/* Copies the bundle's region of the output disk to a file of its own, hashing it. */
static int copy_bundle(int fd, const struct result_source *src, const char *to, uint8_t sha[32],
		       char *err, size_t errlen)
{
	_cleanup_(evp_md_ctx_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_free_ uint8_t *buf = malloc(1u << 20);
	int out, rc = 0;

	if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return set_error(err, errlen, -ENOMEM, "E_RESULT_COPY: out of memory");
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return set_error(err, errlen, -errno, "E_RESULT_COPY: %s: %s", to, strerror(errno));
	for (uint64_t done = 0; rc == 0 && done < src->size;) {
		size_t want = src->size - done < (1u << 20) ? (size_t)(src->size - done) : 1u << 20;
		ssize_t n = pread(fd, buf, want, (off_t)(src->offset + done));

		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else if ((rc = fd_write_all(out, buf, (size_t)n)) == 0 &&
			 EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			rc = -EIO;
		done += n > 0 ? (uint64_t)n : 0;
	}
	if (rc == 0 && (fsync(out) < 0 || EVP_DigestFinal_ex(md, sha, NULL) != 1))
		rc = -EIO;
	close(out);
	return rc < 0 ? set_error(err, errlen, rc, "E_RESULT_COPY: %s: %s", to, strerror(-rc)) : 0;
}

/* The bundle's framing and signature (no key needed), and that it is this order's. */
static int check_bundle(struct run *r, const char *path, char *err, size_t errlen)
{
	struct result_info info = { 0 };
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = set_error(err, errlen, -errno, "E_RESULT_COPY: %s: %s", path, strerror(errno));
	} else {
		const struct result_source src = { .fd = fd, .size = (uint64_t)st.st_size };

		rc = result_verify(&src, &info, err, errlen);
		if (rc == 0 && strcmp(info.order_id, r->o->id))
			rc = set_error(err, errlen, -EBADMSG,
				       "E_RESULT_ORDER: the bundle is for order %s", info.order_id);
		r->partial = info.partial;
		r->job_exit = info.exit_code;
		r->bundle_size = (uint64_t)st.st_size;
	}
	result_info_free(&info);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The committed bundle of the output disk, checked, as DIR/result.cvmr. */
static int take_result(struct run *r, char *err, size_t errlen)
{
	struct result_source src;
	int fd = open(r->p.output, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return set_error(err, errlen, -errno, "E_NO_RESULT: %s: %s", r->p.output,
				 strerror(errno));
	rc = outdisk_open(fd, &src, err, errlen);
	if (rc == 0)
		rc = copy_bundle(fd, &src, r->p.bundle_part, r->bundle_sha256, err, errlen);
	close(fd);
	if (rc == 0)
		rc = check_bundle(r, r->p.bundle_part, err, errlen);
	if (rc == 0 && rename(r->p.bundle_part, r->p.bundle) < 0)
		rc = set_error(err, errlen, -errno, "E_RESULT_COPY: %s: %s", r->p.bundle,
			       strerror(errno));
	unlink(r->p.bundle_part);
	r->have_bundle = rc == 0;
	return rc;
}

/* Why there is no result: cvm run's own reason, else the agent's last code, else the disk's. */
static void no_result(struct run *r, const char *disk_err)
{
	const struct status_follow *f = &r->st;

	if (f->fail_code[0] && !strcmp(f->fail_code, "E_OUTPUT_FULL"))
		run_fail(r,
			 "%s: the agent's %s phase failed: the bundle does not fit on the %" PRIu64
			 "-byte output disk (--output-size)",
			 f->fail_code, f->fail_phase, r->ro->output_size);
	else if (f->fail_code[0])
		run_fail(r, "%s: the agent's %s phase failed%s%s", f->fail_code, f->fail_phase,
			 f->fail_detail[0] ? ": " : "", f->fail_detail);
	else if (f->last_code[0])
		run_fail(r, "%s: reported by the agent", f->last_code);
	else if (r->qemu_ended && !f->poweroff && !f->n)
		run_fail(r, "%s (no status line from the agent; see %s)", disk_err, r->p.console);
	else
		run_fail(r, "%s", disk_err);
}

static void show_result(const struct run *r)
{
	char hex[65];

	hex_encode(r->bundle_sha256, 32, hex);
	say(r, "result %s: %llu bytes, SHA-256 %s%s", r->p.bundle,
	    (unsigned long long)r->bundle_size, hex,
	    r->partial ? " (marked partial by the agent)" : "");
}

static void upload(struct run *r)
{
	char err[480], shown[FETCH_URL_SHOWN_MAX];
	const int64_t t = mono_ms();

	r->upload_tried = true;
	fetch_url_shown(r->o->upload_url, shown, sizeof(shown));
	if (upload_file(r->o->upload_url, r->p.bundle, 1 + r->ro->upload_retries, BACKOFF_MS,
			&r->up, err, sizeof(err)) < 0)
		run_fail(r, "%s (%u attempts; the result is kept in %s)", err, r->up.attempts,
			 r->p.bundle);
	else
		say(r, "uploaded to %s (HTTP %ld, %u attempt%s)", shown, r->up.http_status,
		    r->up.attempts, r->up.attempts == 1 ? "" : "s");
	r->upload_ms = mono_ms() - t;
}

/* ---- the summary (stdout, one JSON object) ---- */

static void add_str_or_null(cJSON *o, const char *key, const char *s)
{
	if (s && s[0])
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static void summary_status(cJSON *s, const struct status_follow *f)
{
	cJSON *a = cJSON_AddArrayToObject(s, "phases");

	for (size_t i = 0; i < f->n; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "phase", f->seen[i].phase);
		cJSON_AddBoolToObject(e, "ok", f->seen[i].ok);
		if (f->seen[i].code[0])
			cJSON_AddStringToObject(e, "code", f->seen[i].code);
		if (!cJSON_AddItemToArray(a, e))
			cJSON_Delete(e);
	}
	add_str_or_null(s, "last_code", f->last_code);
	cJSON_AddBoolToObject(s, "poweroff", f->poweroff);
	cJSON_AddNumberToObject(s, "status_lines_refused", f->bad);
}

static void summary_qemu(cJSON *s, const struct run *r)
{
	cJSON *q;

	if (!r->launched) {
		cJSON_AddNullToObject(s, "qemu");
		return;
	}
	q = cJSON_AddObjectToObject(s, "qemu");
	if (WIFEXITED(r->qemu_wstatus))
		cJSON_AddNumberToObject(q, "exit_status", WEXITSTATUS(r->qemu_wstatus));
	else if (WIFSIGNALED(r->qemu_wstatus))
		cJSON_AddNumberToObject(q, "signal", WTERMSIG(r->qemu_wstatus));
	add_str_or_null(q, "stopped_by", r->stopped_by);
	cJSON_AddStringToObject(q, "console", r->p.console);
}

static void summary_files(cJSON *s, const struct run *r)
{
	cJSON *w = cJSON_AddObjectToObject(s, "workload"), *b, *u;
	char hex[65], shown[FETCH_URL_SHOWN_MAX];

	cJSON_AddStringToObject(w, "path", r->p.workload);
	cJSON_AddNumberToObject(w, "bytes", (double)r->o->workload_size);
	cJSON_AddBoolToObject(w, "cached", r->fetch.cached);
	cJSON_AddNumberToObject(w, "resumed_at", (double)r->fetch.resumed_at);
	cJSON_AddNumberToObject(w, "attempts", r->fetch.attempts);
	if (!r->have_bundle) {
		cJSON_AddNullToObject(s, "bundle");
	} else {
		b = cJSON_AddObjectToObject(s, "bundle");
		hex_encode(r->bundle_sha256, 32, hex);
		cJSON_AddStringToObject(b, "path", r->p.bundle);
		cJSON_AddNumberToObject(b, "bytes", (double)r->bundle_size);
		cJSON_AddStringToObject(b, "sha256", hex);
		cJSON_AddBoolToObject(b, "partial", r->partial);
		cJSON_AddNumberToObject(b, "job_exit_code", r->job_exit);
		cJSON_AddBoolToObject(b, "from_earlier_run", r->kept);
	}
	if (!r->upload_tried) {
		cJSON_AddNullToObject(s, "upload");
		return;
	}
	u = cJSON_AddObjectToObject(s, "upload");
	fetch_url_shown(r->o->upload_url, shown, sizeof(shown));
	cJSON_AddStringToObject(u, "url", shown);
	cJSON_AddBoolToObject(u, "ok", r->up.ok);
	cJSON_AddNumberToObject(u, "attempts", r->up.attempts);
	cJSON_AddNumberToObject(u, "http_status", (double)r->up.http_status);
}

static void summary_print(const struct run *r)
{
	_cleanup_(cJSON_Deletep) cJSON *s = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *t;
	char when[32];
	struct tm tm;

	cJSON_AddStringToObject(s, "order_id", r->o->id);
	cJSON_AddStringToObject(s, "platform", qemu_platform_name(r->ro->platform));
	cJSON_AddNumberToObject(s, "exit", r->exit);
	add_str_or_null(s, "code", r->code);
	summary_status(s, &r->st);
	summary_qemu(s, r);
	summary_files(s, r);
	t = cJSON_AddObjectToObject(s, "times");
	gmtime_r(&r->started, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(t, "started", when);
	cJSON_AddNumberToObject(t, "fetch_ms", (double)r->fetch_ms);
	cJSON_AddNumberToObject(t, "vm_ms", (double)r->vm_ms);
	cJSON_AddNumberToObject(t, "upload_ms", (double)r->upload_ms);
	cJSON_AddNumberToObject(t, "total_ms", (double)(mono_ms() - r->t0));
	if (!(text = cJSON_PrintUnformatted(s)) || printf("%s\n", text) < 0 || fflush(stdout)) {
		log_error("standard output: the summary cannot be written");
		return;
	}
}

/* ---- cvm run ---- */

/* The workload, and the output disk: before anything starts. EXIT_OK or RUN_*. */
static int inputs(struct run *r)
{
	char err[480];
	const int64_t t = mono_ms();
	int rc = fetch_workload(r->o->workload_url, r->p.workload, r->o->workload_size,
				r->o->workload_sha256, FETCH_ATTEMPTS, BACKOFF_MS,
				isatty(STDERR_FILENO), &r->fetch, err, sizeof(err));

	r->fetch_ms = mono_ms() - t;
	if (rc == -EINTR)
		return run_fail(r,
				"E_INTERRUPTED: stopped by a signal while fetching the workload"),
		       RUN_NO_RESULT;
	if (rc == -EAGAIN)
		return run_fail(r, "%s (%u attempts)", err, r->fetch.attempts), RUN_REFUSED;
	if (rc < 0)
		return run_fail(r, "%s", err), RUN_REFUSED;
	say(r, "workload %s: %llu bytes, SHA-256 as ordered (%s, %.1f s)", r->p.workload,
	    (unsigned long long)r->o->workload_size,
	    r->fetch.cached	  ? "already here"
	    : r->fetch.resumed_at ? "continued"
				  : "fetched",
	    (double)r->fetch_ms / 1000);
	if (make_output_disk(r, err, sizeof(err)) < 0)
		return run_fail(r, "%s", err), RUN_REFUSED;
	return EXIT_OK;
}

/* From launch to the result's upload. */
static int vm(struct run *r)
{
	char err[480];

	if (launch(r, err, sizeof(err)) < 0)
		return run_fail(r, "%s", err), RUN_REFUSED;
	say(r, "QEMU started (pid %d, %s; swtpm pid %d), deadline %llu s; console in %s",
	    (int)r->qemu, qemu_platform_name(r->ro->platform), (int)r->swtpm,
	    (unsigned long long)r->o->deadline_seconds, r->p.console);
	follow(r);
	end_swtpm(r, 2000);
	qemu_outcome(r);
	if (take_result(r, err, sizeof(err)) < 0)
		return no_result(r, err), RUN_NO_RESULT;
	if (r->why[0]) {
		/* the commit record was written before QEMU was stopped or failed: a result */
		say(r, "%s; the result had been committed", r->why);
		r->why[0] = r->code[0] = 0;
	}
	show_result(r);
	if (fetch_stop)
		return run_fail(r,
				"E_INTERRUPTED: stopped by a signal before the upload; the "
				"result is kept in %s",
				r->p.bundle),
		       RUN_NOT_UPLOADED;
	upload(r);
	return r->up.ok ? RUN_RESULT : RUN_NOT_UPLOADED;
}

/*
 * DIR/result.cvmr of an earlier run of this order (whose upload failed):
 * checked again, then uploaded. Anything else there is refused.
 */
static int upload_kept(struct run *r)
{
	char err[480] = "";
	size_t n;

	if (check_bundle(r, r->p.bundle, err, sizeof(err)) < 0 ||
	    file_digest(r->p.bundle, "SHA256", r->bundle_sha256, 32, &n) < 0)
		return run_fail(r,
				"E_WORKDIR: %s holds a result that is not this order's (%s): "
				"move it first",
				r->p.bundle, err[0] ? err : "unreadable"),
		       RUN_REFUSED;
	r->have_bundle = true;
	say(r, "the result of an earlier run of this order is in %s: uploading it", r->p.bundle);
	show_result(r);
	upload(r);
	return r->up.ok ? RUN_RESULT : RUN_NOT_UPLOADED;
}

static int run_order(const struct run_opts *ro, const struct order *o, const struct image *img)
{
	struct run r = { .ro = ro, .o = o, .img = img, .started = time(NULL), .t0 = mono_ms() };
	char err[480], **argv = NULL;

	r.st.who = o->id;
	if (prepare_workdir(&r, err, sizeof(err)) < 0)
		return log_error("%s: %s", ro->order, err), RUN_REFUSED;
	/* the launch must be possible before anything is fetched */
	if (qemu_argv(ro, o, img, &r.p, &argv, err, sizeof(err)) < 0)
		return log_error("%s: %s", ro->order, err), RUN_REFUSED;
	qemu_args_free(argv);
	catch_signals();
	if (r.kept) {
		r.exit = upload_kept(&r);
	} else {
		r.exit = inputs(&r);
		if (r.exit == EXIT_OK)
			r.exit = vm(&r);
	}
	if (r.qemu > 0)
		stop_child(r.qemu, &r.qemu_wstatus);
	end_swtpm(&r, 0);
	unlink(r.p.qemu_pid);
	if (r.why[0])
		log_error("%s: %s", o->id, r.why);
	summary_print(&r);
	return r.exit;
}

int run_main(int argc, char **argv)
{
	struct run_opts ro;
	struct order o;
	struct image img;
	char workdir[16 + RESULT_ORDER_ID_MAX];
	int r = parse_opts(argc, argv, &ro);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if ((r = load_order(&ro, &o)) == EXIT_OK)
		r = load_image(&ro, &o, &img);
	if (r != EXIT_OK)
		return ro.print ? r : RUN_REFUSED;
	if (!ro.workdir) {
		/* the order id is [A-Za-z0-9._:-]: "cvm-run-" keeps it from being "." or ".." */
		snprintf(workdir, sizeof(workdir), "%s%s", ro.print ? "." : "cvm-run-",
			 ro.print ? "" : o.id);
		ro.workdir = workdir;
	}
	return ro.print ? print_qemu(&ro, &o, &img) : run_order(&ro, &o, &img);
}
