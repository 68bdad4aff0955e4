/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/lib.h"

static const char *prog = "cvm";

void log_set_prog(const char *p)
{
	prog = p;
}

const char *log_prog(void)
{
	return prog;
}

__attribute__((format(printf, 1, 0))) static void vlog(const char *fmt, va_list ap,
						       const char *suffix)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One line, always: a message never carries a newline from its input. */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	if (suffix)
		fprintf(stderr, "%s: %s: %s\n", prog, line, suffix);
	else
		fprintf(stderr, "%s: %s\n", prog, line);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, NULL);
	va_end(ap);
}

int log_error_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap, strerror(err < 0 ? -err : err));
	va_end(ap);
	return err < 0 ? err : -err;
}

int set_error(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		/* one line, whatever a hostile input's names held */
		for (char *c = err; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	}
	return code;
}
