/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: what cvm run reads from outside (host/run_status.c, the
 * status-line parser of lib/status_line.c, host/fetch.c): the whole input
 * as one status line, the guest's status file fed in two pieces at a point
 * the input chooses, and a download's Content-Range header. Whatever comes,
 * every line taken must be of the format, the phases seen stay within their
 * cap, and no shown detail leaves printable ASCII.
 */
#include <stdlib.h>
#include <string.h>

/* host/ is not in the fuzz build's sources: the units under test are compiled in. */
#include "host/order.c"
#include "host/order_new.c"
#include "host/qemu.c"
#include "host/fetch.c"
#include "host/run.c"
#include "host/run_proc.c"
#include "host/run_result.c"
#include "host/run_status.c"
#include "host/run_summary.c"

static void check_follow(const struct status_follow *f)
{
	if (f->n > STATUS_SEEN_MAX || f->len > sizeof(f->buf))
		abort();
	for (size_t i = 0; i < f->n; i++)
		if (!status_phase_valid(f->seen[i].phase) ||
		    (f->seen[i].code[0] && !status_code_valid(f->seen[i].code)))
			abort();
	for (const char *c = f->fail_detail; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			abort();
}

static void check_line(const uint8_t *data, size_t size)
{
	struct status_line sl;

	if (status_line_parse((const char *)data, size, &sl) < 0)
		return;
	if (!status_phase_valid(sl.phase) || (sl.code[0] && !status_code_valid(sl.code)) ||
	    strlen(sl.detail) > STATUS_DETAIL_SHOWN + 3)
		abort();
	for (const char *c = sl.detail; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct status_follow f;
	char header[300];
	size_t cut = size ? data[0] % (size + 1) : 0;
	struct dl d;

	check_line(data, size);
	memset(&f, 0, sizeof(f));
	f.who = "fuzz";
	status_feed(&f, (const char *)data, cut);
	status_feed(&f, (const char *)data + cut, size - cut);
	check_follow(&f);
	memcpy(header, data, size < sizeof(header) - 1 ? size : sizeof(header) - 1);
	header[size < sizeof(header) - 1 ? size : sizeof(header) - 1] = 0;
	content_range(&d, header);
	if ((d.range_start < 0 && d.range_total >= 0) || d.range_total < -1)
		abort();
	return 0;
}
