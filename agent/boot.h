/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent's own duties as PID 1: the file systems and modules it needs,
 * devices and the RNG it waits for with a deadline, its configuration
 * (kernel command line and the measured /etc/cvm/agent.json), and the
 * status lines it reports to the host.
 */
#ifndef CVM_AGENT_BOOT_H
#define CVM_AGENT_BOOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_CONFIG_PATH "/etc/cvm/agent.json"
#define AGENT_STATUS_PORT "org.cvm.status"
/* The modules loaded at boot, then in the background (initrd/initrd.h writes them) */
#define AGENT_MODULES "/etc/cvm/modules"
#define AGENT_MODULES_BACKGROUND "/etc/cvm/modules.background"

/* ---- PID 1 duties (pid1.c) ---- */

/* proc, sysfs, devtmpfs, /run; securityfs and configfs where the kernel has them. */
int pid1_mount_all(char *err, size_t errlen);
/* Loads each module of the load-order file, in order; counts those that failed. */
int pid1_load_modules(const char *order_file, char *err, size_t errlen);
/* The background module loader: a thread of the lowest priority (SCHED_IDLE). */
struct pid1_modules {
	pthread_t thread;
	const char *order_file;
	char err[256]; /* its first failure */
	int failed;
	bool running;
};
/*
 * Starts loading the modules of order_file in m's thread, so that the
 * kernel's time goes where the agent waits. 1 when it started, 0 when
 * there is no such file, -errno when it cannot start.
 */
int pid1_load_modules_background(const char *order_file, struct pid1_modules *m);
/* Waits for that thread: the number of modules that failed, its first error in err. */
int pid1_modules_wait(struct pid1_modules *m, char *err, size_t errlen);
/* Waits until path exists, up to ms milliseconds: -ETIMEDOUT when it does not. */
int pid1_wait_path(const char *path, long ms);
/* Waits until the kernel's RNG is initialised, up to ms milliseconds. */
int pid1_wait_rng(long ms);
/* The peak resident set of this process (VmHWM), in KiB; -1 when unknown. */
long pid1_peak_rss_kb(void);
/* Reaps every exited child. */
void pid1_reap(void);
/*
 * Fatal signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP)
 * end in reboot(RB_POWER_OFF) when this process is PID 1, on a stack of
 * their own; elsewhere they take their default action. 0 or -errno.
 */
int pid1_fatal_signals(void);
/* Writes value to a sysctl file and checks that it reads back so: "E_HARDEN: ..." otherwise. */
int pid1_sysctl_write(const char *path, const char *value, char *err, size_t errlen);
/*
 * PID 1 only, before any secret exists: kernel.core_pattern "/dev/null",
 * fs.suid_dumpable 0, reboot(RB_DISABLE_CAD). "E_HARDEN: ..." on failure.
 */
int pid1_harden_kernel(char *err, size_t errlen);
/* sync, then power off; never returns. */
__attribute__((noreturn)) void pid1_power_off(void);

/* ---- configuration (config.c) ---- */

struct agent_config {
	char tee[16]; /* auto, tsm, tdx-guest, sev-guest, az, tpm, sim */
	/* the brokers' client: the order names the brokers themselves */
	long connect_timeout_ms, timeout_ms, backoff_ms;
	unsigned retries;
	/* network: only when configured */
	bool network;
	char ifname[16], address[64], gateway[64];
	char broker_base[16]; /* the order's k-th broker is reached at this IPv4 address + k */
	/* devices, as /dev paths: the order disk, the output disk, the first input's disk */
	char order_dev[64], output_dev[64], inputs_dev[64], tpm_dev[64];
	long device_wait_ms;
	/* limits on what the workload may ask for */
	long deadline_cap_s;
	uint64_t output_cap;
	/* status port name, or "console" */
	char status_port[64];
	int log_level; /* 0 errors, 1 info, 2 debug */
	/* sim backend (test builds only) */
	char sim_pki[256], sim_platform[8], sim_measurement[97], sim_launch[256];
	uint8_t digest[32]; /* SHA-256 of agent.json as read: measured as "agent-config" */
};

/*
 * Reads agent.json (strict: unknown members refused) and then the kernel
 * command line's cvm.* keys, which only choose among what the measured file
 * allows: device names, status port, log level, and the TEE when the file
 * says "auto". Errors are one line. The file holds platform choices only:
 * the brokers, their TLS trust and the resources come from the signed order.
 */
int agent_config_load(const char *path, const char *cmdline, struct agent_config *c, char *err,
		      size_t errlen);
/* The same for a JSON text already in memory (tests, fuzzing). */
int agent_config_parse(const char *text, size_t len, const char *cmdline, struct agent_config *c,
		       char *err, size_t errlen);
/*
 * The device of input i: inputs_dev with its last letter advanced by i
 * ("/dev/vdc" + 2 = "/dev/vde"); -ERANGE past 'z'.
 */
int agent_input_dev(const struct agent_config *c, size_t i, char *out, size_t cap);
/* The address of the order's k-th broker: broker_base + k; -ERANGE past .254. */
int agent_broker_address(const struct agent_config *c, unsigned k, char out[16]);

/* ---- status lines (status.c) ---- */

/*
 * Opens the virtio-serial port named name (found through
 * /sys/class/virtio-ports, no udev), or the console when name is "console"
 * or the port is absent (then it returns false). sysroot prefixes every
 * path (tests); NULL is "/".
 */
bool status_open(const char *sysroot, const char *name);
/*
 * Writes one line {"t": ms, "phase": phase, "ok": ok[, "code": code]
 * [, "detail": detail][, members of extra]}, and takes extra (may be NULL).
 * detail must carry no secret and no byte of the workload: callers pass it
 * only for what the host supplied or could see anyway.
 */
struct cJSON;
void status_emit(const char *phase, bool ok, const char *code, const char *detail,
		 struct cJSON *extra);
/*
 * From now on every line also carries "agent_ms": own(), the agent's own
 * time so far (docs/agent.md), unless extra has it already. NULL: none.
 */
void status_own_clock(uint64_t (*own)(void));
void status_close(void);

#endif
