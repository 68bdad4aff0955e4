/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm run: the agent's status lines (docs/agent.md, lib/status_line.h) as
 * the host follows them: the guest's words, read as hostile, bounded in
 * what is kept and in how much of the file is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/run.h"
#include "lib/lib.h"
#include "lib/status_line.h"

/* One line per phase, and what tells two lines of a phase apart: the input, the job's start or end. */
static void status_show(const struct status_follow *f, const struct status_line *sl)
{
	char t[24] = "", what[80] = "";

	if (sl->t >= 0)
		snprintf(t, sizeof(t), "[%7.1f s] ", sl->t / 1000);
	if (sl->input[0])
		snprintf(what, sizeof(what), " (input %s)", sl->input);
	else if (sl->started)
		snprintf(what, sizeof(what), " (started)");
	else if (sl->cert_sha256[0] && f->tunnel)
		snprintf(what, sizeof(what), " (open at %s)", f->tunnel);
	else if (sl->exit_code >= 0 && sl->runtime_ms >= 0)
		snprintf(what, sizeof(what), " (exit %d after %.1f s)", sl->exit_code,
			 sl->runtime_ms / 1000);
	fprintf(stderr, "%s: %s: %s%-10s %s%s%s%s%s%s\n", log_prog(), f->who, t, sl->phase,
		sl->ok ? "ok" : "FAILED", what, sl->code[0] ? " " : "", sl->code,
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
	if (!strcmp(sl.phase, "tunnel") && sl.ok && sl.cert_sha256[0])
		memcpy(f->tunnel_cert, sl.cert_sha256, sizeof(f->tunnel_cert));
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
void status_feed(struct status_follow *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != STATUS_LINE_END) {
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
int status_poll(struct status_follow *f, const char *path)
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
