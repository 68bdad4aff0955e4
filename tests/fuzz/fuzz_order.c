/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: orders (host/order.c), hostile input of the provider's host.
 * The input is parsed as it comes (its signature almost never verifies),
 * then signed with a fixed key so that every check after the signature is
 * reached too: a signed order must parse again, with every field within
 * the format. Refusals must be one line. The input is also read as limits.
 */
#include <stdlib.h>
#include <string.h>

#include "host/cvm.h"
#include "tests/fuzz/fuzz_common.h"

static struct result_key *key(void)
{
	return fuzz_fixed_key(0x11);
}

static void one_line(const char *err)
{
	if (strchr(err, '\n') || !err[0])
		abort();
}

static void check(const struct order *o, const uint8_t *pub)
{
	const struct order_limits max = ORDER_LIMITS_MAX;
	const char *urls[] = { o->workload_url, o->broker_url, o->upload_url };
	char host[ORDER_URL_MAX + 1];
	uint16_t port;

	if (!result_order_id_valid(o->id) || o->vcpus < 1 || o->vcpus > max.max_vcpus ||
	    o->memory_mib < 64 || o->memory_mib > max.max_memory_mib || o->deadline_seconds < 1 ||
	    o->deadline_seconds > max.max_deadline_seconds || o->workload_size < 1 ||
	    o->workload_size > max.max_workload_bytes || strncmp(o->broker_url, "https://", 8) ||
	    (pub && memcmp(o->customer_pub, pub, 33)) || !o->image[0] || !o->broker_resource[0])
		abort();
	for (size_t i = 0; i < 3; i++)
		if (order_url_host_port(urls[i], host, sizeof(host), &port) < 0 || !host[0] ||
		    port == 0 || strpbrk(host, " ,;:/@[]'\"\\$`"))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct order_limits lim;
	struct order o;
	char err[512] = "", *signed_text = NULL;

	if (order_parse((const char *)data, size, NULL, &o, err, sizeof(err)) < 0)
		one_line(err);
	else
		check(&o, NULL);
	if (order_sign((const char *)data, size, key(), &signed_text, err, sizeof(err)) == 0) {
		if (order_parse(signed_text, strlen(signed_text), NULL, &o, err, sizeof(err)) < 0)
			abort();
		check(&o, key()->pub);
		free(signed_text);
	} else {
		one_line(err);
	}
	if (order_limits_parse((const char *)data, size, &lim, err, sizeof(err)) < 0)
		one_line(err);
	return 0;
}
