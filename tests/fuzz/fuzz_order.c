/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: orders (measurement/order.c), hostile input of the provider's
 * host, the agent and every key broker.
 * The input is parsed as it comes (its signature almost never verifies),
 * then signed with a fixed key so that every check after the signature is
 * reached too: a signed order must parse again, with every field within
 * the format. Refusals must be one line. The input is also read as limits.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"
#include "measurement/order.h"
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

static void check_url(const char *url)
{
	char host[ORDER_URL_MAX + 1];
	uint16_t port;

	if (order_url_host_port(url, host, sizeof(host), &port) < 0 || !host[0] || port == 0 ||
	    strpbrk(host, " ,;:/@[]'\"\\$`"))
		abort();
}

/* Every field of a parsed order within the format, the inputs' rules kept. */
static void check(const struct order *o, const uint8_t *pub)
{
	const struct order_limits max = ORDER_LIMITS_MAX;
	size_t solutions = 0;

	if (!result_order_id_valid(o->id) || o->vcpus < 1 || o->vcpus > max.max_vcpus ||
	    o->memory_mib < 64 || o->memory_mib > max.max_memory_mib || o->deadline_seconds < 1 ||
	    o->deadline_seconds > max.max_deadline_seconds || o->ninputs < 1 ||
	    o->ninputs > ORDER_INPUTS_MAX || o->nbrokers < 1 || o->nbrokers > o->ninputs ||
	    (pub && memcmp(o->customer_pub, pub, 33)) || !o->image[0] || !o->signed_form ||
	    strlen(o->signed_form) != o->signed_len)
		abort();
	check_url(o->upload_url);
	for (size_t i = 0; i < o->ninputs; i++) {
		const struct order_input *in = &o->inputs[i];

		solutions += in->role == ORDER_ROLE_SOLUTION;
		check_url(in->url);
		check_url(in->broker.url);
		if (in->size < 1 || in->size > max.max_workload_bytes ||
		    strncmp(in->broker.url, "https://", 8) || !in->broker.resource[0] ||
		    !result_input_name_valid(in->name) || strncmp(in->mount, "/inputs/", 8) ||
		    strstr(in->mount, "..") || strchr(in->mount + 8, '/') ||
		    !!in->broker.ca == in->broker.has_spki || in->broker.forward >= o->nbrokers ||
		    !order_broker_at(o, in->broker.forward))
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(o->inputs[j].name, in->name) ||
			    !strcmp(o->inputs[j].mount, in->mount))
				abort();
	}
	if (solutions != 1 || o->inputs[o->solution].role != ORDER_ROLE_SOLUTION)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct order_limits lim;
	struct order o = { 0 };
	char err[512] = "", *signed_text = NULL;

	if (order_parse((const char *)data, size, NULL, &o, err, sizeof(err)) < 0)
		one_line(err);
	else
		check(&o, NULL);
	order_free(&o);
	if (order_sign((const char *)data, size, key(), &signed_text, err, sizeof(err)) == 0) {
		if (order_parse(signed_text, strlen(signed_text), NULL, &o, err, sizeof(err)) < 0)
			abort();
		check(&o, key()->pub);
		order_free(&o);
		free(signed_text);
	} else {
		one_line(err);
	}
	if (order_limits_parse((const char *)data, size, &lim, err, sizeof(err)) < 0)
		one_line(err);
	return 0;
}
