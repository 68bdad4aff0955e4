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
 * QEMU command line. This file holds the verb and the steps of one run;
 * host/run.h names the files of the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/cvm.h"
#include "host/fetch.h"
#include "host/run.h"
#include "lib/lib.h"

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
	      "  --tunnel [ADDR:]PORT  a service order's way in (docs/tunnel.md): QEMU\n"
	      "                        forwards this host address (ADDR default 127.0.0.1)\n"
	      "                        to the guest's TLS terminator, blindly; clients check\n"
	      "                        it with 'cvm connect'. Shown in the status and the\n"
	      "                        summary's \"tunnel\"\n"
	      "  --print-qemu          print the command line; launch nothing (--workdir\n"
	      "                        defaults to .)\n"
	      "  --test-vtpm-state DIR TEST ONLY: keep the vTPM's state in DIR across runs\n"
	      "                        (made if missing), so that its attestation key stays\n"
	      "                        the same and a broker's policy can pin it (ak_sha256;\n"
	      "                        a refusal names the AK seen). swtpm is no hardware:\n"
	      "                        its evidence proves nothing of the host\n"
	      "\n"
	      "Exit status: 0 a committed result, uploaded; 1 no result (the agent's code,\n"
	      "E_DEADLINE, E_QEMU, E_INTERRUPTED); 2 usage, or refused before launch (the\n"
	      "order, its image, the workload); 3 a committed result, kept in DIR, whose\n"
	      "upload failed (the same command again retries the upload). --print-qemu: 0\n"
	      "printed, 1 refused, 2 usage or image error.\n",
	      f);
}

/* ---- options ---- */

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

/*
 * --tunnel PORT (on 127.0.0.1) or A.B.C.D:PORT: the host's address that
 * QEMU forwards to the guest's TLS terminator, kept as "A.B.C.D:PORT".
 */
static int parse_tunnel(const char *s, struct run_opts *o)
{
	static char kept[32];
	const char *colon = strrchr(s, ':');
	unsigned char a[4];
	char addr[16] = "127.0.0.1";
	uint64_t port;

	if (colon) {
		if ((size_t)(colon - s) >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, s, (size_t)(colon - s));
		addr[colon - s] = 0;
		if (inet_pton(AF_INET, addr, a) != 1 || strspn(addr, "0123456789.") != strlen(addr))
			return -EINVAL;
	}
	if (parse_u64(colon ? colon + 1 : s, &port) < 0 || port < 1 || port > 65535)
		return -EINVAL;
	snprintf(kept, sizeof(kept), "%s:%u", addr, (unsigned)port);
	o->tunnel = kept;
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
		{ "test-vtpm-state", required_argument, NULL, 'T' },
		{ "tunnel", required_argument, NULL, 't' },
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
		case 'T':
			o->test_vtpm = optarg;
			break;
		case 't':
			if (parse_tunnel(optarg, o) < 0)
				return log_error(
					       "--tunnel: PORT or A.B.C.D:PORT (port 1 to 65535)"),
				       -EINVAL;
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

/*
 * DIR's files, absolute: QEMU reads a relative "a:b/x" as protocol "a"
 * (and a relative path means another file once QEMU's cwd differs).
 */
int make_paths(const char *dir, const struct order *o, struct run_paths *p)
{
	char names[ORDER_INPUTS_MAX][8 + ORDER_INPUT_NAME_MAX + 4];
	struct {
		char *out;
		const char *name;
	} f[12 + ORDER_INPUTS_MAX] = {
		{ p->order_disk, "order.img" },
		{ p->inputs, "inputs" },
		{ p->output, "output.img" },
		{ p->status, "status" },
		{ p->console, "console.log" },
		{ p->sock, "swtpm.sock" },
		{ p->tpmstate, "swtpm" },
		{ p->swtpm_log, "swtpm.log" },
		{ p->qemu_pid, "qemu.pid" },
		{ p->bundle, "result.cvmr" },
		{ p->bundle_part, "result.cvmr.part" },
		{ p->sim_launch, "sim-launch.json" },
	};
	size_t nf = 12;
	char cwd[RUN_PATH_MAX] = "";

	/* input names are [a-z0-9][a-z0-9_-]*: a file name of DIR/inputs, nothing else */
	for (size_t i = 0; o && i < o->ninputs; i++, nf++) {
		snprintf(names[i], sizeof(names[i]), "inputs/%s.img", o->inputs[i].name);
		f[nf].out = p->input[i];
		f[nf].name = names[i];
	}

	if (dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -ENAMETOOLONG;
	if (!strcmp(dir, "."))
		dir = "";
	for (size_t i = 0; i < nf; i++) {
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
	struct qemu_paths paths = {
		.qemu = ro->qemu,
		.order_disk = p->order_disk,
		.output = p->output,
		.status = p->status,
		.swtpm_socket = p->sock,
		.sim_launch = img->platform[ro->platform].sim_launch[0] ? p->sim_launch : NULL,
		.tunnel = ro->tunnel,
	};

	for (size_t i = 0; i < o->ninputs; i++)
		paths.inputs[i] = p->input[i];
	return qemu_args(img, o, ro->platform, &paths, argv, err, errlen);
}

static int print_qemu(const struct run_opts *ro, const struct order *o, const struct image *img)
{
	struct run_paths p;
	char err[320], **argv = NULL;

	if (make_paths(ro->workdir, o, &p) < 0)
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

/* ---- one order's run ---- */

/* Records "E_CODE: why" as what ended the run; the first one stays. */
void run_fail(struct run *r, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (r->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	n = strspn(r->why, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	snprintf(r->code, sizeof(r->code), "%.*s", (int)(n < sizeof(r->code) ? n : 0), r->why);
}

void say(const struct run *r, const char *fmt, ...)
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
	if (make_paths(dir, r->o, &r->p) < 0)
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
	if (r->ro->test_vtpm) {
		/* TEST ONLY: the vTPM's seeds, and so its AK, stay from one run to the next */
		char abs[RUN_PATH_MAX];

		if ((mkdir(r->ro->test_vtpm, 0700) < 0 && errno != EEXIST) ||
		    !realpath(r->ro->test_vtpm, abs) || strchr(abs, ','))
			return set_error(err, errlen, -EINVAL,
					 "E_WORKDIR: --test-vtpm-state %s: %s", r->ro->test_vtpm,
					 strchr(r->ro->test_vtpm, ',')
						 ? "swtpm's options cannot hold a ','"
						 : strerror(errno));
		snprintf(r->p.tpmstate, sizeof(r->p.tpmstate), "%s", abs);
	}
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

	if (!r->ro->test_vtpm)
		rm_tree(r->p.tpmstate);
	unlink(r->p.sock);
	if (mkdir(r->p.tpmstate, 0700) < 0 && !(r->ro->test_vtpm && errno == EEXIST))
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
	if (!r->ro->test_vtpm)
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

/* ---- cvm run ---- */

/* One input's volume: fetched, or kept from an earlier attempt. EXIT_OK or RUN_*. */
static int fetch_input(struct run *r, size_t i)
{
	const struct order_input *in = &r->o->inputs[i];
	struct fetch_report *f = &r->fetch[i];
	char err[480];
	const int64_t t = mono_ms();
	int rc = fetch_workload(in->url, r->p.input[i], in->size, in->sha256, FETCH_ATTEMPTS,
				BACKOFF_MS, isatty(STDERR_FILENO), f, err, sizeof(err));

	r->fetch_ms += mono_ms() - t;
	if (rc == -EINTR)
		return run_fail(r, "E_INTERRUPTED: stopped by a signal while fetching input %s",
				in->name),
		       RUN_NO_RESULT;
	if (rc == -EAGAIN)
		return run_fail(r, "%s (input %s, %u attempts)", err, in->name, f->attempts),
		       RUN_REFUSED;
	if (rc < 0)
		return run_fail(r, "%s (input %s)", err, in->name), RUN_REFUSED;
	say(r, "input %s: %s, %llu bytes, SHA-256 as ordered (%s, %.1f s)", in->name, r->p.input[i],
	    (unsigned long long)in->size,
	    f->cached	    ? "already here"
	    : f->resumed_at ? "continued"
			    : "fetched",
	    (double)(mono_ms() - t) / 1000);
	return EXIT_OK;
}

/* The order as the customer signed it, canonical (RFC 8785), for the order disk. */
static int order_text(const struct order *o, char **text, size_t *len)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;

	if (json_parse(o->signed_form, o->signed_len, &root) < 0 ||
	    !json_add_hex(root, "signature", o->signature, sizeof(o->signature)))
		return -ENOMEM;
	return jcs_serialize(root, text, len);
}

/*
 * The sim TEE's launch file for this order (tests): the image's, with the
 * order's digest where hardware would report it, as QEMU's mrconfigid and
 * host-data set it at launch (docs/order.md).
 */
static int make_sim_launch(const struct run *r, char *err, size_t errlen)
{
	const char *src = r->img->platform[r->ro->platform].sim_launch;
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *l = NULL;
	_cleanup_free_ char *out = NULL;
	size_t len;
	bool ok;

	if (!src[0])
		return 0;
	if (file_read(src, CVM_CAP_JSON, &text, &len) < 0 ||
	    json_parse((char *)text, len, &l) < 0 || !cJSON_IsObject(l))
		return set_error(err, errlen, -EINVAL, "E_IMAGE: %s: not a launch file", src);
	if (cJSON_GetObjectItemCaseSensitive(l, "mrtd"))
		ok = json_add_hex(l, "mrconfigid", r->o->sha384, 48) != NULL;
	else
		ok = json_add_hex(l, "host_data", r->o->sha256, 32) != NULL;
	if (!ok || !(out = cJSON_PrintUnformatted(l)))
		return set_error(err, errlen, -ENOMEM, "E_OUTPUT: out of memory");
	return file_write_atomic(r->p.sim_launch, out, strlen(out), err, errlen);
}

/* The inputs, the order disk and the output disk: before anything starts. EXIT_OK or RUN_*. */
static int inputs(struct run *r)
{
	_cleanup_free_ char *text = NULL;
	char err[480];
	size_t len;
	int rc;

	if (mkdir(r->p.inputs, 0700) < 0 && errno != EEXIST)
		return run_fail(r, "E_WORKDIR: %s: %s", r->p.inputs, strerror(errno)), RUN_REFUSED;
	for (size_t i = 0; i < r->o->ninputs; i++)
		if ((rc = fetch_input(r, i)) != EXIT_OK)
			return rc;
	if (order_text(r->o, &text, &len) < 0)
		return run_fail(r, "E_OUTPUT: out of memory"), RUN_REFUSED;
	if (order_disk_write(r->p.order_disk, text, len, err, sizeof(err)) < 0 ||
	    make_sim_launch(r, err, sizeof(err)) < 0 || make_output_disk(r, err, sizeof(err)) < 0)
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
	r.st.tunnel = ro->tunnel;
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
	_cleanup_(order_freep) struct order o = { 0 };
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
