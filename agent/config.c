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
#include "lib/lib.h"

static int bad(char *err, size_t errlen, const char *where, const char *why)
{
	return set_error(err, errlen, -EINVAL, "E_CONFIG: %s: %s", where, why);
}

static int only_members(const cJSON *o, const char *where, const char *const *names, char *err,
			size_t errlen)
{
	const cJSON *m;
	char p[96];

	if (!cJSON_IsObject(o))
		return bad(err, errlen, where, "not an object");
	if (!(m = json_unknown_member(o, names, SIZE_MAX)))
		return 0;
	snprintf(p, sizeof(p), "%s.%.40s", where, m->string);
	return bad(err, errlen, p, "unknown member");
}

/* Copies an optional string member; absent leaves out unchanged. */
static int get_str(const cJSON *o, const char *key, const char *where, char *out, size_t cap,
		   char *err, size_t errlen)
{
	const char *s;
	char p[96];
	int r = json_get_string(o, key, &s);

	snprintf(p, sizeof(p), "%s.%s", where, key);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return bad(err, errlen, p, "not a string");
	if (!*s || strlen(s) >= cap)
		return bad(err, errlen, p, "empty or too long");
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int get_num(const cJSON *o, const char *key, const char *where, uint64_t min, uint64_t max,
		   uint64_t *out, char *err, size_t errlen)
{
	char p[96];
	int r = json_get_u64(o, key, out);

	snprintf(p, sizeof(p), "%s.%s", where, key);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || *out < min || *out > max)
		return bad(err, errlen, p, "not an integer in range");
	return 0;
}

static bool tee_name_valid(const char *s)
{
	static const char *const names[] = {
		"auto", "tsm", "tdx-guest", "sev-guest", "tpm", "sim"
	};

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
	snprintf(c->workload_dev, sizeof(c->workload_dev), "/dev/vda");
	snprintf(c->output_dev, sizeof(c->output_dev), "/dev/vdb");
	snprintf(c->tpm_dev, sizeof(c->tpm_dev), "/dev/tpmrm0");
	c->device_wait_ms = 10000;
	c->deadline_cap_s = 24 * 3600;
	c->output_cap = 1ull << 30;
	snprintf(c->status_port, sizeof(c->status_port), AGENT_STATUS_PORT);
	c->log_level = 1;
	snprintf(c->sim_platform, sizeof(c->sim_platform), "tdx");
}

static int parse_broker(const cJSON *b, struct agent_config *c, char *err, size_t errlen)
{
	static const char *const names[] = { "url",	   "cacert",
					     "resource",   "connect_timeout_ms",
					     "timeout_ms", "retries",
					     "backoff_ms", NULL };
	uint64_t v;
	int r;

	if ((r = only_members(b, "broker", names, err, errlen)) < 0 ||
	    (r = get_str(b, "url", "broker", c->broker_url, sizeof(c->broker_url), err, errlen)) <
		    0 ||
	    (r = get_str(b, "cacert", "broker", c->broker_cacert, sizeof(c->broker_cacert), err,
			 errlen)) < 0 ||
	    (r = get_str(b, "resource", "broker", c->resource, sizeof(c->resource), err, errlen)) <
		    0)
		return r;
	if (strncmp(c->broker_url, "https://", 8))
		return bad(err, errlen, "broker.url", "must be https://");
	if (!c->broker_cacert[0])
		return bad(err, errlen, "broker.cacert", "a pinned certificate is required");
	if (!c->resource[0])
		return bad(err, errlen, "broker.resource", "required");
	v = (uint64_t)c->connect_timeout_ms;
	if ((r = get_num(b, "connect_timeout_ms", "broker", 100, 600000, &v, err, errlen)) < 0)
		return r;
	c->connect_timeout_ms = (long)v;
	v = (uint64_t)c->timeout_ms;
	if ((r = get_num(b, "timeout_ms", "broker", 100, 600000, &v, err, errlen)) < 0)
		return r;
	c->timeout_ms = (long)v;
	v = (uint64_t)c->backoff_ms;
	if ((r = get_num(b, "backoff_ms", "broker", 0, 60000, &v, err, errlen)) < 0)
		return r;
	c->backoff_ms = (long)v;
	v = c->retries;
	if ((r = get_num(b, "retries", "broker", 0, 20, &v, err, errlen)) < 0)
		return r;
	c->retries = (unsigned)v;
	return 0;
}

static int parse_network(const cJSON *n, struct agent_config *c, char *err, size_t errlen)
{
	static const char *const names[] = { "interface", "address", "gateway", NULL };
	int r;

	if ((r = only_members(n, "network", names, err, errlen)) < 0 ||
	    (r = get_str(n, "interface", "network", c->ifname, sizeof(c->ifname), err, errlen)) <
		    0 ||
	    (r = get_str(n, "address", "network", c->address, sizeof(c->address), err, errlen)) <
		    0 ||
	    (r = get_str(n, "gateway", "network", c->gateway, sizeof(c->gateway), err, errlen)) < 0)
		return r;
	if (!c->ifname[0] || !c->address[0])
		return bad(err, errlen, "network", "interface and address are required");
	c->network = true;
	return 0;
}

static int dev_member(const cJSON *d, const char *key, char *out, size_t cap, char *err,
		      size_t errlen)
{
	char name[32] = "";
	int r = get_str(d, key, "devices", name, sizeof(name), err, errlen);

	if (r < 0 || !name[0])
		return r;
	if (!dev_name_valid(name))
		return bad(err, errlen, key, "not a device name under /dev");
	snprintf(out, cap, "/dev/%s", name);
	return 0;
}

static int parse_devices(const cJSON *d, struct agent_config *c, char *err, size_t errlen)
{
	static const char *const names[] = { "workload", "output", "tpm", "wait_ms", NULL };
	uint64_t v = (uint64_t)c->device_wait_ms;
	int r;

	if ((r = only_members(d, "devices", names, err, errlen)) < 0 ||
	    (r = dev_member(d, "workload", c->workload_dev, sizeof(c->workload_dev), err, errlen)) <
		    0 ||
	    (r = dev_member(d, "output", c->output_dev, sizeof(c->output_dev), err, errlen)) < 0 ||
	    (r = dev_member(d, "tpm", c->tpm_dev, sizeof(c->tpm_dev), err, errlen)) < 0 ||
	    (r = get_num(d, "wait_ms", "devices", 0, 600000, &v, err, errlen)) < 0)
		return r;
	c->device_wait_ms = (long)v;
	return 0;
}

static int parse_limits(const cJSON *l, struct agent_config *c, char *err, size_t errlen)
{
	static const char *const names[] = { "deadline_seconds", "output_bytes", NULL };
	uint64_t v = (uint64_t)c->deadline_cap_s;
	int r;

	if ((r = only_members(l, "limits", names, err, errlen)) < 0 ||
	    (r = get_num(l, "deadline_seconds", "limits", 1, 7 * 24 * 3600, &v, err, errlen)) < 0)
		return r;
	c->deadline_cap_s = (long)v;
	return get_num(l, "output_bytes", "limits", 4096, 1ull << 40, &c->output_cap, err, errlen);
}

static int parse_sim(const cJSON *s, struct agent_config *c, char *err, size_t errlen)
{
	static const char *const names[] = { "pki", "platform", "measurement", "launch", NULL };
	int r;

	if ((r = only_members(s, "sim", names, err, errlen)) < 0 ||
	    (r = get_str(s, "pki", "sim", c->sim_pki, sizeof(c->sim_pki), err, errlen)) < 0 ||
	    (r = get_str(s, "platform", "sim", c->sim_platform, sizeof(c->sim_platform), err,
			 errlen)) < 0 ||
	    (r = get_str(s, "measurement", "sim", c->sim_measurement, sizeof(c->sim_measurement),
			 err, errlen)) < 0 ||
	    (r = get_str(s, "launch", "sim", c->sim_launch, sizeof(c->sim_launch), err, errlen)) <
		    0)
		return r;
	if (strcmp(c->sim_platform, "tdx") && strcmp(c->sim_platform, "snp"))
		return bad(err, errlen, "sim.platform", "tdx or snp");
	if (c->sim_measurement[0] && c->sim_launch[0])
		return bad(err, errlen, "sim", "measurement or launch, not both");
	return 0;
}

static int parse_file(const cJSON *root, struct agent_config *c, char *err, size_t errlen)
{
	static const char *const names[] = { "tee",    "broker",      "network", "devices",
					     "limits", "status_port", "sim",	 NULL };
	const cJSON *m;
	int r;

	if ((r = only_members(root, "agent.json", names, err, errlen)) < 0 ||
	    (r = get_str(root, "tee", "agent.json", c->tee, sizeof(c->tee), err, errlen)) < 0 ||
	    (r = get_str(root, "status_port", "agent.json", c->status_port, sizeof(c->status_port),
			 err, errlen)) < 0)
		return r;
	if (!tee_name_valid(c->tee))
		return bad(err, errlen, "tee", "auto, tsm, tdx-guest, sev-guest, tpm or sim");
	if (strcmp(c->status_port, "console") && !port_name_valid(c->status_port))
		return bad(err, errlen, "status_port", "not a port name");
	if (!(m = cJSON_GetObjectItemCaseSensitive(root, "broker")))
		return bad(err, errlen, "broker", "required");
	if ((r = parse_broker(m, c, err, errlen)) < 0)
		return r;
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "network")) &&
	    (r = parse_network(m, c, err, errlen)) < 0)
		return r;
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "devices")) &&
	    (r = parse_devices(m, c, err, errlen)) < 0)
		return r;
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "limits")) &&
	    (r = parse_limits(m, c, err, errlen)) < 0)
		return r;
	if ((m = cJSON_GetObjectItemCaseSensitive(root, "sim")) &&
	    (r = parse_sim(m, c, err, errlen)) < 0)
		return r;
	return 0;
}

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
	if (!strcmp(key, "cvm.workload") || !strcmp(key, "cvm.output")) {
		if (!dev_name_valid(val))
			return bad(err, errlen, key, "not a device name under /dev");
		char *dst = key[4] == 'w' ? c->workload_dev : c->output_dev;

		if (snprintf(dst, sizeof(c->workload_dev), "/dev/%s", val) >=
		    (int)sizeof(c->workload_dev))
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
			return bad(err, errlen, key, "auto, tsm, tdx-guest, sev-guest, tpm or sim");
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
	if ((r = parse_file(root, c, err, errlen)) < 0)
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
