/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cvm order sign|check` (docs/order.md). The format, its signature and
 * limits are measurement/order.c's: the agent and the brokers read orders
 * with the same code.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "lib/json_schema.h"
#include "lib/lib.h"

static void usage(FILE *f)
{
	fputs("Usage: cvm order new --id ID --upload-url URL -o ORDER.json [--image NAME]\n"
	      "                       [--vcpus N] [--memory-mib N] [--deadline-seconds N]\n"
	      "       cvm order add-input ORDER.json --name NAME --role solution|data\n"
	      "                       --pack PACK.json --url VOLUME_URL --broker URL\n"
	      "                       --resource REPO/TYPE/TAG (--ca CA.pem | --spki-sha256 HEX)\n"
	      "                       [--mount /inputs/NAME]\n"
	      "       cvm order sign ORDER.json --key CUSTOMER.key -o SIGNED.json\n"
	      "       cvm order check SIGNED.json [--limits LIMITS.json] [--json]\n"
	      "       cvm order place|confirm|refund|settle|status|typed-data|check-typed ...\n"
	      "                       on an EVM chain:\n"
	      "                       see 'cvm order place --help' and docs/chain.md\n"
	      "\n"
	      "An order (version 2) names the image, vCPUs, memory, deadline, where the\n"
	      "result goes, the customer's secp256k1 public key, and its inputs: one\n"
	      "solution and any number of data volumes, each with its URL, SHA-256,\n"
	      "size and LUKS header digest, its key broker (URL, resource, the broker's\n"
	      "CA or SPKI pin) and its mount under /inputs. The customer signs it\n"
	      "(compact ECDSA, low S, over SHA-256 of its RFC 8785 form without\n"
	      "\"signature\"). See docs/order.md.\n"
	      "\n"
	      "new: an unsigned order with no inputs yet (defaults: image default, 1 vCPU,\n"
	      "1024 MiB, 3600 s). add-input: one input, its volume from what `cvm pack\n"
	      "--json` printed (saved as PACK.json), its broker as its owner publishes it.\n"
	      "\n"
	      "sign: adds customer_pubkey when absent (it must name the key when\n"
	      "present), replaces any signature, writes the signed order (RFC 8785).\n"
	      "  --key FILE        the customer's secp256k1 private key (PEM or 64 hex)\n"
	      "  -o, --output FILE the signed order\n"
	      "\n"
	      "check: verifies the order and its signature, then the provider's limits,\n"
	      "and prints the order id, the SHA-256 and SHA-384 of its signed form\n"
	      "(what the launch puts in SEV-SNP HOST_DATA and TDX MRCONFIGID), and one\n"
	      "line per input: name, role, mount, broker, resource, LUKS header digest\n"
	      "(--json: one JSON object of the same).\n"
	      "  --limits FILE     {\"max_vcpus\", \"max_memory_mib\", \"max_deadline_seconds\",\n"
	      "                    \"max_workload_bytes\"}, each optional (default: the\n"
	      "                    format's bounds)\n"
	      "\n"
	      "Exit status: 0 signed or valid, 1 refused (one line: E_ORDER...), 2 usage\n"
	      "or file error.\n",
	      f);
}

static int read_json_file(const char *path, uint8_t **data, size_t *len)
{
	int r = file_read(path, CVM_CAP_JSON, data, len);

	if (r < 0)
		log_error_errno(r, "%s", path);
	return r;
}

static int sign_cmd(const char *in, const char *keyfile, const char *outfile)
{
	_cleanup_free_ uint8_t *data = NULL;
	_cleanup_free_ char *signed_text = NULL;
	struct result_key k = { 0 };
	char err[320];
	size_t len;
	int r;

	if (read_json_file(in, &data, &len) < 0)
		return EXIT_USAGE;
	if (result_key_load(keyfile, &k, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	r = order_sign((const char *)data, len, &k, &signed_text, err, sizeof(err));
	result_key_wipe(&k);
	if (r < 0) {
		log_error("%s: %s", in, err);
		return EXIT_REJECTED;
	}
	len = strlen(signed_text);
	signed_text[len] = '\n'; /* over the NUL: a text file, the length says where it ends */
	if (out_write(outfile, signed_text, len + 1, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* What check prints, as one JSON object (--json). */
static void check_json(const struct order *o, const char *h256, const char *h384)
{
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *a = cJSON_AddArrayToObject(j, "inputs");
	char hdr[65];

	cJSON_AddStringToObject(j, "order", o->id);
	cJSON_AddStringToObject(j, "sha256", h256);
	cJSON_AddStringToObject(j, "sha384", h384);
	for (size_t i = 0; i < o->ninputs; i++) {
		const struct order_input *inp = &o->inputs[i];
		cJSON *e = cJSON_CreateObject();

		hex_encode(inp->luks_header_sha256, 32, hdr);
		cJSON_AddStringToObject(e, "name", inp->name);
		cJSON_AddStringToObject(e, "role",
					inp->role == ORDER_ROLE_SOLUTION ? "solution" : "data");
		cJSON_AddStringToObject(e, "mount", inp->mount);
		cJSON_AddStringToObject(e, "broker", inp->broker.url);
		cJSON_AddStringToObject(e, "resource", inp->broker.resource);
		cJSON_AddStringToObject(e, "luks_header_sha256", hdr);
		cJSON_AddItemToArray(a, e);
	}
	text = cJSON_Print(j);
	if (text)
		printf("%s\n", text);
}

static int check_cmd(const char *in, const char *limits_file, bool json)
{
	struct order_limits lim = ORDER_LIMITS_MAX;
	_cleanup_free_ uint8_t *data = NULL;
	_cleanup_(order_freep) struct order o = { 0 };
	char err[320], h256[65], h384[97], hdr[65];
	size_t len;

	if (limits_file) {
		_cleanup_free_ uint8_t *l = NULL;
		size_t ln;

		if (read_json_file(limits_file, &l, &ln) < 0)
			return EXIT_USAGE;
		if (order_limits_parse((const char *)l, ln, &lim, err, sizeof(err)) < 0) {
			log_error("%s: %s", limits_file, err);
			return EXIT_USAGE;
		}
	}
	if (read_json_file(in, &data, &len) < 0)
		return EXIT_USAGE;
	if (order_parse((const char *)data, len, &lim, &o, err, sizeof(err)) < 0) {
		log_error("%s: %s", in, err);
		return EXIT_REJECTED;
	}
	/* the signed form's digests: what SNP HOST_DATA and TDX MRCONFIGID carry at launch */
	hex_encode(o.sha256, sizeof(o.sha256), h256);
	hex_encode(o.sha384, sizeof(o.sha384), h384);
	if (json) {
		check_json(&o, h256, h384);
		return EXIT_OK;
	}
	printf("order %s\nsha256 %s\nsha384 %s\n", o.id, h256, h384);
	for (size_t i = 0; i < o.ninputs; i++) {
		const struct order_input *inp = &o.inputs[i];

		hex_encode(inp->luks_header_sha256, 32, hdr);
		printf("input %s %s %s broker %s %s luks_header_sha256 %s\n", inp->name,
		       inp->role == ORDER_ROLE_SOLUTION ? "solution" : "data", inp->mount,
		       inp->broker.url, inp->broker.resource, hdr);
	}
	return EXIT_OK;
}

int order_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "limits", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *key = NULL, *out = NULL, *limits = NULL, *verb;
	bool json = false;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	verb = argv[1];
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EXIT_OK;
		}
	if (!strcmp(verb, "new"))
		return order_new_main(argc - 1, argv + 1);
	if (!strcmp(verb, "add-input"))
		return order_add_input_main(argc - 1, argv + 1);
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "o:h", longopts, NULL)) != -1) {
		if (c == 'k')
			key = optarg;
		else if (c == 'o')
			out = optarg;
		else if (c == 'l')
			limits = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'h') {
			usage(stdout);
			return EXIT_OK;
		} else {
			log_error("see 'cvm order --help'");
			return EXIT_USAGE;
		}
	}
	if (!strcmp(verb, "sign") && key && out && !limits && argc - 1 - optind == 1)
		return sign_cmd(argv[1 + optind], key, out);
	if (!strcmp(verb, "check") && !key && !out && argc - 1 - optind == 1)
		return check_cmd(argv[1 + optind], limits, json);
	if (strcmp(verb, "sign") && strcmp(verb, "check"))
		log_error("'%s' is not an order command (new, add-input, sign, check)",
			  json_shown_name(verb));
	else if (!strcmp(verb, "sign"))
		log_error("order sign needs%s%s%s%s; see 'cvm order --help'",
			  argc - 1 - optind == 1 ? "" : " one ORDER.json", key ? "" : " --key KEY",
			  out ? "" : " -o SIGNED.json", limits ? " (and takes no --limits)" : "");
	else
		log_error("order check needs one SIGNED.json%s; see 'cvm order --help'",
			  key || out ? " (and takes no --key or -o)" : "");
	return EXIT_USAGE;
}
