/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the order disk (measurement/order_disk.c), which the agent
 * reads as the host left it. The input is the disk; a disk that reads must
 * give a text of the length it says, within the caps, and a refusal is one
 * line. What reads is then parsed as an order, as the agent does next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lib.h"
#include "measurement/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz_order_disk.XXXXXX", err[512] = "", *text = NULL;
	struct order o = { 0 };
	size_t len = 0;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (order_disk_read(path, &text, &len, err, sizeof(err)) < 0) {
		if (text || len || !err[0] || strchr(err, '\n'))
			abort();
	} else {
		if (!text || len < 1 || len > ORDER_TEXT_MAX || len + 12 > size ||
		    memcmp(text, data + 12, len) || text[len])
			abort();
		if (order_parse(text, len, NULL, &o, err, sizeof(err)) < 0 && strchr(err, '\n'))
			abort();
		order_free(&o);
	}
	free(text);
	unlink(path);
	return 0;
}
