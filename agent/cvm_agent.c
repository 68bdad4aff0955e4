/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent: /init of the measured initrd. Takes one order from boot to
 * power-off (docs/design.md §4): read the signed order and check it is the
 * one the hardware was launched for, measure, attest to each input's key
 * broker, unlock each input, run the solution's job, seal the result to the
 * order's customer and sign it, write it to the output disk, report, power
 * off. Every path, success or failure, ends in a status line and a
 * power-off; nothing secret leaves the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "agent/agent.h"
#include "agent/boot.h"
#include "agent/job.h"
#include "agent/net.h"
#include "agent/result.h"
#include "agent/service.h"
#include "lib/lib.h"
#include "measurement/order.h"
#include "measurement/platform.h"

#define AGENT_VERSION "cvm-agent 0.1"
#define RUN_DIR "/run/cvm"
#define INPUTS_DIR "/inputs"
#define RESULT_DIR RUN_DIR "/result"
#define RUNTIME_LOG RUN_DIR "/runtime-log.json"
#define JOB_MANIFEST "cvm-job.json"

/* One input of the order in the guest: its volume, and whether it is mapped and mounted. */
struct agent_input {
	struct volume vol;
	bool open, active;
	char dm_name[48]; /* cvm-input-NAME */
};

struct agent_run {
	struct agent_config cfg;
	struct tee *tee;
	struct order order; /* the signed order, checked against the launch */
	struct agent_input in[ORDER_INPUTS_MAX];
	struct result_key sign; /* the result-signing key, made at boot */
	uint8_t manifest_sha256[32];
	uint64_t stage_size; /* the result area's size */
	struct job_manifest job;
	bool job_parsed;
	bool env_dropped; /* this is PID 1's second start, with its environment dropped */
	struct pid1_modules modules; /* the background module loader */
	uint64_t wait_ms;	     /* time spent waiting on the TEE, the broker and the kernel */
	int64_t t0;		     /* when main began */
};

static struct agent_run o;

/* The agent's own time so far: since main began, less what it waited on. */
static uint64_t own_ms(void)
{
	return (uint64_t)(mono_ms() - o.t0) - o.wait_ms;
}

/* Every input: unmounted, its mappings removed (their keys with them), its header closed. */
static void inputs_close(void)
{
	for (size_t i = 0; i < ORDER_INPUTS_MAX; i++) {
		if (o.in[i].active)
			volume_deactivate(o.in[i].dm_name, o.order.inputs[i].mount);
		if (o.in[i].open)
			volume_close(&o.in[i].vol);
		o.in[i].active = o.in[i].open = false;
	}
}

/* Reports the failure and powers off: the one exit of every failed phase. */
__attribute__((noreturn)) static void fail(const char *phase, const char *code, const char *detail)
{
	status_emit(phase, false, code, detail, NULL);
	inputs_close();
	result_key_wipe(&o.sign);
	tee_close(o.tee);
	status_emit("poweroff", false, code, NULL, NULL);
	status_close();
	pid1_power_off();
}

/* The code prefix of a one-line error ("E_LUKS_KEYSLOTS: ..."), or fallback. */
static const char *code_of(const char *err, const char *fallback, char *buf, size_t cap)
{
	size_t n = strspn(err, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");

	if (n < 3 || n >= cap || strncmp(err, "E_", 2) || err[n] != ':')
		return fallback;
	memcpy(buf, err, n);
	buf[n] = 0;
	return buf;
}

static cJSON *extra_str(const char *k, const char *v)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, k, v);
	return e;
}

static cJSON *extra_ms(const char *k, uint64_t ms)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddNumberToObject(e, k, (double)ms);
	return e;
}

static void measure(const char *name, const void *value, size_t n)
{
	char err[256];
	const int64_t t = mono_ms();
	int r = tee_measure(o.tee, name, value, n, err, sizeof(err));

	o.wait_ms += mono_ms() - t;
	/* SEV-SNP without a vTPM has no runtime register: the evidence binds the log instead */
	if (r < 0 && r != -ENOTSUP)
		fail("measure", "E_MEASURE", err);
}

static void boot(void)
{
	char err[256] = "", cmdline[4096] = "";
	int fd, failed, r;
	int64_t t;
	ssize_t n;

	if (getpid() == 1 && pid1_mount_all(err, sizeof(err)) < 0) {
		status_open(NULL, "console");
		fail("boot", "E_BOOT", err);
	}
	/* before any secret exists: the key, the result-signing key, the workload */
	if (getpid() == 1 && pid1_harden_kernel(err, sizeof(err)) < 0) {
		status_open(NULL, "console");
		fail("boot", "E_HARDEN", err);
	}
	mkdir(RUN_DIR, 0711);
	status_open(NULL, "console");
	/* module loading is the kernel's time: counted as waiting, like the TEE and broker */
	t = mono_ms();
	failed = pid1_load_modules(AGENT_MODULES, err, sizeof(err));
	o.wait_ms += mono_ms() - t;
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, cmdline, sizeof(cmdline) - 1) : -1;
	if (fd >= 0)
		close(fd);
	cmdline[n > 0 ? n : 0] = 0;
	if (agent_config_load(AGENT_CONFIG_PATH, cmdline, &o.cfg, err, sizeof(err)) < 0)
		fail("config", "E_CONFIG", err);
	/* the port appears once virtio_console has probed it (the kernel's time); else the console */
	t = mono_ms();
	for (int64_t end = t + 3000; !status_open(NULL, o.cfg.status_port) && mono_ms() < end;)
		usleep(20000);
	o.wait_ms += mono_ms() - t;
	{
		cJSON *e = extra_str("agent", AGENT_VERSION);

		cJSON_AddNumberToObject(e, "modules_failed", failed);
		/* "dropped": PID 1 ran itself again without what the command line put there */
		cJSON_AddStringToObject(e, "environment", o.env_dropped ? "dropped" : "kernel");
		status_emit("boot", failed == 0, failed ? "E_MODULES" : NULL, failed ? err : NULL,
			    e);
	}
	/* what the volumes need loads beside the agent's work, where it waits (modules_ready) */
	if (pid1_load_modules_background(AGENT_MODULES_BACKGROUND, &o.modules) < 0)
		status_emit("modules", false, "E_MODULES",
			    "the background module loader did not start", NULL);
	t = mono_ms();
	r = pid1_wait_rng(30000);
	o.wait_ms += mono_ms() - t;
	if (r < 0)
		fail("boot", "E_RNG", "the kernel's RNG did not initialise");
}

static void network(void)
{
	char err[256];
	int64_t t = mono_ms();
	int r;

	if (!o.cfg.network)
		return;
	/* waiting for the interface, then requests the kernel acknowledges: the kernel's time */
	r = net_configure(o.cfg.ifname, o.cfg.address, o.cfg.gateway[0] ? o.cfg.gateway : NULL,
			  5000, err, sizeof(err));
	o.wait_ms += mono_ms() - t;
	if (r < 0)
		fail("network", "E_NETWORK", err);
	status_emit("network", true, NULL, NULL, extra_str("interface", o.cfg.ifname));
}

static void open_tee(void)
{
	struct tee_config tc = { 0 };
	char err[512];
	int64_t t = mono_ms();

	tc.root = ""; /* the guest's own kernel interfaces and TPM */
	tc.runtime_log = RUNTIME_LOG;
	if (o.cfg.sim_pki[0])
		tc.sim_pki = o.cfg.sim_pki;
	tc.sim_platform = o.cfg.sim_platform;
	if (o.cfg.sim_measurement[0])
		tc.sim_measurement = o.cfg.sim_measurement;
	if (o.cfg.sim_launch[0])
		tc.sim_launch = o.cfg.sim_launch;
	if (tee_open(o.cfg.tee, &tc, &o.tee, err, sizeof(err)) < 0)
		fail("tee", "E_TEE", err);
	o.wait_ms += mono_ms() - t;
	status_emit("tee", true, NULL, NULL, extra_str("tee", o.tee->name));
	measure("agent-version", AGENT_VERSION, strlen(AGENT_VERSION));
	measure("agent-config", o.cfg.digest, sizeof(o.cfg.digest));
}

/* The order's launch binding, where the platform has one: our own evidence must carry its digest. */
static void check_binding(void)
{
	const struct platform *pl = platform_by_kbs_tee(o.tee->kbs_tee);
	struct kbs_evidence e = { 0 };
	cJSON *primary = NULL;
	uint8_t rd[64] = { 0 }, got[48];
	char err[320];
	size_t n = 0;
	int64_t t = mono_ms();
	int r;

	if (!pl || !pl->launch_binding)
		return; /* the order event, measured first, binds it (docs/order.md §4) */
	r = o.tee->evidence(o.tee, rd, &primary, err, sizeof(err));
	o.wait_ms += mono_ms() - t;
	if (r == 0) {
		e.platform = pl->id;
		r = kbs_evidence_parse(pl->id, primary, &e, err, sizeof(err));
	}
	if (r == 0)
		r = evidence_launch_binding(&e, got, &n);
	cJSON_Delete(primary);
	kbs_evidence_free(&e);
	if (r < 0)
		fail("order", "E_ORDER_BINDING", "the TEE's own report cannot be read");
	if (CRYPTO_memcmp(got, n == 48 ? o.order.sha384 : o.order.sha256, n))
		fail("order", "E_ORDER_BINDING",
		     n == 48 ? "MRCONFIGID is not the order's SHA-384: launched for another order"
			     : "HOST_DATA is not the order's SHA-256: launched for another order");
}

/*
 * The order: read from its disk, its digest measured before anything else
 * of it is used, then its signature and its launch binding checked.
 */
static void read_order(void)
{
	_cleanup_free_ char *text = NULL;
	uint8_t sha[32];
	char err[320], cb[48], hex[65];
	size_t len;
	int64_t t = mono_ms();
	int r;

	if (pid1_wait_path(o.cfg.order_dev, o.cfg.device_wait_ms) < 0 ||
	    pid1_wait_path(o.cfg.output_dev, o.cfg.device_wait_ms) < 0)
		fail("devices", "E_DEVICE", "the order or output disk did not appear");
	/* the disk's time, as for the inputs' headers: two reads of a few KiB */
	r = order_disk_read(o.cfg.order_dev, &text, &len, err, sizeof(err));
	o.wait_ms += mono_ms() - t;
	if (r < 0)
		fail("order", "E_ORDER_DISK", err);
	if (order_parse(text, len, NULL, &o.order, err, sizeof(err)) < 0) {
		/* what the host handed over is measured even when it is refused */
		if (EVP_Digest(text, len, sha, NULL, EVP_sha256(), NULL) == 1)
			measure("order", sha, 32);
		fail("order", code_of(err, "E_ORDER", cb, sizeof(cb)), err);
	}
	measure("order", o.order.sha256, 32);
	check_binding();
	{
		cJSON *e = extra_str("order_id", o.order.id);

		hex_encode(o.order.sha256, 32, hex);
		cJSON_AddStringToObject(e, "sha256", hex);
		cJSON_AddNumberToObject(e, "inputs", (double)o.order.ninputs);
		status_emit("order", true, NULL, NULL, e);
	}
}

/* Every input's LUKS2 header: validated, the order's, measured; before any key is asked for. */
static void open_inputs(void)
{
	char err[320], cb[48], dev[64], why[400];

	for (size_t i = 0; i < o.order.ninputs; i++) {
		const struct order_input *in = &o.order.inputs[i];
		struct luks2_allow allow;
		int64_t t = mono_ms();

		if (agent_input_dev(&o.cfg, i, dev, sizeof(dev)) < 0 ||
		    pid1_wait_path(dev, o.cfg.device_wait_ms) < 0) {
			snprintf(why, sizeof(why), "input %s: its disk did not appear", in->name);
			fail("inputs", "E_DEVICE", why);
		}
		o.wait_ms += mono_ms() - t;
		luks2_allow_defaults(&allow);
		if (volume_open(dev, &allow, &o.in[i].vol, err, sizeof(err)) < 0) {
			snprintf(why, sizeof(why), "input %s: %s", in->name, err);
			fail("inputs", code_of(err, "E_LUKS", cb, sizeof(cb)), why);
		}
		o.in[i].open = true;
		o.wait_ms += (uint64_t)o.in[i].vol.read_ms; /* the disk's time */
		measure("luks-header", o.in[i].vol.hdr.sha256, 32);
		if (CRYPTO_memcmp(o.in[i].vol.hdr.sha256, in->luks_header_sha256, 32)) {
			snprintf(why, sizeof(why),
				 "input %s: its LUKS header is not the one the order names",
				 in->name);
			fail("inputs", "E_INPUT_HEADER", why);
		}
	}
	status_emit("inputs", true, NULL, NULL, extra_ms("inputs", o.order.ninputs));
}

static void result_key(void)
{
	char err[256];

	if (result_key_generate(&o.sign, err, sizeof(err)) < 0)
		fail("result-key", "E_RESULT_KEY", err);
	measure("result-key", o.sign.pub, sizeof(o.sign.pub));
}

/*
 * Opens input i with the released resource (freed here). The key is wiped
 * on every way out, so that it is gone before a failure is reported and the
 * guest powers off. NULL when the input is mounted, else the failure's
 * code, with what to say of it in *detail (NULL: nothing).
 */
static const char *unlock_input(size_t i, uint8_t *secret, size_t n, const char **detail, char *err,
				size_t errlen, char *cb, size_t cblen)
{
	const struct order_input *in = &o.order.inputs[i];
	struct volume_key k;
	CLEANUP_ERASE(k);
	int64_t t;
	int r = volume_key_parse((const char *)secret, n, &k, err, errlen);

	secret_free(secret, n);
	*detail = NULL;
	if (r < 0)
		return "E_KEY_FORMAT";
	*detail = "the released key is for another volume";
	if (CRYPTO_memcmp(k.header_sha256, in->luks_header_sha256, 32))
		return "E_LUKS_HEADER_MISMATCH";
	mkdir(INPUTS_DIR, 0755);
	mkdir(in->mount, 0755);
	memcpy(o.in[i].dm_name, "cvm-input-", 10);
	memcpy(o.in[i].dm_name + 10, in->name, strlen(in->name) + 1); /* at most 32 + 1 */
	t = mono_ms();
	r = volume_activate(&o.in[i].vol, &k, o.in[i].dm_name, in->mount, err, errlen);
	o.wait_ms += mono_ms() - t;
	o.in[i].active = r == 0;
	*detail = err;
	return r < 0 ? code_of(err, "E_UNLOCK", cb, cblen) : NULL;
}

/*
 * Waits for the background module loader, if it still runs: before the
 * first volume is set up, and before the job. Its failure is reported and
 * the order goes on, as at boot: a missing driver shows up as a failed unlock.
 */
static void modules_ready(void)
{
	char err[256];
	int64_t t = mono_ms();
	int failed;

	if (!o.modules.running)
		return;
	failed = pid1_modules_wait(&o.modules, err, sizeof(err));
	o.wait_ms += mono_ms() - t;
	if (failed)
		status_emit("modules", false, "E_MODULES", err,
			    extra_ms("modules_failed", (uint64_t)failed));
}

/* Input i's key from its own broker, with fresh evidence and the order; then its unlock. */
static void key_and_unlock(size_t i)
{
	const struct order_input *in = &o.order.inputs[i];
	char addr[16], connect_to[320], sig[129], err[512], why[700], cb[48];
	struct kbs_options ko = {
		.url = in->broker.url,
		.ca_pem = in->broker.ca,
		.spki_sha256 = in->broker.has_spki ? in->broker.spki_sha256 : NULL,
		.connect_timeout_ms = o.cfg.connect_timeout_ms,
		.total_timeout_ms = o.cfg.timeout_ms,
		.retries = o.cfg.retries,
		.backoff_ms = o.cfg.backoff_ms,
		.init_data_body = o.order.signed_form,
		.init_data_signature = sig,
	};
	uint8_t *secret = NULL;
	size_t n = 0;
	const char *code, *detail;
	int64_t t = mono_ms();
	int r;

	hex_encode(o.order.signature, 64, sig);
	/* the host forwards base + k to the broker: TLS still checks the URL's host name */
	if (o.cfg.network && agent_broker_address(&o.cfg, in->broker.forward, addr) == 0) {
		snprintf(connect_to, sizeof(connect_to), "%s:%u:%s:%u", in->broker.host,
			 in->broker.port, addr, in->broker.port);
		ko.connect_to = connect_to;
	}
	r = kbs_get_resource(&ko, o.tee, in->broker.resource, &secret, &n, err, sizeof(err));
	o.wait_ms += mono_ms() - t;
	if (r < 0) {
		snprintf(why, sizeof(why), "input %s at %s: %s", in->name, in->broker.url, err);
		fail("key", "E_KEY_RELEASE", why);
	}
	{
		cJSON *e = extra_str("input", in->name);

		cJSON_AddNumberToObject(e, "wait_ms", (double)(mono_ms() - t));
		status_emit("key", true, NULL, NULL, e);
	}
	modules_ready();
	code = unlock_input(i, secret, n, &detail, err, sizeof(err), cb, sizeof(cb));
	if (code) {
		snprintf(why, sizeof(why), "input %s: %s", in->name, detail ? detail : code);
		fail("unlock", code, why);
	}
	volume_close(&o.in[i].vol);
	o.in[i].open = false;
	status_emit("unlock", true, NULL, NULL, extra_str("input", in->name));
}

/* Workload bytes never go into a status line: only codes from here on. */
static void manifest(void)
{
	_cleanup_free_ uint8_t *text = NULL;
	char path[ORDER_MOUNT_MAX + sizeof(JOB_MANIFEST) + 2], err[256];
	size_t len;
	int64_t t = mono_ms();
	int r;

	snprintf(path, sizeof(path), "%s/" JOB_MANIFEST, o.order.inputs[o.order.solution].mount);
	/* read through dm-verity and dm-crypt from the disk: the kernel's time */
	r = file_read(path, 256 * 1024, &text, &len);
	o.wait_ms += mono_ms() - t;
	if (r < 0)
		fail("manifest", "E_MANIFEST", "the solution's cvm-job.json missing or too large");
	if (EVP_Digest(text, len, o.manifest_sha256, NULL, EVP_sha256(), NULL) != 1)
		fail("manifest", "E_MANIFEST", NULL);
	measure("job-manifest", o.manifest_sha256, 32);
	/* the refusal names the member, never its value (job_manifest_parse) */
	if (job_manifest_parse((const char *)text, len, &o.job, err, sizeof(err)) < 0)
		fail("manifest", "E_MANIFEST",
		     strncmp(err, "E_MANIFEST: ", 12) ? "cvm-job.json is not a valid job manifest"
						      : err + 12);
	o.job_parsed = true;
	if (o.job.has_recipient && memcmp(o.job.recipient, o.order.customer_pub, 33))
		fail("manifest", "E_MANIFEST",
		     "result_recipient is not the order's customer key, to which results go");
	status_emit("manifest", true, NULL, NULL, NULL);
}

/* The result staging area: a tmpfs as large as the output may be. */
static void stage(char *outdir, size_t cap)
{
	char opts[64];
	uint64_t size = o.cfg.output_cap;

	if (o.job.limits.output_bytes && o.job.limits.output_bytes < size)
		size = o.job.limits.output_bytes;
	o.stage_size = size;
	snprintf(opts, sizeof(opts), "mode=0711,size=%llu", (unsigned long long)size);
	mkdir(RESULT_DIR, 0700);
	if (mount("tmpfs", RESULT_DIR, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		fail("job", "E_JOB_SETUP", "cannot mount the result area");
	snprintf(outdir, cap, RESULT_DIR "/output");
	if (mkdir(outdir, 0700) < 0 || mkdir(RESULT_DIR "/log", 0700) < 0)
		fail("job", "E_JOB_SETUP", "cannot create the result area");
	/* the job's view of its output: a link in the initramfs root, when it asks for one */
	if (!o.job.rootfs && o.job.output_dir[0] && symlink(outdir, o.job.output_dir) < 0)
		fail("job", "E_JOB_SETUP", "cannot create the output directory link");
}

/*
 * A service's tunnel, before its job starts (docs/tunnel.md): the key and
 * certificate made and measured, then the terminator listening on the
 * guest's network.
 */
static struct agent_service svc;

static void service_start(void)
{
	uint64_t life = o.job.deadline_seconds;
	char err[320], hex[65];
	cJSON *e;

	if (!o.cfg.network)
		fail("tunnel", "E_TUNNEL", "a service needs the guest's network (agent.json)");
	if ((uint64_t)o.cfg.deadline_cap_s < life)
		life = (uint64_t)o.cfg.deadline_cap_s;
	if (o.job.service.max_seconds && o.job.service.max_seconds < life)
		life = o.job.service.max_seconds;
	if (agent_service_cert(&svc, o.tee, (uint32_t)life, err, sizeof(err)) < 0)
		fail("tunnel", "E_TUNNEL", err);
	measure("tunnel-key", svc.key_sha256, 32);
	measure("tunnel-cert", svc.cert_sha256, 32);
	if (agent_service_listen(&svc, o.tee, TUNNEL_GUEST_PORT, &o.job.service,
				 o.order.customer_pub, o.order.sha256, err, sizeof(err)) < 0)
		fail("tunnel", "E_TUNNEL", err);
	e = extra_ms("port", TUNNEL_GUEST_PORT);
	hex_encode(svc.key_sha256, 32, hex);
	cJSON_AddStringToObject(e, "key_sha256", hex);
	hex_encode(svc.cert_sha256, 32, hex);
	cJSON_AddStringToObject(e, "cert_sha256", hex);
	cJSON_AddNumberToObject(e, "seconds", (double)life);
	status_emit("tunnel", true, NULL, NULL, e);
}

static void run_job(struct job_status *st)
{
	char err[256], outdir[128];
	struct job_input in[ORDER_INPUTS_MAX];
	size_t n = 0;
	int r;

	stage(outdir, sizeof(outdir));
	/* a rootfs job sees the data inputs at /inputs/NAME of its own root */
	for (size_t i = 0; i < o.order.ninputs; i++)
		if (i != o.order.solution)
			in[n++] = (struct job_input){ o.order.inputs[i].mount +
							      strlen(INPUTS_DIR "/"),
						      o.order.inputs[i].mount };
	if (o.job.has_service)
		service_start();
	status_emit("job", true, NULL, NULL, extra_str("state", "started"));
	/* why a program did not start names no value of the manifest (job_run_inputs) */
	r = job_run_inputs(&o.job, o.order.inputs[o.order.solution].mount, outdir, in, n,
			   RESULT_DIR "/log", o.cfg.deadline_cap_s, st, err, sizeof(err));
	if (o.job.has_service) {
		cJSON *e = extra_ms("connections", atomic_load(&svc.srv.served));

		cJSON_AddNumberToObject(e, "refused", (double)atomic_load(&svc.srv.refused));
		cJSON_AddNumberToObject(e, "idle", (double)atomic_load(&svc.srv.idle));
		cJSON_AddBoolToObject(e, "stopped", st->stopped);
		agent_service_stop(&svc);
		status_emit("tunnel", true, NULL, NULL, e);
	}
	if (r < 0)
		fail("job", "E_JOB_START", strncmp(err, "E_JOB_START: ", 13) ? NULL : err + 13);
	{
		cJSON *e = cJSON_CreateObject();
		/* a service's deadline or its customer's stop is its end, not a failure */
		bool late = st->timed_out && !o.job.has_service;

		cJSON_AddNumberToObject(e, "exit_code", st->exit_code);
		cJSON_AddNumberToObject(e, "signal", st->signal);
		cJSON_AddBoolToObject(e, "timed_out", st->timed_out);
		if (o.job.has_service)
			cJSON_AddBoolToObject(e, "stopped", st->stopped);
		cJSON_AddNumberToObject(e, "runtime_ms", (double)st->runtime_ms);
		status_emit("job", !late, late ? "E_JOB_DEADLINE" : NULL, NULL, e);
	}
}

static int evidence_cb(void *ctx, const uint8_t report_data[64], cJSON **out, char *err,
		       size_t errlen)
{
	struct tee *t = ctx;
	cJSON *primary = NULL, *e;
	int r = t->evidence(t, report_data, &primary, err, errlen);

	if (r < 0)
		return r;
	e = cJSON_CreateObject();
	if (!e || !cJSON_AddStringToObject(e, "tee", t->kbs_tee) ||
	    !cJSON_AddItemToObject(e, "primary", primary)) {
		cJSON_Delete(e);
		cJSON_Delete(primary);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

/* Output cut short by a full result area is incomplete too, even if the job exited 0. */
static bool stage_full(void)
{
	struct statvfs v;

	return statvfs(RESULT_DIR, &v) == 0 && v.f_bavail == 0;
}

static void seal(const struct job_status *st)
{
	struct result_input inputs[ORDER_INPUTS_MAX];
	struct result_meta m = {
		.order_id = o.order.id,
		.order_sha256 = o.order.sha256,
		.job_manifest_sha256 = o.manifest_sha256,
		.inputs = inputs,
		.ninputs = o.order.ninputs,
		.exit_code = st->exit_code,
		.signal = st->signal,
		.timed_out = st->timed_out,
		/* a service ends at its deadline or stop: whole, not cut short */
		.partial = (st->timed_out && !o.job.has_service) || stage_full(),
	};
	_cleanup_free_ uint8_t *log = NULL;
	size_t loglen = 0;
	uint64_t bytes = 0;
	/* a full result area plus the tar's own headers and padding */
	const uint64_t tar_cap = o.stage_size + o.stage_size / 8 + (1u << 20);
	char err[256], cb[48];

	for (size_t i = 0; i < o.order.ninputs; i++) {
		snprintf(inputs[i].name, sizeof(inputs[i].name), "%s", o.order.inputs[i].name);
		memcpy(inputs[i].luks_header_sha256, o.order.inputs[i].luks_header_sha256, 32);
	}
	if (file_read(RUNTIME_LOG, CVM_CAP_JSON, &log, &loglen) < 0)
		fail("result", "E_RESULT", "the runtime log is unreadable");
	if (result_write(o.cfg.output_dev, RESULT_DIR, o.order.customer_pub, &o.sign, &m,
			 evidence_cb, o.tee, (const char *)log, tar_cap, &bytes, err,
			 sizeof(err)) < 0)
		fail("result", code_of(err, "E_RESULT", cb, sizeof(cb)), NULL);
	status_emit("result", true, NULL, NULL, extra_ms("bytes", bytes));
}

/*
 * The kernel hands every k=v word of its command line that it does not
 * know to PID 1 as environment, and the command line is the host's:
 * https_proxy, SSLKEYLOGFILE (libcurl would log the TLS secrets there),
 * OPENSSL_CONF, CURL_CA_BUNDLE, LD_PRELOAD, GLIBC_TUNABLES. Nothing of it
 * is kept: clearenv() before anything reads it (so SSLKEYLOGFILE never
 * reaches libcurl, nor OPENSSL_CONF OpenSSL), and PID 1 executes itself
 * once more with an empty environment, so that the dynamic loader, which
 * ran before main(), runs again without LD_* or GLIBC_TUNABLES. Only the
 * two words the kernel itself gives init, HOME=/ and TERM=linux, which the
 * loader does not read, spare that second start (0.1 s under TCG). The job
 * gets an environment built from its manifest alone (agent/job.c).
 */
static bool environment_kernel_only(char **env)
{
	for (; env && *env; env++)
		if (strcmp(*env, "HOME=/") && strcmp(*env, "TERM=linux"))
			return false;
	return true;
}

/* The word PID 1 runs itself again with, so that its boot line can say so. */
#define ENV_DROPPED "environment-dropped"

static void environment_drop(void)
{
	extern char **environ;
	const bool inherited = !environment_kernel_only(environ);
	char *const argv[] = { "/init", ENV_DROPPED, NULL }, *const envp[] = { NULL };

	clearenv();
	if (inherited && getpid() == 1)
		execve("/init", argv, envp); /* on failure, go on: the environment is empty */
}

static void harden(void)
{
	char err[256];

	/* a failure here is reported once the status channel is open (boot) */
	if (pid1_fatal_signals() < 0 || harden_no_dump(err, sizeof(err)) < 0) {
		if (getpid() == 1 && pid1_mount_all(err, sizeof(err)) == 0) {
			status_open(NULL, "console");
			fail("boot", "E_HARDEN", "no core dumps or fatal-signal handling");
		}
		pid1_power_off();
	}
}

int main(int argc, char **argv)
{
	struct job_status st = { 0 };

	o.t0 = mono_ms();
	status_own_clock(own_ms);
	/* told by the run before this one (the report only: the environment decides) */
	o.env_dropped = argc == 2 && !strcmp(argv[1], ENV_DROPPED);
	environment_drop();
	/*
	 * No openssl.cnf, whatever a file in the image says, and no error
	 * strings: the agent reports codes of its own, and loading the tables
	 * costs 1M instructions at OpenSSL's first use.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
			    NULL);
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS, NULL);
	harden();
	boot();
	network();
	open_tee();
	read_order();
	result_key();
	open_inputs();
	for (size_t i = 0; i < o.order.ninputs; i++)
		key_and_unlock(i);
	modules_ready();
	manifest();
	{
		/* agent_ms and wait_ms at the exec: the agent's share of the start */
		cJSON *e = extra_ms("agent_ms", own_ms());

		cJSON_AddNumberToObject(e, "wait_ms", (double)o.wait_ms);
		status_own_clock(NULL);
		status_emit("exec", true, NULL, NULL, e);
	}
	run_job(&st);
	seal(&st);
	job_manifest_free(&o.job);
	result_key_wipe(&o.sign);
	tee_close(o.tee);
	{
		cJSON *e = extra_ms("agent_total_ms", (uint64_t)(mono_ms() - o.t0));

		cJSON_AddNumberToObject(e, "peak_rss_kb", (double)pid1_peak_rss_kb());
		status_emit("poweroff", true, NULL, NULL, e);
	}
	status_close();
	pid1_power_off();
}
