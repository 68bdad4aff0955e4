/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm run, inside host/: the verb and one order's run (run.c), the agent's
 * status lines as the host follows them (run_status.c), child processes
 * (run_proc.c), the result taken from the output disk and uploaded
 * (run_result.c), and the summary printed at the end (run_summary.c).
 */
#ifndef CVM_HOST_RUN_H
#define CVM_HOST_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "host/cvm.h"
#include "host/fetch.h"
#include "lib/lib.h"
#include "lib/status_line.h"

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
#define STATUS_SEEN_MAX 64

struct run_opts {
	const char *order, *images, *workdir, *qemu, *limits;
	const char *test_vtpm; /* TEST ONLY: a vTPM state kept across runs (--test-vtpm-state) */
	const char *tunnel; /* --tunnel: "ADDR:PORT" forwarded to the guest's terminator, or NULL */
	enum qemu_platform platform;
	bool print;
	uint64_t output_size;
	unsigned upload_retries;
};

/* The order's files in a work directory. */
struct run_paths {
	char order_disk[RUN_PATH_MAX], inputs[RUN_PATH_MAX], output[RUN_PATH_MAX],
		status[RUN_PATH_MAX], console[RUN_PATH_MAX], sock[RUN_PATH_MAX],
		tpmstate[RUN_PATH_MAX], swtpm_log[RUN_PATH_MAX], qemu_pid[RUN_PATH_MAX],
		bundle[RUN_PATH_MAX], bundle_part[RUN_PATH_MAX], sim_launch[RUN_PATH_MAX];
	/* inputs/NAME.img, one per input of the order (make_input_paths) */
	char input[ORDER_INPUTS_MAX][RUN_PATH_MAX];
};

/* The status lines of one run, as far as they have been read. */
struct status_follow {
	const char *who; /* the order id, for the lines shown */
	uint64_t off;	 /* bytes of the status file consumed */
	char buf[STATUS_LINE_MAX];
	size_t len;
	bool skipping;	      /* inside a line longer than buf */
	unsigned bad;	      /* lines that were not status lines */
	const char *tunnel;   /* the forwarded address, shown with the tunnel's line */
	char tunnel_cert[65]; /* the tunnel's certificate digest, as the agent said */
	size_t n;
	struct {
		char phase[STATUS_PHASE_MAX], code[STATUS_CODE_MAX];
		bool ok;
	} seen[STATUS_SEEN_MAX];
	char last_code[STATUS_CODE_MAX]; /* of the last line with a code */
	/* the last phase that failed, its code and detail */
	char fail_code[STATUS_CODE_MAX], fail_phase[STATUS_PHASE_MAX],
		fail_detail[STATUS_DETAIL_SHOWN + 4];
	bool poweroff;
};

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
	struct fetch_report fetch[ORDER_INPUTS_MAX];
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

/* ---- run.c ---- */

/* DIR's files, absolute, and the inputs' of o (NULL: none); -ENAMETOOLONG. */
int make_paths(const char *dir, const struct order *o, struct run_paths *p);
/* Records "E_CODE: why" as what ended the run; the first one stays. */
void run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line on stderr, after the program's name and the order's id. */
void say(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- run_status.c ---- */

/* Bytes of the status file, in order: each whole line is taken; longer lines than buf are not. */
void status_feed(struct status_follow *f, const char *p, size_t n);
/* Takes what the status file gained; -EFBIG once it has grown past STATUS_FILE_MAX. */
int status_poll(struct status_follow *f, const char *path);

/* ---- run_proc.c ---- */

/* Sleeps ms milliseconds; a signal cuts it short. */
void nap_ms(unsigned ms);
/*
 * Starts argv (PATH searched) with stdin from /dev/null and stdout and
 * stderr to log, in a process group of its own; 0, or a negative errno
 * with err saying why (also when exec failed).
 */
int spawn(char *const argv[], const char *log, pid_t *out, char *err, size_t errlen);
/* Waits up to ms for pid to end; true when it has (reaped, or not ours to wait for). */
bool wait_child(pid_t pid, unsigned ms, int *wstatus);
/* Ends a child started by spawn() and its process group: SIGTERM, then SIGKILL. */
void stop_child(pid_t pid, int *wstatus);
/* Removes path and everything under it, not following links. */
void rm_tree(const char *path);

/* ---- run_result.c ---- */

/* The committed bundle of the output disk, checked, as DIR/result.cvmr; err says why not. */
int take_result(struct run *r, char *err, size_t errlen);
/* The bundle's framing and signature (no key needed), and that it is this order's. */
int check_bundle(struct run *r, const char *path, char *err, size_t errlen);
/* Why there is no result: cvm run's own reason, else the agent's last code, else the disk's. */
void no_result(struct run *r, const char *disk_err);
void show_result(const struct run *r);
/* Uploads DIR/result.cvmr to the order's URL; r->up says how it went. */
void upload(struct run *r);

/* ---- run_summary.c ---- */

/* The run as one JSON object on stdout. */
void summary_print(const struct run *r);

#endif
