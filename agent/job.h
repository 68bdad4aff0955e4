/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The customer's job: its manifest (cvm-job.json at the workload's root,
 * docs/job.md) and the runner that executes it as an unprivileged user with
 * limits and a deadline, from PID 1 of the guest.
 */
#ifndef CVM_AGENT_JOB_H
#define CVM_AGENT_JOB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JOB_MAX_ARGS 64
#define JOB_MAX_ENV 64
#define JOB_MAX_STR 1024
/* the size of the job's /tmp when the manifest sets no limits.tmp_bytes */
#define JOB_DEFAULT_TMP (64ull << 20)

struct job_limits {
	uint64_t cpu_seconds;	  /* RLIMIT_CPU */
	uint64_t memory_bytes;	  /* memory.max of the job's cgroup (RLIMIT_AS when not PID 1) */
	uint64_t file_size_bytes; /* RLIMIT_FSIZE: also caps stdout and stderr */
	uint64_t processes;	  /* RLIMIT_NPROC, for the job's uid */
	uint64_t output_bytes;	  /* the size of the result area */
	uint64_t tmp_bytes;	  /* the size of the job's own /tmp (a tmpfs) */
};

/* The job's network: none (its own namespace, only lo) unless the manifest names "guest". */
enum job_network {
	JOB_NETWORK_NONE,
	JOB_NETWORK_GUEST,
};

/*
 * A service (docs/tunnel.md): the job listens on port in its own network
 * namespace, reached only through the agent's TLS terminator, until the
 * order's deadline (max_seconds when set and smaller) or the customer's
 * signed stop.
 */
struct job_service {
	uint64_t port;
	uint64_t max_seconds; /* 0: the job's deadline */
	/* a connection on which no byte moves this long is closed; 0: the default */
	uint64_t idle_seconds;
};
#define JOB_SERVICE_IDLE_DEFAULT 600

struct job_manifest {
	/*
	 * argv[0]: relative to the workload root; with rootfs, an absolute
	 * path in the solution's root or a bare name looked up in PATH
	 */
	char *argv[JOB_MAX_ARGS + 1];
	char *env[JOB_MAX_ENV + 1]; /* "NAME=value" */
	size_t argc, envc;
	char cwd[JOB_MAX_STR]; /* relative to the workload root ("/..." with rootfs) */
	char output_dir[64];   /* "/NAME": where the job is told its output is; "" for none */
	/*
	 * The solution volume is the job's whole root filesystem (a container
	 * image packed by cvm pack --oci): the job runs pivoted into it.
	 */
	bool rootfs;
	uid_t uid;
	gid_t gid;
	struct job_limits limits;
	uint64_t deadline_seconds;
	enum job_network network;
	/*
	 * result_recipient, optional: the results go to the order's customer
	 * key, which this must then name (cvm_agent.c checks it)
	 */
	uint8_t recipient[33];
	bool has_recipient;
	struct job_service service;
	bool has_service;
};

/*
 * Parses cvm-job.json strictly (docs/job.md): -EINVAL and "E_MANIFEST:
 * <member>: <why>" in err, naming the member, never its value. On failure
 * m holds nothing and job_manifest_free(m) is harmless.
 */
int job_manifest_parse(const char *text, size_t len, struct job_manifest *m, char *err,
		       size_t errlen);
void job_manifest_free(struct job_manifest *m);

struct job_status {
	int exit_code; /* when it exited; -1 otherwise */
	int signal;    /* the signal that ended it; 0 otherwise */
	bool timed_out;
	bool stopped; /* ended by *job_hooks.stop */
	uint64_t runtime_ms;
};

/*
 * For a service: started is told the job's first process once its program
 * runs (its network namespace then exists); a nonzero *stop ends the job as
 * its deadline would. Set before job_run, NULL for none.
 */
struct job_hooks {
	void (*started)(pid_t pid, void *arg);
	void *arg;
	volatile sig_atomic_t *stop;
};
void job_set_hooks(const struct job_hooks *h);

/* The memory limit when the manifest sets no memory_bytes: half the guest's memory, at least 16 MiB. */
uint64_t job_memory_default(void);

/*
 * Runs the job: argv[0] and cwd under workload_root, as uid/gid with no
 * supplementary groups, no new privileges, its limits (memory.max of a
 * cgroup of its own when PID 1, else RLIMIT_AS; job_memory_default() when
 * the manifest sets none), in namespaces of its
 * own (mount, IPC, UTS and, unless network is JOB_NETWORK_GUEST, network
 * with only lo, up): every mount read-only and nosuid but output_dir, a
 * tmpfs of limits.tmp_bytes on /tmp, a /dev of null, zero, full, random,
 * urandom and tty only; a clean environment
 * (the manifest's, plus CVM_WORKLOAD, CVM_OUTPUT, HOME, PATH), in a session
 * of its own; stdout and stderr into log_dir/stdout and log_dir/stderr;
 * output_dir made the job's. At min(deadline, deadline_cap_seconds) (a
 * cap <= 0 is none) on
 * CLOCK_MONOTONIC the whole process group and then every process of the
 * uid are killed; so are they when the job ends, so nothing of it outlives
 * it. Reaps every child while it waits (the caller is PID 1). Returns 0
 * once the job was started, whatever its end (in st); < 0 and "E_JOB_START:
 * ..." when it could not be started.
 */
int job_run(const struct job_manifest *m, const char *workload_root, const char *output_dir,
	    const char *log_dir, long deadline_cap_seconds, struct job_status *st, char *err,
	    size_t errlen);

/* A data input as the job sees it: /inputs/leaf, bind-mounted read-only from path. */
struct job_input {
	const char *leaf;
	const char *path;
};

/*
 * job_run, with the order's data inputs: a job with rootfs sees each at
 * /inputs/LEAF of its own root (a job without sees the guest's /inputs).
 * With rootfs the job runs in the solution's root (pivot_root), which must
 * hold the directories /proc, /dev, /tmp, /inputs and the output_dir
 * (cvm pack --oci makes them): a fresh /proc (hidepid=invisible), its /tmp,
 * the minimal /dev, the inputs, the output; nothing else of the guest.
 * E_JOB_START says why a program did not start: not found, not executable,
 * a missing interpreter or loader, a format the kernel cannot run.
 */
int job_run_inputs(const struct job_manifest *m, const char *workload_root, const char *output_dir,
		   const struct job_input *inputs, size_t ninputs, const char *log_dir,
		   long deadline_cap_seconds, struct job_status *st, char *err, size_t errlen);

/* The PATH of a rootfs job whose manifest sets none (the usual one of OCI runtimes). */
#define JOB_ROOTFS_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The data inputs a job sees at most (the order's limit). */
#define JOB_INPUTS_MAX 16

#endif
