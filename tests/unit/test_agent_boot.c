/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent's configuration (agent.json, then the kernel command line's
 * cvm.* keys, which only choose among what the file allows) and its status
 * lines on a virtio-serial port found by name in a fake sysfs tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "agent/boot.h"
#include "lib/lib.h"
#include "tests/unit/support/files.h"

/* the image's broker client settings: the brokers themselves come from the order */
#define BROKER "\"broker\": {\"retries\": 3}"

static int parse(const char *json, const char *cmdline, struct agent_config *c, char *err)
{
	return agent_config_parse(json, strlen(json), cmdline, c, err, 256);
}

static void test_minimal_config_gets_defaults(void **state)
{
	struct agent_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse("{" BROKER "}", "console=ttyS0 quiet", &c, err), 0);
	assert_string_equal(c.tee, "auto");
	assert_string_equal(c.order_dev, "/dev/vda");
	assert_string_equal(c.output_dev, "/dev/vdb");
	assert_string_equal(c.inputs_dev, "/dev/vdc");
	assert_string_equal(c.broker_base, "10.0.2.100");
	assert_string_equal(c.status_port, "org.cvm.status");
	assert_false(c.network);
	assert_int_equal(c.retries, 3);
	assert_int_equal(parse("{}", "", &c, err), 0);
	assert_int_equal(c.retries, 5);
}

static void test_config_digest_is_of_the_file(void **state)
{
	struct agent_config a, b;
	char err[256];

	(void)state;
	assert_int_equal(parse("{" BROKER "}", "", &a, err), 0);
	assert_int_equal(parse("{" BROKER " }", "", &b, err), 0);
	assert_memory_not_equal(a.digest, b.digest, 32);
}

static void test_full_config(void **state)
{
	struct agent_config c;
	char err[256] = "";
	const char *j =
		"{\"tee\": \"sim\", " BROKER ", \"network\": {\"interface\": \"eth0\", "
		"\"address\": \"10.0.2.15/24\", \"gateway\": \"10.0.2.2\"}, \"devices\": "
		"{\"order\": \"vdc\", \"output\": \"vdd\", \"inputs\": \"vdf\", \"wait_ms\": 100}, "
		"\"limits\": {\"deadline_seconds\": 60, \"output_bytes\": 8192}, "
		"\"sim\": {\"pki\": \"/etc/cvm/sim-pki\", \"platform\": \"snp\", "
		"\"launch\": \"/sys/firmware/qemu_fw_cfg/by_name/opt/org.cvm/sim-launch/"
		"raw\"}}";

	(void)state;
	assert_int_equal(parse(j, NULL, &c, err), 0);
	assert_true(c.network);
	assert_string_equal(c.ifname, "eth0");
	assert_string_equal(c.order_dev, "/dev/vdc");
	assert_string_equal(c.inputs_dev, "/dev/vdf");
	assert_int_equal(c.device_wait_ms, 100);
	assert_int_equal(c.deadline_cap_s, 60);
	assert_int_equal(c.output_cap, 8192);
	assert_string_equal(c.sim_platform, "snp");
	assert_string_equal(c.sim_launch,
			    "/sys/firmware/qemu_fw_cfg/by_name/opt/org.cvm/sim-launch/raw");
	assert_string_equal(c.sim_measurement, "");
}

static void test_refuses_bad_files(void **state)
{
	static const struct {
		const char *json, *why;
	} cases[] = {
		{ "{" BROKER ", \"extra\": 1}", "agent.json.extra: unknown member" },
		/* a generic image: the order names the brokers, their trust and resources */
		{ "{\"broker\": {\"url\": \"https://x\"}}", "broker.url: unknown member" },
		{ "{\"broker\": {\"cacert\": \"/c\"}}", "broker.cacert: unknown member" },
		{ "{\"broker\": {\"resource\": \"a/b/c\"}}", "broker.resource: unknown member" },
		{ "{\"broker\": {\"retries\": 1000}}", "broker.retries" },
		{ "{\"devices\": {\"workload\": \"vda\"}}", "devices.workload: unknown member" },
		{ "{\"network\": {\"interface\": \"eth0\", \"address\": \"10.0.2.15/24\", "
		  "\"broker_base\": \"10.0.2.300\"}}",
		  "network.broker_base: not an IPv4 address" },
		{ "{\"tee\": \"sgx\", " BROKER "}", "tee" },
		{ "{" BROKER ", \"devices\": {\"order\": \"../sda\"}}", "not a device name" },
		{ "{" BROKER ", \"network\": {\"interface\": \"eth0\"}}", "address are required" },
		{ "{" BROKER ", \"status_port\": \"a b\"}", "not a port name" },
		{ "{" BROKER ", \"sim\": {\"platform\": \"sgx\"}}", "tdx or snp" },
		{ "{" BROKER ", \"sim\": {\"measurement\": \"00\", \"launch\": \"/l\"}}",
		  "sim: measurement or launch, not both" },
		{ "{" BROKER ", \"sim\": {\"launch\": \"\"}}", "sim.launch: empty" },
		{ "{" BROKER ", \"limits\": {\"output_bytes\": 1}}", "limits.output_bytes" },
		{ "{" BROKER ", \"limits\": {\"output_bytes\": \"0x100000\"}}",
		  "limits.output_bytes: not an integer" },
		{ "{" BROKER ", \"devices\": {\"wait_ms\": 1.5}}", "devices.wait_ms" },
		{ "{\"tee\": \"auto\", \"tee\": \"tpm\", " BROKER "}", "not valid JSON" },
		{ "[1]", "not an object" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct agent_config c;
		char err[256] = "";

		assert_int_not_equal(parse(cases[i].json, "", &c, err), 0);
		if (!strstr(err, cases[i].why) || strncmp(err, "E_CONFIG: ", 10))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].why);
	}
}

static void test_input_devices_and_broker_addresses(void **state)
{
	struct agent_config c;
	char err[256] = "", dev[64], a[16];

	(void)state;
	assert_int_equal(parse("{}", "", &c, err), 0);
	assert_int_equal(agent_input_dev(&c, 0, dev, sizeof(dev)), 0);
	assert_string_equal(dev, "/dev/vdc");
	assert_int_equal(agent_input_dev(&c, 15, dev, sizeof(dev)), 0);
	assert_string_equal(dev, "/dev/vdr");
	assert_int_equal(agent_input_dev(&c, 24, dev, sizeof(dev)), -ERANGE);
	assert_int_equal(agent_broker_address(&c, 0, a), 0);
	assert_string_equal(a, "10.0.2.100");
	assert_int_equal(agent_broker_address(&c, 15, a), 0);
	assert_string_equal(a, "10.0.2.115");
	assert_int_equal(agent_broker_address(&c, 155, a), -ERANGE);
}

static void test_cmdline_chooses_among_allowed(void **state)
{
	struct agent_config c;
	char err[256] = "";

	(void)state;
	assert_int_equal(
		parse("{" BROKER "}",
		      "root=/dev/x cvm.order=vdc cvm.output=vdd cvm.inputs=vde cvm.status=console "
		      "cvm.log=debug cvm.tee=tpm init=/init",
		      &c, err),
		0);
	assert_string_equal(c.order_dev, "/dev/vdc");
	assert_string_equal(c.output_dev, "/dev/vdd");
	assert_string_equal(c.inputs_dev, "/dev/vde");
	assert_string_equal(c.status_port, "console");
	assert_int_equal(c.log_level, 2);
	assert_string_equal(c.tee, "tpm");
}

static void test_cmdline_refusals(void **state)
{
	static const struct {
		const char *cmdline, *why;
	} cases[] = {
		{ "cvm.order=../../etc/passwd", "not a device name" },
		{ "cvm.inputs=VDA", "not a device name" },
		{ "cvm.workload=vda", "unknown key" },
		{ "cvm.output=", "not a device name" },
		{ "cvm.broker=https://evil", "unknown key" },
		{ "cvm.log=trace", "error, info or debug" },
		{ "cvm.tee=sgx", "auto, tsm" },
		{ "cvm.status=a/b", "not a port name" },
		{ "cvm.order", "malformed" },
		{ "cvm.workload="
		  "vdaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "malformed" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct agent_config c;
		char err[256] = "";

		assert_int_not_equal(parse("{" BROKER "}", cases[i].cmdline, &c, err), 0);
		if (!strstr(err, cases[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].why);
	}
}

static void test_cmdline_cannot_override_a_fixed_tee(void **state)
{
	struct agent_config c;
	char err[256] = "";

	(void)state;
	assert_int_not_equal(parse("{\"tee\": \"tdx-guest\", " BROKER "}", "cvm.tee=sim", &c, err),
			     0);
	assert_non_null(strstr(err, "agent.json fixes the TEE"));
	assert_int_equal(
		parse("{\"tee\": \"tdx-guest\", " BROKER "}", "cvm.tee=tdx-guest", &c, err), 0);
}

static void put(const char *root, const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_status_lines_go_to_the_named_port(void **state)
{
	char root[] = "/tmp/cvm-status-XXXXXX", cmd[1100];
	_cleanup_free_ char *got = NULL, *other = NULL;
	cJSON *j, *extra = cJSON_CreateObject();

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/sys/class/virtio-ports/vport0p1 %s/sys/class/virtio-ports/vport0p2 "
		 "%s/dev",
		 root, root, root);
	assert_int_equal(system(cmd), 0);
	put(root, "sys/class/virtio-ports/vport0p1/name", "org.other\n");
	put(root, "sys/class/virtio-ports/vport0p2/name", "org.cvm.status\n");
	put(root, "dev/vport0p1", "");
	put(root, "dev/vport0p2", "");
	assert_true(status_open(root, "org.cvm.status"));
	cJSON_AddNumberToObject(extra, "wait_ms", 12);
	status_emit("key", false, "E_KEY", "PolicyDeny: \"mrtd\"\n", extra);
	status_emit("poweroff", true, NULL, NULL, NULL);
	status_close();
	got = test_read_text(root, "dev/vport0p2");
	other = test_read_text(root, "dev/vport0p1");
	assert_non_null(got);
	assert_string_equal(other, "");
	/* two lines, each one JSON object; the detail's quote and newline are escaped */
	assert_non_null(strchr(got, '\n'));
	*strchr(got, '\n') = 0;
	assert_int_equal(json_parse(got, strlen(got), &j), 0);
	assert_string_equal(cJSON_GetObjectItem(j, "phase")->valuestring, "key");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")));
	assert_string_equal(cJSON_GetObjectItem(j, "code")->valuestring, "E_KEY");
	assert_string_equal(cJSON_GetObjectItem(j, "detail")->valuestring,
			    "PolicyDeny: \"mrtd\"\n");
	assert_int_equal(cJSON_GetObjectItem(j, "wait_ms")->valueint, 12);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "t")));
	cJSON_Delete(j);
	assert_non_null(strstr(got + strlen(got) + 1, "\"phase\":\"poweroff\""));
	assert_false(status_open(root, "org.absent"));
	status_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void test_wait_path_has_a_deadline(void **state)
{
	(void)state;
	assert_int_equal(pid1_wait_path("/", 0), 0);
	assert_int_equal(pid1_wait_path("/nonexistent/cvm", 50), -ETIMEDOUT);
	assert_int_equal(pid1_wait_rng(1000), 0);
}

/*
 * The background loader: a thread that reports how many modules failed and
 * the first one's error; no list, no thread. Loading a real module needs a
 * guest (tests/e2e/test_order.sh); here the files are not modules.
 */
static void test_background_modules_report_failures(void **state)
{
	char dir[] = "/tmp/cvm-modbg-XXXXXX", list[64], err[256] = "";
	struct pid1_modules m;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(list, sizeof(list), "%s/modules", dir);
	assert_int_equal(pid1_load_modules_background(list, &m), 0);
	assert_false(m.running);
	assert_int_equal(pid1_modules_wait(&m, err, sizeof(err)), 0);
	f = fopen(list, "w");
	assert_non_null(f);
	fprintf(f, "# builtin tpm_tis\n%s/missing.ko\n%s/modules\n", dir, dir);
	fclose(f);
	assert_int_equal(pid1_load_modules_background(list, &m), 1);
	assert_int_equal(pid1_modules_wait(&m, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "missing.ko: No such file or directory"));
	assert_false(m.running);
	unlink(list);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_config_gets_defaults),
		cmocka_unit_test(test_config_digest_is_of_the_file),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_refuses_bad_files),
		cmocka_unit_test(test_input_devices_and_broker_addresses),
		cmocka_unit_test(test_cmdline_chooses_among_allowed),
		cmocka_unit_test(test_cmdline_refusals),
		cmocka_unit_test(test_cmdline_cannot_override_a_fixed_tee),
		cmocka_unit_test(test_status_lines_go_to_the_named_port),
		cmocka_unit_test(test_wait_path_has_a_deadline),
		cmocka_unit_test(test_background_modules_report_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
