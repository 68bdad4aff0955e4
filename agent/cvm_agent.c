/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent: /init of the measured initrd. Takes one order from boot to
 * power-off (DESIGN §4, step 4): measure, attest, get the volume key,
 * unlock, run the job, seal and sign the result, write it to the output
 * disk, report, power off. Every path, success or failure, ends in a
 * status line and a power-off; nothing secret leaves the guest.
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

#include "agent/agent.h"
#include "agent/boot.h"
#include "agent/job.h"
#include "agent/net.h"
#include "agent/result.h"
#include "lib/lib.h"

#define AGENT_VERSION "cvm-agent 0.1"
#define RUN_DIR "/run/cvm"
#define WORKLOAD_DIR RUN_DIR "/workload"
#define RESULT_DIR RUN_DIR "/result"
#define RUNTIME_LOG RUN_DIR "/runtime-log.json"
#define JOB_MANIFEST "cvm-job.json"

struct order {
	struct agent_config cfg;
	struct tee *tee;
	struct volume vol;
	bool vol_open;
	struct result_key sign; /* the result-signing key, made at boot */
	char order_id[RESULT_ORDER_ID_MAX + 1];
	uint8_t header_sha256[32]; /* of the workload volume's LUKS2 header, as measured */
	uint8_t manifest_sha256[32];
	uint64_t stage_size; /* the result area's size */
	struct job_manifest job;
	bool job_parsed;
	uint64_t wait_ms; /* time spent waiting on the TEE, the broker and the kernel */
};

static struct order o;

/* Reports the failure and powers off: the one exit of every failed phase. */
__attribute__((noreturn)) static void fail(const char *phase, const char *code, const char *detail)
{
	status_emit(phase, false, code, detail, NULL);
	if (o.vol_open)
		volume_close(&o.vol);
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
	failed = pid1_load_modules("/etc/cvm/modules", err, sizeof(err));
	o.wait_ms += mono_ms() - t;
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, cmdline, sizeof(cmdline) - 1) : -1;
	if (fd >= 0)
		close(fd);
	cmdline[n > 0 ? n : 0] = 0;
	if (agent_config_load(AGENT_CONFIG_PATH, cmdline, &o.cfg, err, sizeof(err)) < 0)
		fail("config", "E_CONFIG", err);
	/* the port appears once virtio_console has probed it; without one, the console */
	for (int64_t end = mono_ms() + 3000;
	     !status_open(NULL, o.cfg.status_port) && mono_ms() < end;)
		usleep(20000);
	{
		cJSON *e = extra_str("agent", AGENT_VERSION);

		cJSON_AddNumberToObject(e, "modules_failed", failed);
		status_emit("boot", failed == 0, failed ? "E_MODULES" : NULL, failed ? err : NULL,
			    e);
	}
	t = mono_ms();
	r = pid1_wait_rng(30000);
	o.wait_ms += mono_ms() - t;
	if (r < 0)
		fail("boot", "E_RNG", "the kernel's RNG did not initialise");
}

static void network(void)
{
	char err[256];

	if (!o.cfg.network)
		return;
	if (net_configure(o.cfg.ifname, o.cfg.address, o.cfg.gateway[0] ? o.cfg.gateway : NULL,
			  5000, err, sizeof(err)) < 0)
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

static void order_and_volume(void)
{
	struct luks2_allow allow;
	char err[256], cb[48];
	int64_t t = mono_ms();

	if (pid1_wait_path(o.cfg.workload_dev, o.cfg.device_wait_ms) < 0 ||
	    pid1_wait_path(o.cfg.output_dev, o.cfg.device_wait_ms) < 0)
		fail("devices", "E_DEVICE", "the workload or output disk did not appear");
	o.wait_ms += mono_ms() - t;
	if (result_order_read(o.cfg.output_dev, o.order_id, sizeof(o.order_id), err, sizeof(err)) <
	    0)
		fail("order", code_of(err, "E_ORDER", cb, sizeof(cb)), err);
	measure("order-id", o.order_id, strlen(o.order_id));
	status_emit("order", true, NULL, NULL, extra_str("order_id", o.order_id));

	luks2_allow_defaults(&allow);
	if (volume_open(o.cfg.workload_dev, &allow, &o.vol, err, sizeof(err)) < 0)
		fail("volume", code_of(err, "E_LUKS", cb, sizeof(cb)), err);
	o.vol_open = true;
	memcpy(o.header_sha256, o.vol.hdr.sha256, 32);
	measure("luks-header", o.header_sha256, 32);
	{
		char hex[65];

		hex_encode(o.header_sha256, 32, hex);
		status_emit("volume", true, NULL, NULL, extra_str("luks_header_sha256", hex));
	}
}

static void result_key(void)
{
	char err[256];

	if (result_key_generate(&o.sign, err, sizeof(err)) < 0)
		fail("result-key", "E_RESULT_KEY", err);
	measure("result-key", o.sign.pub, sizeof(o.sign.pub));
}

/*
 * Opens the workload volume with the released resource (freed here). The
 * key is wiped on every way out, so that it is gone before a failure is
 * reported and the guest powers off. NULL when the volume is open, else the
 * failure's code, with what to say of it in *detail (NULL: nothing).
 */
static const char *unlock_volume(uint8_t *secret, size_t n, const char **detail, char *err,
				 size_t errlen, char *cb, size_t cblen)
{
	struct volume_key k;
	CLEANUP_ERASE(k);
	int64_t t;
	int r = volume_key_parse((const char *)secret, n, &k, err, errlen);

	secret_free(secret, n);
	*detail = NULL;
	if (r < 0)
		return "E_KEY_FORMAT";
	*detail = "the released key is for another workload volume";
	if (CRYPTO_memcmp(k.header_sha256, o.header_sha256, 32))
		return "E_LUKS_HEADER_MISMATCH";
	mkdir(WORKLOAD_DIR, 0755);
	t = mono_ms();
	r = volume_activate(&o.vol, &k, "cvm-workload", WORKLOAD_DIR, err, errlen);
	o.wait_ms += mono_ms() - t;
	*detail = err;
	return r < 0 ? code_of(err, "E_UNLOCK", cb, cblen) : NULL;
}

static void key_and_unlock(void)
{
	struct kbs_options ko = {
		.url = o.cfg.broker_url,
		.cacert = o.cfg.broker_cacert,
		.connect_timeout_ms = o.cfg.connect_timeout_ms,
		.total_timeout_ms = o.cfg.timeout_ms,
		.retries = o.cfg.retries,
		.backoff_ms = o.cfg.backoff_ms,
	};
	uint8_t *secret = NULL;
	size_t n = 0;
	char err[512], cb[48];
	const char *code, *detail;
	int64_t t = mono_ms();
	int r = kbs_get_resource(&ko, o.tee, o.cfg.resource, &secret, &n, err, sizeof(err));

	o.wait_ms += mono_ms() - t;
	if (r < 0)
		fail("key", "E_KEY_RELEASE", err);
	status_emit("key", true, NULL, NULL, extra_ms("wait_ms", mono_ms() - t));
	code = unlock_volume(secret, n, &detail, err, sizeof(err), cb, sizeof(cb));
	if (code)
		fail("unlock", code, detail);
	volume_close(&o.vol);
	o.vol_open = false;
	status_emit("unlock", true, NULL, NULL, NULL);
}

/* Workload bytes never go into a status line: only codes from here on. */
static void manifest(void)
{
	_cleanup_free_ uint8_t *text = NULL;
	size_t len;
	char err[256];

	if (file_read(WORKLOAD_DIR "/" JOB_MANIFEST, 256 * 1024, &text, &len) < 0)
		fail("manifest", "E_MANIFEST", "cvm-job.json missing or too large");
	if (EVP_Digest(text, len, o.manifest_sha256, NULL, EVP_sha256(), NULL) != 1)
		fail("manifest", "E_MANIFEST", NULL);
	measure("job-manifest", o.manifest_sha256, 32);
	if (job_manifest_parse((const char *)text, len, &o.job, err, sizeof(err)) < 0)
		fail("manifest", "E_MANIFEST", "cvm-job.json is not a valid job manifest");
	o.job_parsed = true;
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
	if (o.job.output_dir[0] && symlink(outdir, o.job.output_dir) < 0)
		fail("job", "E_JOB_SETUP", "cannot create the output directory link");
}

static void run_job(struct job_status *st)
{
	char err[256], outdir[128];

	stage(outdir, sizeof(outdir));
	status_emit("job", true, NULL, NULL, extra_str("state", "started"));
	if (job_run(&o.job, WORKLOAD_DIR, outdir, RESULT_DIR "/log", o.cfg.deadline_cap_s, st, err,
		    sizeof(err)) < 0)
		fail("job", "E_JOB_START", NULL);
	{
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "exit_code", st->exit_code);
		cJSON_AddNumberToObject(e, "signal", st->signal);
		cJSON_AddBoolToObject(e, "timed_out", st->timed_out);
		cJSON_AddNumberToObject(e, "runtime_ms", (double)st->runtime_ms);
		status_emit("job", !st->timed_out, st->timed_out ? "E_JOB_DEADLINE" : NULL, NULL,
			    e);
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
	struct result_meta m = {
		.order_id = o.order_id,
		.job_manifest_sha256 = o.manifest_sha256,
		.workload_header_sha256 = o.header_sha256,
		.exit_code = st->exit_code,
		.signal = st->signal,
		.timed_out = st->timed_out,
		.partial = st->timed_out || stage_full(),
	};
	_cleanup_free_ uint8_t *log = NULL;
	size_t loglen = 0;
	uint64_t bytes = 0;
	/* a full result area plus the tar's own headers and padding */
	const uint64_t tar_cap = o.stage_size + o.stage_size / 8 + (1u << 20);
	char err[256], cb[48];

	if (file_read(RUNTIME_LOG, CVM_CAP_JSON, &log, &loglen) < 0)
		fail("result", "E_RESULT", "the runtime log is unreadable");
	if (result_write(o.cfg.output_dev, RESULT_DIR, o.job.recipient, &o.sign, &m, evidence_cb,
			 o.tee, (const char *)log, tar_cap, &bytes, err, sizeof(err)) < 0)
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
 * ran before main(), runs again without LD_* or GLIBC_TUNABLES. The job
 * gets an environment built from its manifest alone (agent/job.c).
 */
static void environment_drop(void)
{
	extern char **environ;
	const bool inherited = environ && environ[0];
	char *const argv[] = { "/init", NULL }, *const envp[] = { NULL };

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

int main(void)
{
	const int64_t t0 = mono_ms();
	struct job_status st = { 0 };

	environment_drop();
	harden();
	boot();
	network();
	open_tee();
	order_and_volume();
	result_key();
	key_and_unlock();
	manifest();
	{
		cJSON *e = extra_ms("agent_ms", mono_ms() - t0 - o.wait_ms);

		cJSON_AddNumberToObject(e, "wait_ms", (double)o.wait_ms);
		status_emit("exec", true, NULL, NULL, e);
	}
	run_job(&st);
	seal(&st);
	job_manifest_free(&o.job);
	result_key_wipe(&o.sign);
	tee_close(o.tee);
	{
		cJSON *e = extra_ms("agent_total_ms", mono_ms() - t0);

		cJSON_AddNumberToObject(e, "peak_rss_kb", (double)pid1_peak_rss_kb());
		status_emit("poweroff", true, NULL, NULL, e);
	}
	status_close();
	pid1_power_off();
}
