/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's status line (docs/agent.md, "Status lines"): one JSON object
 * per line, written by the guest (agent/status.c) and read by the host as
 * hostile input (host/run_status.c). Both ends use this header:
 *
 *   {"t":MS,"phase":PHASE,"ok":BOOL[,"code":CODE][,"detail":TEXT][,...]}
 *
 * t is the guest's CLOCK_MONOTONIC in milliseconds; PHASE is a lower-case
 * word (a-z first, then a-z 0-9 _ -) of under STATUS_PHASE_MAX bytes; CODE
 * is E_ followed by A-Z 0-9 _, under STATUS_CODE_MAX bytes; members the
 * writer adds after these are ignored by the reader.
 */
#ifndef CVM_LIB_STATUS_LINE_H
#define CVM_LIB_STATUS_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_MEMBER_T "t"
#define STATUS_MEMBER_PHASE "phase"
#define STATUS_MEMBER_OK "ok"
#define STATUS_MEMBER_CODE "code"
#define STATUS_MEMBER_DETAIL "detail"

/* Lines end with this byte; a reader takes lines of at most STATUS_LINE_MAX bytes. */
#define STATUS_LINE_END '\n'
#define STATUS_LINE_MAX 4096
/* Bounds of a phase and a code, their terminating NUL included. */
#define STATUS_PHASE_MAX 32
#define STATUS_CODE_MAX 64
/* A reader keeps this much of a detail, then "..." when there was more. */
#define STATUS_DETAIL_SHOWN 160
/* t at or above this is taken as absent. */
#define STATUS_T_MAX 1e12

struct cJSON;

/*
 * The line's text, without its STATUS_LINE_END, in a string the caller
 * frees; NULL when out of memory. code and detail may be NULL (absent);
 * the members of extra (may be NULL) follow, and extra is taken (freed).
 */
char *status_line_format(uint64_t t_ms, const char *phase, bool ok, const char *code,
			 const char *detail, struct cJSON *extra);

/* One line as read: every string checked and bounded, detail made printable ASCII. */
struct status_line {
	char phase[STATUS_PHASE_MAX];
	char code[STATUS_CODE_MAX]; /* "" when absent */
	char detail[STATUS_DETAIL_SHOWN + 4];
	bool ok;
	double t; /* the guest's milliseconds since boot; -1 when absent */
	/*
	 * What tells two lines of a phase apart, shown by cvm run: the input a
	 * key or unlock line is for (an order's input name, else ""), a job
	 * line's "started", or its exit (exit_code -1 when absent).
	 */
	char input[33];
	bool started;
	int exit_code;
	double runtime_ms;    /* -1 when absent */
	char cert_sha256[65]; /* a tunnel line's certificate digest (64 hex digits), or "" */
};

/* PHASE and CODE as the format has them. */
bool status_phase_valid(const char *s);
bool status_code_valid(const char *s);

/*
 * Parses n bytes of text (one line, without its end) into *sl: 0, or
 * -EBADMSG for anything that is not a status line (not one JSON object, no
 * phase or ok, a phase, code or detail not of the format).
 */
int status_line_parse(const char *text, size_t n, struct status_line *sl);

#endif
