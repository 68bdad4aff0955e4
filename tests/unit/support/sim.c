/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "lib/lib.h"
#include "tests/unit/support/sim.h"

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "test support: %s: %s\n", what, detail);
	abort();
}

const char *sim_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		die("environment variable not set (run through scripts/run-tests)", name);
	return v;
}

char *sim_path(char *buf, size_t cap, const char *env, const char *rel)
{
	snprintf(buf, cap, "%s/%s", sim_env(env), rel);
	return buf;
}

/* The port swtpm_tcp.sh printed: decimal, 1 to 65535, then only its newline. */
static int port_of(const char *out, const char *state)
{
	char *end;
	unsigned long p;

	errno = 0;
	p = strtoul(out, &end, 10);
	if (errno || end == out || (*end && strcmp(end, "\n")) || p < 1 || p > 65535)
		die("swtpm_tcp.sh printed no port", state);
	return (int)p;
}

int sim_swtpm_tcp(const char *state, const char *pidfile)
{
	char script[1024], out[32] = "";
	ssize_t n = 0, k;
	int fds[2], st = 0;
	pid_t pid;

	/* run without a shell between: the paths are passed as they are */
	snprintf(script, sizeof(script), "%s/tests/cli/swtpm_tcp.sh", sim_env("CVM_TOP"));
	if (pipe(fds) < 0 || (pid = fork()) < 0)
		die("swtpm did not start", state);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", script, state, pidfile, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (n < (ssize_t)sizeof(out) - 1 && (k = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += k;
	close(fds[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || n <= 0)
		die("swtpm did not start", state);
	out[n] = 0;
	return port_of(out, state);
}

EVP_PKEY *sim_load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f)
		die("cannot open key", path);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		die("not a private key", path);
	return k;
}

void sim_sign(EVP_PKEY *key, const EVP_MD *md, const void *msg, size_t len, uint8_t *r, uint8_t *s,
	      size_t n)
{
	if (sim_sign_raw(key, md, msg, len, r, s, n) < 0)
		die("sign", "EVP_DigestSign failed");
}

void sim_write(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		die("cannot write", path);
}

uint8_t *sim_read(const char *path, size_t *len)
{
	uint8_t *buf;

	if (file_read(path, 1u << 20, &buf, len) < 0)
		die("cannot read", path);
	return buf;
}

/* ---- SEV-SNP ---- */

void sim_snp_defaults(struct sim_snp_fields *p)
{
	char path[512];
	size_t len;
	uint8_t *hex;

	memset(p, 0, sizeof(*p));
	p->version = 2;
	p->policy = 0x30000; /* SMT, reserved bit 17 */
	/* scripts/test-pki/snp: bootloader 4, tee 1, snp 24, microcode 219, Milan layout. */
	p->reported_tcb = 4ull | 1ull << 8 | 24ull << 48 | 219ull << 56;
	hex = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/chip_id.hex"), &len);
	while (len && (hex[len - 1] == '\n'))
		hex[--len] = 0;
	if (hex_decode_exact((char *)hex, p->chip_id, 64) < 0)
		die("bad chip id", path);
	free(hex);
	for (int i = 0; i < 48; i++)
		p->measurement[i] = (uint8_t)(0xa0 + i);
	p->report_data[0] = 0x42;
}

void sim_snp_report(const struct sim_snp_fields *p, const char *key_path, uint8_t out[0x4A0])
{
	EVP_PKEY *key = sim_load_key(key_path);

	if (sim_snp_sign(p, key, out) < 0)
		die("sign", "the SNP report");
	EVP_PKEY_free(key);
}

/* ---- TDX ---- */

void sim_tdx_defaults(struct sim_tdx_fields *p)
{
	memset(p, 0, sizeof(*p));
	p->version = 4;
	p->att_key_type = 2;
	p->tee_tcb_svn[0] = 3;
	p->tee_tcb_svn[2] = 5;
	p->td_attributes[3] = 0x10; /* SEPT_VE_DISABLE, as real TDs run */
	for (int i = 0; i < 48; i++)
		p->mrtd[i] = (uint8_t)i;
	p->report_data[0] = 0x7d;
	p->qe_isv_svn = 4;
}

uint8_t *sim_tdx_quote(const struct sim_tdx_fields *p, const char *chain_pem, size_t *len)
{
	char path[512];
	EVP_PKEY *ak = sim_load_key(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/ak.key"));
	EVP_PKEY *pck = sim_load_key(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/pck.key"));
	size_t pem_len;
	uint8_t *pem, *q;

	pem = sim_read(chain_pem
			       ? chain_pem
			       : sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/pck-chain.pem"),
		       &pem_len);
	q = sim_tdx_sign(p, ak, pck, pem, pem_len, len);
	if (!q)
		die("sign", "the TDX quote");
	free(pem);
	EVP_PKEY_free(ak);
	EVP_PKEY_free(pck);
	return q;
}

void sim_rfc3339(long offset, char out[32])
{
	time_t t = time(NULL) + offset;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void sim_collateral_defaults(struct sim_collateral *c)
{
	memset(c, 0, sizeof(*c));
	c->fmspc = NULL;
	sim_rfc3339(-86400, c->issue);
	sim_rfc3339(30 * 86400, c->next);
	c->tdx_svn2 = 5;
	c->qe_isvsvn = 4;
}

static void write_signed(const char *dir, const char *name, const char *member, const char *body,
			 EVP_PKEY *key)
{
	char path[512], sighex[129], *doc;
	uint8_t sig[64];
	size_t n;

	sim_sign(key, EVP_sha256(), body, strlen(body), sig, sig + 32, 32);
	hex_encode(sig, 64, sighex);
	n = strlen(body) + strlen(member) + 200;
	doc = malloc(n);
	snprintf(doc, n, "{\"%s\":%s,\"signature\":\"%s\"}", member, body, sighex);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sim_write(path, doc, strlen(doc));
	free(doc);
}

void sim_collateral_write(const struct sim_collateral *c, const char *dir)
{
	char path[512], fmspc[32], tcb[4096], qe[1024];
	EVP_PKEY *key =
		sim_load_key(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/tcbsign.key"));
	uint8_t *hex, *chain;
	size_t len;
	int n;

	hex = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/fmspc.hex"), &len);
	snprintf(fmspc, sizeof(fmspc), "%.12s", c->fmspc ? c->fmspc : (char *)hex);
	free(hex);
	/* Two levels: the test platform's SVNs UpToDate, one below OutOfDate. */
	n = snprintf(tcb, sizeof(tcb),
		     "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
		     "\"fmspc\":\"%s\",\"pceId\":\"0000\",\"tcbType\":0,"
		     "\"tcbEvaluationDataNumber\":17,\"tdxModule\":{\"mrsigner\":\"%096d\","
		     "\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},"
		     "\"tcbLevels\":[",
		     c->issue, c->next, fmspc, 0);
	for (int lvl = 0; lvl < 2; lvl++) {
		n += snprintf(tcb + n, sizeof(tcb) - (size_t)n,
			      "%s{\"tcb\":{\"sgxtcbcomponents\":[", lvl ? "," : "");
		for (int i = 0; i < 16; i++)
			n += snprintf(tcb + n, sizeof(tcb) - (size_t)n, "%s{\"svn\":%d}",
				      i ? "," : "", i < 2 ? 5 : 0);
		n += snprintf(tcb + n, sizeof(tcb) - (size_t)n,
			      "],\"pcesvn\":%d,\"tdxtcbcomponents\":[", lvl ? 5 : 11);
		for (int i = 0; i < 16; i++)
			n += snprintf(tcb + n, sizeof(tcb) - (size_t)n, "%s{\"svn\":%d}",
				      i ? "," : "",
				      i == 0   ? 3
				      : i == 2 ? (lvl ? c->tdx_svn2 - 1 : c->tdx_svn2)
					       : 0);
		n += snprintf(tcb + n, sizeof(tcb) - (size_t)n,
			      "]},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"%s\"}",
			      lvl ? "OutOfDate" : "UpToDate");
	}
	snprintf(tcb + n, sizeof(tcb) - (size_t)n, "]}");
	write_signed(dir, "tcbinfo.json", "tcbInfo", tcb, key);

	snprintf(qe, sizeof(qe),
		 "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
		 "\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\","
		 "\"miscselectMask\":\"FFFFFFFF\",\"attributes\":"
		 "\"00000000000000000000000000000000\","
		 "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%064d\","
		 "\"isvprodid\":2,\"tcbLevels\":[{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":"
		 "\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},{\"tcb\":{\"isvsvn\":0},"
		 "\"tcbDate\":\"2020-01-01T00:00:00Z\",\"tcbStatus\":\"%s\"}]}",
		 c->issue, c->next, 0, c->qe_isvsvn,
		 c->qe_low_status ? c->qe_low_status : "OutOfDate");
	write_signed(dir, "qe-identity.json", "enclaveIdentity", qe, key);

	chain = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/tcb-signing-chain.pem"),
			 &len);
	snprintf(path, sizeof(path), "%s/tcb-signing-chain.pem", dir);
	sim_write(path, chain, len);
	free(chain);
	EVP_PKEY_free(key);
}
