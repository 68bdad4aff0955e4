/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cvm order new` and `cvm order add-input`: an order built one step at a
 * time from what each party publishes (cvm pack --json for a volume, the
 * broker's URL, resource and CA or SPKI pin), so that nobody writes the
 * order's JSON by hand. The result is an unsigned order; `cvm order sign`
 * checks every member (measurement/order.c) and signs it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cvm.h"
#include "lib/lib.h"

struct input_opts {
	const char *name, *role, *pack, *url, *broker, *resource, *ca, *spki, *mount;
};

/* The order file as JSON (an object), or NULL with the reason logged. */
static cJSON *read_order(const char *path)
{
	_cleanup_free_ uint8_t *text = NULL;
	cJSON *o = NULL;
	size_t len;
	int r = file_read(path, CVM_CAP_JSON, &text, &len);

	if (r < 0)
		return log_error_errno(r, "%s", path), NULL;
	if (json_parse((const char *)text, len, &o) < 0 || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return log_error("%s: not a JSON object", path), NULL;
	}
	return o;
}

static int write_order(const char *path, const cJSON *o)
{
	_cleanup_free_ char *text = cJSON_Print(o);
	char err[320];
	size_t n;

	if (!text)
		return log_error("out of memory"), -ENOMEM;
	n = strlen(text);
	text[n] = '\n'; /* over the NUL: a text file */
	if (out_write(path, text, n + 1, err, sizeof(err)) < 0)
		return log_error("%s", err), -EIO;
	return 0;
}

/* A whole number of at least min from an option, or -1 (logged). */
static long long number(const char *opt, const char *s, long long min)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || !*s || v < min) {
		log_error("--%s: a whole number of at least %lld", opt, min);
		return -1;
	}
	return v;
}

int order_new_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "image", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "memory-mib", required_argument, NULL, 'M' },
		{ "deadline-seconds", required_argument, NULL, 'd' },
		{ "upload-url", required_argument, NULL, 'u' },
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *id = NULL, *image = "default", *upload = NULL, *out = NULL;
	long long vcpus = 1, mem = 1024, deadline = 3600;
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	cJSON *res;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		if (c == 'i')
			id = optarg;
		else if (c == 'm')
			image = optarg;
		else if (c == 'u')
			upload = optarg;
		else if (c == 'o')
			out = optarg;
		else if (c == 'c' && (vcpus = number("vcpus", optarg, 1)) < 0)
			return EXIT_USAGE;
		else if (c == 'M' && (mem = number("memory-mib", optarg, 64)) < 0)
			return EXIT_USAGE;
		else if (c == 'd' && (deadline = number("deadline-seconds", optarg, 1)) < 0)
			return EXIT_USAGE;
		else if (c == '?')
			return log_error("see 'cvm order --help'"), EXIT_USAGE;
	}
	if (!id || !upload || !out || optind != argc) {
		log_error("order new needs%s%s%s; see 'cvm order --help'", id ? "" : " --id ID",
			  upload ? "" : " --upload-url URL", out ? "" : " -o ORDER.json");
		return EXIT_USAGE;
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "version", 2);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "image", image);
	cJSON_AddNumberToObject(o, "vcpus", (double)vcpus);
	cJSON_AddNumberToObject(o, "memory_mib", (double)mem);
	cJSON_AddNumberToObject(o, "deadline_seconds", (double)deadline);
	cJSON_AddArrayToObject(o, "inputs");
	res = cJSON_AddObjectToObject(o, "result");
	if (!cJSON_AddStringToObject(res, "upload_url", upload))
		return log_error("out of memory"), EXIT_USAGE;
	if (write_order(out, o) < 0)
		return EXIT_USAGE;
	if (strcmp(out, "-"))
		printf("order %s: no inputs yet (cvm order add-input), then cvm order sign\n", out);
	return EXIT_OK;
}

/* cvm pack's lines ("sha256 HEX", "size N", ...) as the object --json prints; NULL if none. */
static cJSON *pack_lines(char *text)
{
	cJSON *o = cJSON_CreateObject();
	char *save = NULL;
	int n = 0;

	for (char *line = strtok_r(text, "\n", &save); o && line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ' ');

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "size")) {
			cJSON_AddNumberToObject(o, line, strtod(v, NULL));
			n++;
		} else if (!strcmp(line, "sha256") || !strcmp(line, "luks_header_sha256")) {
			cJSON_AddStringToObject(o, line, v);
			n++;
		}
	}
	if (n == 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The volume member of an input from what cvm pack printed (its lines or --json). */
static cJSON *volume_of(const char *pack, const char *url)
{
	_cleanup_(cJSON_Deletep) cJSON *p = NULL;
	_cleanup_free_ uint8_t *text = NULL;
	const cJSON *sha, *size, *hdr;
	cJSON *v;
	size_t len;
	int r = file_read(pack, CVM_CAP_JSON, &text, &len);

	if (r < 0)
		return log_error_errno(r, "%s", pack), NULL;
	if (json_parse((const char *)text, len, &p) < 0 && !(p = pack_lines((char *)text))) {
		log_error("%s: not what cvm pack prints (its lines, or --json)", pack);
		return NULL;
	}
	sha = cJSON_GetObjectItemCaseSensitive(p, "sha256");
	size = cJSON_GetObjectItemCaseSensitive(p, "size");
	hdr = cJSON_GetObjectItemCaseSensitive(p, "luks_header_sha256");
	if (!cJSON_IsString(sha) || !cJSON_IsNumber(size) || !cJSON_IsString(hdr)) {
		log_error("%s: lacks %s (cvm pack --json writes it)", pack,
			  !cJSON_IsString(sha)	  ? "sha256"
			  : !cJSON_IsNumber(size) ? "size"
						  : "luks_header_sha256");
		return NULL;
	}
	v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "url", url);
	cJSON_AddStringToObject(v, "sha256", sha->valuestring);
	cJSON_AddNumberToObject(v, "size", size->valuedouble);
	cJSON_AddStringToObject(v, "luks_header_sha256", hdr->valuestring);
	return v;
}

static cJSON *broker_of(const struct input_opts *in)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "url", in->broker);
	cJSON_AddStringToObject(b, "resource", in->resource);
	if (in->ca) {
		_cleanup_free_ uint8_t *pem = NULL;
		size_t len;
		int r = file_read(in->ca, 64 * 1024, &pem, &len);

		if (r < 0) {
			cJSON_Delete(b);
			return log_error_errno(r, "%s", in->ca), NULL;
		}
		cJSON_AddStringToObject(b, "ca", (const char *)pem);
	} else {
		cJSON_AddStringToObject(b, "spki_sha256", in->spki);
	}
	return b;
}

static int parse_input_opts(int argc, char **argv, struct input_opts *in)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "pack", required_argument, NULL, 'p' },
		{ "url", required_argument, NULL, 'u' },
		{ "broker", required_argument, NULL, 'b' },
		{ "resource", required_argument, NULL, 'R' },
		{ "ca", required_argument, NULL, 'c' },
		{ "spki-sha256", required_argument, NULL, 's' },
		{ "mount", required_argument, NULL, 'm' },
		{ 0 },
	};
	const char **slot[128] = { 0 };
	int c;

	slot['n'] = &in->name;
	slot['r'] = &in->role;
	slot['p'] = &in->pack;
	slot['u'] = &in->url;
	slot['b'] = &in->broker;
	slot['R'] = &in->resource;
	slot['c'] = &in->ca;
	slot['s'] = &in->spki;
	slot['m'] = &in->mount;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c < 0 || c >= 128 || !slot[c])
			return log_error("see 'cvm order --help'"), -1;
		*slot[c] = optarg;
	}
	if (!in->name || !in->role || !in->pack || !in->url || !in->broker || !in->resource ||
	    !in->ca == !in->spki || argc - optind != 1) {
		log_error("order add-input needs ORDER.json%s%s%s%s%s%s%s; see 'cvm order --help'",
			  in->name ? "" : " --name NAME", in->role ? "" : " --role solution|data",
			  in->pack ? "" : " --pack PACK.json", in->url ? "" : " --url VOLUME_URL",
			  in->broker ? "" : " --broker URL", in->resource ? "" : " --resource R",
			  !in->ca == !in->spki ? " and one of --ca CA.pem or --spki-sha256 HEX"
					       : "");
		return -1;
	}
	return 0;
}

int order_add_input_main(int argc, char **argv)
{
	struct input_opts in = { 0 };
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	cJSON *inputs, *e, *vol, *brk;

	if (parse_input_opts(argc, argv, &in) < 0)
		return EXIT_USAGE;
	o = read_order(argv[optind]);
	if (!o)
		return EXIT_USAGE;
	inputs = cJSON_GetObjectItemCaseSensitive(o, "inputs");
	if (!cJSON_IsArray(inputs)) {
		log_error("%s: no inputs array (cvm order new makes one)", argv[optind]);
		return EXIT_USAGE;
	}
	cJSON_ArrayForEach(e, inputs) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));

		if (n && !strcmp(n, in.name)) {
			log_error("%s: an input is named %s already", argv[optind], in.name);
			return EXIT_USAGE;
		}
	}
	vol = volume_of(in.pack, in.url);
	brk = vol ? broker_of(&in) : NULL;
	if (!vol || !brk) {
		cJSON_Delete(vol);
		return EXIT_USAGE;
	}
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "name", in.name);
	cJSON_AddStringToObject(e, "role", in.role);
	cJSON_AddItemToObject(e, "volume", vol);
	cJSON_AddItemToObject(e, "broker", brk);
	if (in.mount)
		cJSON_AddStringToObject(e, "mount", in.mount);
	cJSON_AddItemToArray(inputs, e);
	if (write_order(argv[optind], o) < 0)
		return EXIT_USAGE;
	printf("order %s: input %s (%s) added\n", argv[optind], in.name, in.role);
	return EXIT_OK;
}
