/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tests' customer and provider for result bundles, until `cvm result`
 * and `cvm run` take their place (the logic is lib's; this is a front end):
 *   result_tool keygen KEY.pem
 *       makes a secp256k1 key (PKCS#8 PEM, 0600), prints its compressed public key
 *   result_tool init-disk DISK --size BYTES --order-id ID
 *       an empty output disk with the host's order block
 *   result_tool seal DISK --stage DIR --recipient HEX --tee TEE --evidence-cmd PROG
 *                    [--eventlog FILE] [--exit-code N] [--signal N] [--timed-out]
 *                    [--partial] [--max BYTES]
 *       what the agent does at the end of an order (agent/result.c), with a
 *       fresh signing key; PROG REPORT_DATA_HEX FILE must write the primary
 *       evidence binding REPORT_DATA to FILE
 *   result_tool open DISK|BUNDLE --key KEY.pem -o DIR
 *       checks the commit record (disks), the framing and the signature,
 *       writes the trailer's raw evidence to DIR.evidence and prints the
 *       report_data it must bind (for `cvm verify --report-data`), then
 *       decrypts and extracts the tar safely, streaming; prints the header
 *       and "complete" only when all of that held
 * Exit 0 done, 1 refused, 2 usage or local trouble.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/result.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

#define PROG "result_tool"

static int usage(void)
{
	fprintf(stderr, "usage: " PROG " keygen KEY.pem | init-disk DISK --size BYTES --order-id ID"
			" | seal DISK --stage DIR --recipient HEX --tee TEE --evidence-cmd PROG"
			" [options] | open DISK|BUNDLE --key KEY.pem -o DIR\n");
	return 2;
}

static int keygen(int argc, char **argv)
{
	struct result_key k;
	char err[256], hex[67];
	int r;

	if (argc != 3)
		return usage();
	if (result_key_generate(&k, err, sizeof(err)) < 0 ||
	    result_key_save(&k, argv[2], err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		result_key_wipe(&k);
		return 2;
	}
	result_key_pub_hex(&k, hex);
	r = printf("%s\n", hex) < 0 ? 2 : 0;
	result_key_wipe(&k);
	return r;
}

static int init_disk(int argc, char **argv)
{
	uint8_t b[OUTDISK_BLOCK];
	char *end = NULL;
	long long size;
	int fd;

	if (argc != 7 || strcmp(argv[3], "--size") || strcmp(argv[5], "--order-id"))
		return usage();
	size = strtoll(argv[4], &end, 10);
	if (*end || size < OUTDISK_BUNDLE_OFFSET + OUTDISK_BLOCK || size % OUTDISK_BLOCK ||
	    outdisk_order_encode(argv[6], b) < 0) {
		fprintf(stderr, PROG ": bad size (4 KiB blocks, at least 12 KiB) or order id\n");
		return 2;
	}
	fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, size) < 0 ||
	    pwrite(fd, b, sizeof(b), OUTDISK_BLOCK) != (ssize_t)sizeof(b) || fsync(fd) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	close(fd);
	return 0;
}

/* ---- seal ---- */

struct seal {
	const char *cmd, *tee, *dir;
};

/* Runs PROG REPORT_DATA_HEX FILE and wraps what it wrote as {"tee", "primary"}. */
static int evidence_cmd(void *ctx, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	const struct seal *s = ctx;
	_cleanup_free_ uint8_t *text = NULL;
	char hex[129], file[4200];
	cJSON *primary = NULL, *e;
	size_t len;
	pid_t pid;
	int st;

	hex_encode(rd, 64, hex);
	snprintf(file, sizeof(file), "%s/evidence.json", s->dir);
	if ((pid = fork()) == 0) {
		execlp(s->cmd, s->cmd, hex, file, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return set_error(err, errlen, -EIO, "E_RESULT_EVIDENCE: %s failed", s->cmd);
	if (file_read(file, CVM_CAP_JSON, &text, &len) < 0 ||
	    json_parse((char *)text, len, &primary) < 0)
		return set_error(err, errlen, -EIO, "E_RESULT_EVIDENCE: %s wrote no JSON", s->cmd);
	if (!(e = cJSON_CreateObject()) || !cJSON_AddStringToObject(e, "tee", s->tee) ||
	    !cJSON_AddItemToObject(e, "primary", primary)) {
		cJSON_Delete(e);
		cJSON_Delete(primary);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

struct seal_args {
	const char *disk, *stage, *recipient, *eventlog;
	struct seal ev;
	struct result_meta meta;
	uint64_t max;
};

static int seal_parse(int argc, char **argv, struct seal_args *a)
{
	enum { O_STAGE = 256, O_RCPT, O_TEE, O_CMD, O_LOG, O_EXIT, O_SIG, O_TIMED, O_PART, O_MAX };
	static const struct option opts[] = {
		{ "stage", required_argument, NULL, O_STAGE },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "tee", required_argument, NULL, O_TEE },
		{ "evidence-cmd", required_argument, NULL, O_CMD },
		{ "eventlog", required_argument, NULL, O_LOG },
		{ "exit-code", required_argument, NULL, O_EXIT },
		{ "signal", required_argument, NULL, O_SIG },
		{ "timed-out", no_argument, NULL, O_TIMED },
		{ "partial", no_argument, NULL, O_PART },
		{ "max", required_argument, NULL, O_MAX },
		{ 0 },
	};
	int c;

	a->max = 1ull << 40;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_STAGE:
			a->stage = optarg;
			break;
		case O_RCPT:
			a->recipient = optarg;
			break;
		case O_TEE:
			a->ev.tee = optarg;
			break;
		case O_CMD:
			a->ev.cmd = optarg;
			break;
		case O_LOG:
			a->eventlog = optarg;
			break;
		case O_EXIT:
			a->meta.exit_code = atoi(optarg);
			break;
		case O_SIG:
			a->meta.signal = atoi(optarg);
			break;
		case O_TIMED:
			a->meta.timed_out = true;
			break;
		case O_PART:
			a->meta.partial = true;
			break;
		case O_MAX:
			a->max = strtoull(optarg, NULL, 10);
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc - 1 || !a->stage || !a->recipient || !a->ev.tee || !a->ev.cmd)
		return -EINVAL;
	a->disk = argv[optind];
	return 0;
}

static int seal(int argc, char **argv)
{
	struct seal_args a = { 0 };
	uint8_t recipient[33], manifest[32], header[32], order_sha[32];
	struct result_input input = { .name = "solution" };
	char order[RESULT_ORDER_ID_MAX + 1], err[512], tmp[] = "/tmp/result_tool.XXXXXX";
	char file[64];
	_cleanup_free_ uint8_t *log = NULL;
	struct result_key signer;
	uint64_t bytes = 0;
	size_t len;
	int r;

	if (seal_parse(argc, argv, &a) < 0)
		return usage();
	if (result_pub_from_hex(a.recipient, recipient) < 0) {
		fprintf(stderr, PROG ": --recipient is not a compressed secp256k1 public key\n");
		return 2;
	}
	if (a.eventlog && file_read(a.eventlog, CVM_CAP_JSON, &log, &len) < 0) {
		fprintf(stderr, PROG ": %s: cannot read\n", a.eventlog);
		return 2;
	}
	/* what the agent measured: here, digests of names that say so */
	EVP_Digest("test manifest", 13, manifest, NULL, EVP_sha256(), NULL);
	EVP_Digest("test LUKS2 header", 17, header, NULL, EVP_sha256(), NULL);
	a.meta.order_id = order;
	a.meta.job_manifest_sha256 = manifest;
	memcpy(input.luks_header_sha256, header, 32);
	a.meta.order_sha256 = order_sha;
	a.meta.inputs = &input;
	a.meta.ninputs = 1;
	a.ev.dir = mkdtemp(tmp);
	if (!a.ev.dir || result_order_read(a.disk, order, sizeof(order), err, sizeof(err)) < 0 ||
	    result_key_generate(&signer, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", a.ev.dir ? err : strerror(errno));
		return 2;
	}
	/* one input, and the "order" a digest of its id: a test writer, not an agent */
	EVP_Digest(order, strlen(order), order_sha, NULL, EVP_sha256(), NULL);
	r = result_write(a.disk, a.stage, recipient, &signer, &a.meta, evidence_cmd, &a.ev,
			 (const char *)log, a.max, &bytes, err, sizeof(err));
	result_key_wipe(&signer);
	snprintf(file, sizeof(file), "%s/evidence.json", tmp);
	unlink(file);
	rmdir(tmp);
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	printf("%llu\n", (unsigned long long)bytes);
	return 0;
}

/* ---- open ---- */

/* A bundle file starts with its magic; anything else is taken for an output disk. */
static int source_open(const char *path, struct result_source *src, char *err, size_t errlen)
{
	uint8_t m[4] = { 0 };
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*src = (struct result_source){ .fd = fd };
	if (fd < 0 || fstat(fd, &st) < 0)
		return set_error(err, errlen, -errno, "%s: %s", path, strerror(errno));
	src->size = (uint64_t)st.st_size;
	if (pread(fd, m, 4, 0) == 4 && !memcmp(m, RESULT_MAGIC, 4))
		return 0;
	return outdisk_open(fd, src, err, errlen);
}

/* The evidence's raw report or quote beside DIR, and the report_data it must bind. */
static int evidence_out(const struct result_info *in, const char *dir, char *err, size_t errlen)
{
	enum cvm_platform plat;
	struct kbs_evidence kev;
	char rd[129], path[4200];
	int r;

	if (kbs_tee_parse(in->tee, &plat) < 0 ||
	    kbs_evidence_parse(plat, cJSON_GetObjectItemCaseSensitive(in->evidence, "primary"),
			       &kev, err, errlen) < 0)
		return -EBADMSG;
	snprintf(path, sizeof(path), "%s.evidence", dir);
	r = file_write_atomic(path, kev.raw, kev.raw_len, err, errlen);
	kbs_evidence_free(&kev);
	hex_encode(in->report_data, 64, rd);
	if (r == 0)
		printf("report_data %s\n", rd);
	return r;
}

static int open_bundle(int argc, char **argv)
{
	struct result_source src = { .fd = -1 };
	struct result_info in;
	struct result_key k;
	char err[512] = "";
	int r, ret = 1;

	if (argc != 7 || strcmp(argv[3], "--key") || strcmp(argv[5], "-o"))
		return usage();
	if (result_key_load(argv[4], &k, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 2;
	}
	if ((r = source_open(argv[2], &src, err, sizeof(err))) < 0 ||
	    (r = result_verify(&src, &in, err, sizeof(err))) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		goto out;
	}
	if (evidence_out(&in, argv[6], err, sizeof(err)) < 0)
		fprintf(stderr, PROG ": E_RESULT_EVIDENCE: %s\n", err);
	else if (result_extract(&src, &in, &k, argv[6], err, sizeof(err)) < 0)
		fprintf(stderr, PROG ": %s\n", err);
	else
		ret = printf("%s\ncomplete\n", in.header_text) < 0 ? 2 : 0;
	result_info_free(&in);
out:
	result_key_wipe(&k);
	if (src.fd >= 0)
		close(src.fd);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "keygen"))
		return keygen(argc, argv);
	if (!strcmp(argv[1], "init-disk"))
		return init_disk(argc, argv);
	if (!strcmp(argv[1], "seal"))
		return seal(argc, argv);
	if (!strcmp(argv[1], "open"))
		return open_bundle(argc, argv);
	return usage();
}
