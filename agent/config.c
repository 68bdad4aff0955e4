/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent's configuration. /etc/cvm/agent.json is inside the measured
 * initrd, so it decides everything that matters; the kernel command line's
 * cvm.* keys only pick among choices the file leaves open.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "agent/boot.h"
#include "lib/json_schema.h"
#include "lib/lib.h"

static int bad(char *err, size_t errlen, const char *where, const char *why)
{
	return set_error(err, errlen, -EINVAL, "E_CONFIG: %s: %s", where, why);
}

static bool tee_name_valid(const char *s)
{
	static const char *const names[] = { "auto", "tsm", "tdx-guest", "sev-guest",
					     "az",   "tpm", "sim" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i]))
			return true;
	return false;
}

/* A device name under /dev: letters and digits, starting with a letter. */
static bool dev_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31 || !islower((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool port_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static void defaults(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->tee, sizeof(c->tee), "auto");
	c->connect_timeout_ms = 5000;
	c->timeout_ms = 30000;
	c->backoff_ms = 500;
	c->retries = 5;
	snprintf(c->order_dev, sizeof(c->order_dev), "/dev/vda");
	snprintf(c->output_dev, sizeof(c->output_dev), "/dev/vdb");
	snprintf(c->inputs_dev, sizeof(c->inputs_dev), "/dev/vdc");
	snprintf(c->broker_base, sizeof(c->broker_base), "10.0.2.100");
	snprintf(c->tpm_dev, sizeof(c->tpm_dev), "/dev/tpmrm0");
	c->device_wait_ms = 10000;
	c->deadline_cap_s = 24 * 3600;
	c->output_cap = 1ull << 30;
	snprintf(c->status_port, sizeof(c->status_port), AGENT_STATUS_PORT);
	c->log_level = 1;
	snprintf(c->sim_platform, sizeof(c->sim_platform), "tdx");
}

/* ---- agent.json ---- */

/* Integers are JSON numbers (docs/agent.md); strings are 1 to size - 1 bytes. */
static const struct json_words config_words = {
	.length = "{path}: empty or too long",
	.not_int = "{path}: not an integer in range",
	.range = "{path}: not an integer in range",
};

static const struct json_doc config_doc = {
	.code = "E_CONFIG: ",
	.root = "agent.json",
	.error = -EINVAL,
	.words = &config_words,
};

#define AC struct agent_config
#define STR(f) .type = JSON_STRING, JSON_FIELD(AC, f), .min = 1
#define INT(f, lo, hi) .type = JSON_INT, JSON_FIELD(AC, f), .min = lo, .max = hi

static const struct json_member broker_members[] = {
	{ "connect_timeout_ms", INT(connect_timeout_ms, 100, 600000) },
	{ "timeout_ms", INT(timeout_ms, 100, 600000) },
	{ "retries", INT(retries, 0, 20) },
	{ "backoff_ms", INT(backoff_ms, 0, 60000) },
};

static int check_network(struct json_reader *rd, void *base)
{
	const AC *c = base;
	char a[16];

	if (!c->ifname[0] || !c->address[0])
		return json_reader_fail(rd, "", "interface and address are required");
	if (agent_broker_address(c, 0, a) < 0)
		return json_reader_fail(rd, ".broker_base", "not an IPv4 address");
	return 0;
}

static const struct json_member network_members[] = {
	{ "interface", STR(ifname) },
	{ "address", STR(address) },
	{ "gateway", STR(gateway) },
	{ "broker_base", STR(broker_base) },
};

/* A device name under /dev, stored as its path. */
static int read_dev(struct json_reader *rd, const cJSON *v, void *field)
{
	const char *name;
	int r = json_reader_string(rd, v, 1, 31, &name);

	if (r < 0)
		return r;
	if (!dev_name_valid(name))
		return json_reader_fail(rd, "", "not a device name under /dev");
	snprintf(field, sizeof(((AC *)0)->order_dev), "/dev/%s", name);
	return 0;
}

#define DEV(f) .type = JSON_CUSTOM, JSON_FIELD(AC, f), .read = read_dev
static const struct json_member devices_members[] = {
	{ "order", DEV(order_dev) },
	{ "output", DEV(output_dev) },
	{ "inputs", DEV(inputs_dev) },
	{ "tpm", DEV(tpm_dev) },
	{ "wait_ms", INT(device_wait_ms, 0, 600000) },
};
_Static_assert(sizeof(((AC *)0)->output_dev) == sizeof(((AC *)0)->order_dev) &&
		       sizeof(((AC *)0)->inputs_dev) == sizeof(((AC *)0)->order_dev) &&
		       sizeof(((AC *)0)->tpm_dev) == sizeof(((AC *)0)->order_dev),
	       "read_dev writes every device path with one size");

static const struct json_member limits_members[] = {
	{ "deadline_seconds", INT(deadline_cap_s, 1, 7 * 24 * 3600) },
	{ "output_bytes", INT(output_cap, 4096, 1ull << 40) },
};

static int check_sim(struct json_reader *rd, void *base)
{
	const AC *c = base;

	if (strcmp(c->sim_platform, "tdx") && strcmp(c->sim_platform, "snp"))
		return json_reader_fail(rd, ".platform", "tdx or snp");
	if (c->sim_measurement[0] && c->sim_launch[0])
		return json_reader_fail(rd, "", "measurement or launch, not both");
	return 0;
}

static const struct json_member sim_members[] = {
	{ "pki", STR(sim_pki) },
	{ "platform", STR(sim_platform) },
	{ "measurement", STR(sim_measurement) },
	{ "launch", STR(sim_launch) },
};

static const struct json_schema broker_schema = JSON_SCHEMA(broker_members);
static const struct json_schema network_schema = { network_members, ARRAY_SIZE(network_members),
						   check_network };
static const struct json_schema devices_schema = JSON_SCHEMA(devices_members);
static const struct json_schema limits_schema = JSON_SCHEMA(limits_members);
static const struct json_schema sim_schema = { sim_members, ARRAY_SIZE(sim_members), check_sim };

static int check_config(struct json_reader *rd, void *base)
{
	const AC *c = base;

	if (!tee_name_valid(c->tee))
		return json_reader_fail(rd, ".tee",
					"auto, tsm, tdx-guest, sev-guest, az, tpm or sim");
	if (strcmp(c->status_port, "console") && !port_name_valid(c->status_port))
		return json_reader_fail(rd, ".status_port", "not a port name");
	return 0;
}

#define OBJECT(s) .type = JSON_OBJECT, .object = &(s)
static const struct json_member config_members[] = {
	{ "tee", STR(tee) },
	{ "broker", OBJECT(broker_schema) },
	{ "network", OBJECT(network_schema), .flags = JSON_HAS, JSON_HAS_FIELD(AC, network) },
	{ "devices", OBJECT(devices_schema) },
	{ "limits", OBJECT(limits_schema) },
	{ "status_port", STR(status_port) },
	{ "sim", OBJECT(sim_schema) },
};
#undef AC

static const struct json_schema config_schema = { config_members, ARRAY_SIZE(config_members),
						  check_config };

/* One cvm.KEY=VALUE word of the kernel command line. */
static int apply_word(const char *w, size_t n, struct agent_config *c, bool tee_fixed, char *err,
		      size_t errlen)
{
	char key[24], val[64];
	const char *eq = memchr(w, '=', n);

	if (!eq || (size_t)(eq - w) >= sizeof(key) || n - (size_t)(eq - w) - 1 >= sizeof(val))
		return set_error(err, errlen, -EINVAL, "E_CONFIG: command line: malformed %.*s",
				 (int)(n > 40 ? 40 : n), w);
	memcpy(key, w, (size_t)(eq - w));
	key[eq - w] = 0;
	memcpy(val, eq + 1, n - (size_t)(eq - w) - 1);
	val[n - (size_t)(eq - w) - 1] = 0;
	if (!strcmp(key, "cvm.order") || !strcmp(key, "cvm.output") || !strcmp(key, "cvm.inputs")) {
		if (!dev_name_valid(val))
			return bad(err, errlen, key, "not a device name under /dev");
		char *dst = key[5] == 'r'   ? c->order_dev
			    : key[5] == 'u' ? c->output_dev
					    : c->inputs_dev;

		if (snprintf(dst, sizeof(c->order_dev), "/dev/%s", val) >=
		    (int)sizeof(c->order_dev))
			return bad(err, errlen, key, "too long");
	} else if (!strcmp(key, "cvm.status")) {
		if (strcmp(val, "console") && !port_name_valid(val))
			return bad(err, errlen, key, "not a port name");
		snprintf(c->status_port, sizeof(c->status_port), "%s", val);
	} else if (!strcmp(key, "cvm.log")) {
		static const char *const levels[] = { "error", "info", "debug" };

		c->log_level = -1;
		for (int i = 0; i < 3; i++)
			if (!strcmp(val, levels[i]))
				c->log_level = i;
		if (c->log_level < 0)
			return bad(err, errlen, key, "error, info or debug");
	} else if (!strcmp(key, "cvm.tee")) {
		if (!tee_name_valid(val))
			return bad(err, errlen, key,
				   "auto, tsm, tdx-guest, sev-guest, az, tpm or sim");
		if (tee_fixed && strcmp(val, c->tee))
			return bad(err, errlen, key, "agent.json fixes the TEE");
		if (snprintf(c->tee, sizeof(c->tee), "%s", val) >= (int)sizeof(c->tee))
			return bad(err, errlen, key, "too long");
	} else {
		return bad(err, errlen, key, "unknown key");
	}
	return 0;
}

static int parse_cmdline(const char *s, struct agent_config *c, char *err, size_t errlen)
{
	const bool tee_fixed = strcmp(c->tee, "auto") != 0;

	while (s && *s) {
		size_t n;
		int r;

		s += strspn(s, " \t\n");
		n = strcspn(s, " \t\n");
		if (n >= 4 && !strncmp(s, "cvm.", 4) &&
		    (r = apply_word(s, n, c, tee_fixed, err, errlen)) < 0)
			return r;
		s += n;
	}
	return 0;
}

int agent_config_parse(const char *text, size_t len, const char *cmdline, struct agent_config *c,
		       char *err, size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	int r;

	defaults(c);
	if (EVP_Digest(text, len, c->digest, NULL, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	if (json_parse(text, len, &root) < 0)
		return set_error(err, errlen, -EINVAL, "E_CONFIG: agent.json: not valid JSON");
	if ((r = json_schema_read(root, &config_schema, c, &config_doc, err, errlen)) < 0)
		return r;
	return parse_cmdline(cmdline, c, err, errlen);
}

int agent_config_load(const char *path, const char *cmdline, struct agent_config *c, char *err,
		      size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t len;
	int r = file_read(path, 64 * 1024, &text, &len);

	if (r < 0)
		return set_error(err, errlen, r, "E_CONFIG: %s: %s", path, strerror(-r));
	return agent_config_parse((const char *)text, len, cmdline, c, err, errlen);
}

int agent_input_dev(const struct agent_config *c, size_t i, char *out, size_t cap)
{
	size_t n = strlen(c->inputs_dev);
	char last = n ? c->inputs_dev[n - 1] : 0;

	if (last < 'a' || last > 'z' || i > (size_t)('z' - last) || n >= cap)
		return -ERANGE;
	memcpy(out, c->inputs_dev, n + 1);
	out[n - 1] = (char)(last + (char)i);
	return 0;
}

int agent_broker_address(const struct agent_config *c, unsigned k, char out[16])
{
	unsigned b[4];
	char tail;

	if (sscanf(c->broker_base, "%3u.%3u.%3u.%3u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 ||
	    b[0] > 255 || b[1] > 255 || b[2] > 255 || b[3] + k > 254 ||
	    strspn(c->broker_base, "0123456789.") != strlen(c->broker_base))
		return -ERANGE;
	snprintf(out, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3] + k);
	return 0;
}
