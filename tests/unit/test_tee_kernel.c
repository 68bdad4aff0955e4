/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel TEE backends (tsm, tdx-guest, sev-guest) against a fake kernel
 * built in a temporary directory: configfs-tsm entries whose outblob is
 * made, when inblob is written, by the sim builders (a TDX quote v4 or an
 * SEV-SNP report of the test PKI), an auxblob certificate table, the sysfs
 * RTMR3 that extends as the TDX module does, and /dev/sev-guest and
 * /dev/tdx_guest ioctls answered as the kernel answers them. The evidence
 * then verifies as a broker verifies it; then every hostile answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sev-guest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "tests/unit/support/sim.h"

/* Linux include/uapi/linux/tdx-guest.h */
struct tdx_report_req {
	uint8_t reportdata[64];
	uint8_t tdreport[1024];
};
#define TDX_CMD_GET_REPORT0 _IOWR('T', 1, struct tdx_report_req)

/* GHCB specification (AMD 56421) §4.1.8.1 certificate table GUIDs, RFC 4122 byte order. */
static const uint8_t guid_vcek[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
static const uint8_t guid_vlek[16] = { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
				       0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 };
static const uint8_t guid_ask[16] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
				      0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 };
static const uint8_t guid_ark[16] = { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
				      0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae };
/* The CRL entry's GUID: carried by real hosts, needed by nothing here. */
static const uint8_t guid_crl[16] = { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
				      0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea };

/* ---- the fake kernel ---- */

struct fake {
	char root[512];
	const char *provider;	/* what a report entry's provider says */
	bool snp;		/* outblob: an SNP report, else a TDX quote */
	bool vlek;		/* SNP: signed by the VLEK */
	int gen_step;		/* generation counted per inblob write; 2: a racing writer */
	bool stale;		/* the report or quote binds other report_data */
	const uint8_t *outblob; /* when set, outblob holds this instead */
	size_t outblob_len;
	uint8_t table[16384]; /* the certificate table (auxblob, or the ioctl's certs) */
	size_t table_len;
	uint8_t rtmr3[48]; /* the TD's RTMR3, extended through sysfs */
	/* sev-guest ioctl */
	int ioctl_errno;
	uint32_t fw_error, status, report_size;
	bool short_answer; /* "too small" with no more bytes asked */
	unsigned ioctls;
	/* tdx-guest ioctl */
	bool other_tdreport;
	int entries; /* report entries made and not removed */
};

static struct fake fk;
static char base[512];
static struct tee_config cfg;

static void path_of(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s%s", fk.root, rel);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < (int)sizeof(cmd));
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* dir/name, which must fit. */
static char *join(char *out, size_t cap, const char *dir, const char *name)
{
	if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
		fail_msg("path too long: %s/%s", dir, name);
	return out;
}

static void put_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];

	sim_write(join(path, sizeof(path), dir, name), p, n);
}

static uint64_t generation(const char *dir)
{
	char path[1024];
	size_t n;
	uint8_t *t;
	uint64_t g;

	t = sim_read(join(path, sizeof(path), dir, "generation"), &n);
	g = strtoull((char *)t, NULL, 10);
	free(t);
	return g;
}

/* The TDX module's quote fields for the current state of the fake TD. */
static void tdx_fields(struct sim_tdx_fields *f, const uint8_t rd[64])
{
	sim_tdx_defaults(f);
	memcpy(f->report_data, rd, 64);
	memcpy(f->rtmr[3], fk.rtmr3, 48);
	if (fk.stale)
		f->report_data[0] ^= 1;
}

static void snp_report(const uint8_t rd[64], uint8_t rep[0x4A0])
{
	struct sim_snp_fields p;
	char key[512];

	sim_snp_defaults(&p);
	memcpy(p.report_data, rd, 64);
	if (fk.stale)
		p.report_data[0] ^= 1;
	if (fk.vlek)
		p.flags = 1u << 2; /* SIGNING_KEY = VLEK */
	sim_snp_report(&p,
		       sim_path(key, sizeof(key), "CVM_TEST_PKI",
				fk.vlek ? "snp/vlek.key" : "snp/vcek.key"),
		       rep);
}

/* What the kernel does when inblob is written: count it, make outblob and auxblob. */
static void tsm_generate(const char *dir, const uint8_t rd[64])
{
	char g[32];

	snprintf(g, sizeof(g), "%llu\n", (unsigned long long)(generation(dir) + fk.gen_step));
	put_file(dir, "generation", g, strlen(g));
	if (fk.outblob) {
		put_file(dir, "outblob", fk.outblob, fk.outblob_len);
	} else if (fk.snp) {
		uint8_t rep[0x4A0];

		snp_report(rd, rep);
		put_file(dir, "outblob", rep, sizeof(rep));
	} else {
		struct sim_tdx_fields f;
		size_t len;
		uint8_t *q;

		tdx_fields(&f, rd);
		q = sim_tdx_quote(&f, NULL, &len);
		put_file(dir, "outblob", q, len);
		free(q);
	}
	if (fk.snp)
		put_file(dir, "auxblob", fk.table, fk.table_len);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && !strcmp(s + n - m, tail);
}

static int fake_write(void *ctx, const char *path, const void *p, size_t n)
{
	int fd;

	(void)ctx;
	if (ends_with(path, "/inblob")) {
		char dir[1024];

		if (n != 64)
			return -EINVAL;
		snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(path) - strlen("/inblob")), path);
		tsm_generate(dir, p);
		return 0;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	if (ends_with(path, "/rtmr3:sha384")) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();

		/* TDG.MR.RTMR.EXTEND: RTMR = SHA-384(RTMR || data) */
		if (n != 48)
			return -EINVAL;
		assert_true(EVP_DigestInit_ex(c, EVP_sha384(), NULL) == 1 &&
			    EVP_DigestUpdate(c, fk.rtmr3, 48) == 1 &&
			    EVP_DigestUpdate(c, p, 48) == 1 &&
			    EVP_DigestFinal_ex(c, fk.rtmr3, NULL) == 1);
		EVP_MD_CTX_free(c);
		sim_write(path, fk.rtmr3, 48);
		return 0;
	}
	return -EACCES;
}

/* mkdir in configfs: the entry comes with its attributes. */
static int fake_mkdir(void *ctx, const char *path)
{
	char pr[64];

	(void)ctx;
	if (mkdir(path, 0700) < 0)
		return -errno;
	snprintf(pr, sizeof(pr), "%s\n", fk.provider);
	put_file(path, "provider", pr, strlen(pr));
	put_file(path, "generation", "0\n", 2);
	fk.entries++;
	return 0;
}

static int fake_rmdir(void *ctx, const char *path)
{
	static const char *const attrs[] = { "provider", "generation", "outblob", "auxblob" };
	char p[1024];

	(void)ctx;
	for (size_t i = 0; i < ARRAY_SIZE(attrs); i++) {
		unlink(join(p, sizeof(p), path, attrs[i]));
	}
	if (rmdir(path) < 0)
		return -errno;
	fk.entries--;
	return 0;
}

/* SNP_GET_EXT_REPORT as the kernel answers it (drivers/virt/coco/sev-guest/sev-guest.c). */
static int fake_ext_report(struct snp_guest_request_ioctl *io)
{
	struct snp_ext_report_req *req = (void *)(uintptr_t)io->req_data;
	uint8_t *resp = (void *)(uintptr_t)io->resp_data;
	uint32_t need = (uint32_t)((fk.table_len + 4095) / 4096 * 4096);

	fk.ioctls++;
	if (fk.ioctl_errno) {
		io->fw_error = fk.fw_error;
		return -fk.ioctl_errno;
	}
	if (fk.short_answer || req->certs_len < need) {
		if (!fk.short_answer)
			req->certs_len = need;
		io->vmm_error = SNP_GUEST_VMM_ERR_INVALID_LEN;
		return -EIO;
	}
	memset(resp, 0, sizeof(struct snp_report_resp));
	put_le(resp, fk.status, 4);
	put_le(resp + 4, fk.report_size ? fk.report_size : 0x4A0, 4);
	snp_report(req->data.user_data, resp + 0x20);
	memcpy((void *)(uintptr_t)req->certs_address, fk.table, fk.table_len);
	return 0;
}

/* TDX_CMD_GET_REPORT0: the TDREPORT_STRUCT of the fake TD (Intel TDX Module ABI). */
static int fake_tdreport(struct tdx_report_req *req)
{
	struct sim_tdx_fields f;

	tdx_fields(&f, req->reportdata);
	memset(req->tdreport, 0, sizeof(req->tdreport));
	req->tdreport[0] = 0x81;
	memcpy(req->tdreport + 128, req->reportdata, 64);
	memcpy(req->tdreport + 256 + 8, f.tee_tcb_svn, 16);
	memcpy(req->tdreport + 512, f.td_attributes, 8);
	memcpy(req->tdreport + 512 + 16, f.mrtd, 48);
	for (int i = 0; i < 4; i++)
		memcpy(req->tdreport + 512 + 208 + 48 * i, f.rtmr[i], 48);
	if (fk.other_tdreport)
		req->tdreport[512 + 16] ^= 1; /* another MRTD */
	return 0;
}

static int fake_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	(void)ctx;
	assert_true(fd >= 0);
	if (request == SNP_GET_EXT_REPORT)
		return fake_ext_report(arg);
	if (request == TDX_CMD_GET_REPORT0)
		return fk.ioctl_errno ? -fk.ioctl_errno : fake_tdreport(arg);
	return -ENOTTY;
}

static const struct tee_kernel_ops fake_ops = {
	.ioctl = fake_ioctl,
	.mkdir = fake_mkdir,
	.rmdir = fake_rmdir,
	.write = fake_write,
};

/* ---- the certificate table ---- */

struct entry {
	const uint8_t *guid;
	const char *pem; /* a certificate of the test PKI, or NULL for filler bytes */
	size_t filler;
};

static size_t der_of(const char *rel, uint8_t *out, size_t cap)
{
	char path[512];
	FILE *f = fopen(sim_path(path, sizeof(path), "CVM_TEST_PKI", rel), "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	uint8_t *p = out;
	int n;

	if (f)
		fclose(f);
	assert_non_null(x);
	n = i2d_X509(x, NULL);
	assert_true(n > 0 && (size_t)n <= cap);
	i2d_X509(x, &p);
	X509_free(x);
	return (size_t)n;
}

/* Entries, then the all-zero one, then each certificate in order. */
static void make_table(const struct entry *e, size_t n)
{
	size_t off = (n + 1) * 24;

	memset(fk.table, 0, sizeof(fk.table));
	for (size_t i = 0; i < n; i++) {
		size_t len = e[i].pem ? der_of(e[i].pem, fk.table + off, sizeof(fk.table) - off)
				      : e[i].filler;

		memcpy(fk.table + 24 * i, e[i].guid, 16);
		put_le(fk.table + 24 * i + 16, off, 4);
		put_le(fk.table + 24 * i + 20, len, 4);
		off += len;
	}
	fk.table_len = off;
}

static void vcek_table(void)
{
	const struct entry e[] = {
		{ guid_vcek, "snp/vcek.pem", 0 },
		{ guid_ask, "snp/ask.pem", 0 },
		{ guid_ark, "snp/ark.pem", 0 },
	};

	make_table(e, ARRAY_SIZE(e));
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "%s/tee-kernel", sim_env("CVM_TEST_TMP"));
	return 0;
}

/* A fresh fake kernel: a TDX guest with configfs-tsm and RTMR3 in sysfs, unless told. */
static int fresh(void **state)
{
	static int n;
	char p[1024];

	(void)state;
	memset(&fk, 0, sizeof(fk));
	if (snprintf(fk.root, sizeof(fk.root), "%s/%d", base, n++) >= (int)sizeof(fk.root))
		fail_msg("path too long");
	sh("rm -rf %s && mkdir -p %s/sys/kernel/config/tsm/report %s/dev", fk.root, fk.root,
	   fk.root);
	snprintf(p, sizeof(p), "%s/sys/class/misc/tdx_guest/measurements", fk.root);
	sh("mkdir -p %s && head -c 48 /dev/zero > %s/rtmr3:sha384", p, p);
	fk.provider = "tdx_guest";
	fk.gen_step = 1;
	vcek_table();
	memset(&cfg, 0, sizeof(cfg));
	cfg.root = fk.root;
	cfg.ops = &fake_ops;
	return 0;
}

static void as_snp(void)
{
	fk.provider = "sev_guest";
	fk.snp = true;
}

static void make_device(const char *name)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/dev/%s", fk.root, name);
	sim_write(p, "", 0);
}

static struct tee *open_ok(const char *name)
{
	struct tee *t = NULL;
	char err[512] = "";

	if (tee_open(name, &cfg, &t, err, sizeof(err)) < 0)
		fail_msg("tee_open(%s): %s", name, err);
	return t;
}

/* Evidence must fail, saying why in one line that names what. */
static void evidence_fails(struct tee *t, const char *what)
{
	uint8_t rd[64];
	cJSON *ev = NULL;
	char err[512] = "";

	memset(rd, 0x5c, sizeof(rd));
	assert_true(t->evidence(t, rd, &ev, err, sizeof(err)) < 0);
	assert_null(ev);
	if (!strstr(err, what))
		fail_msg("expected '%s' in: %s", what, err);
	assert_null(strchr(err, '\n'));
	assert_int_equal(fk.entries, 0);
}

static cJSON *evidence_ok(struct tee *t, const uint8_t rd[64])
{
	cJSON *ev = NULL;
	char err[512] = "";

	if (t->evidence(t, rd, &ev, err, sizeof(err)) < 0)
		fail_msg("evidence: %s", err);
	assert_int_equal(fk.entries, 0);
	return ev;
}

/* The SNP evidence as a broker takes it: parsed, and verified up to the test roots. */
static void snp_verifies(const cJSON *ev, const uint8_t rd[64])
{
	struct snp_verifier *sv = NULL;
	struct kbs_evidence e;
	struct snp_report rep;
	struct reference ref;
	struct verdict v;
	char path[512], err[256];

	assert_int_equal(kbs_evidence_parse(PLATFORM_SNP, ev, &e, err, sizeof(err)), 0);
	assert_non_null(e.certs.vcek);
	assert_non_null(e.certs.ask);
	assert_int_equal(
		snp_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/roots.pem"), 0,
				 &sv),
		0);
	reference_defaults(&ref);
	assert_int_equal(snp_verify(sv, e.raw, e.raw_len, &e.certs, &ref.snp, rd, &rep, &v), 0);
	if (!verdict_ok(&v))
		fail_msg("%s", verdict_first_failure(&v)->detail);
	assert_null(e.runtime_log);
	snp_verifier_free(sv);
	kbs_evidence_free(&e);
}

/* The TDX evidence as a broker takes it; returns the quote's RTMR3. */
static void tdx_verifies(const cJSON *ev, const uint8_t rd[64], uint8_t rtmr3[48],
			 char **runtime_log)
{
	struct tdx_verifier *tv = NULL;
	struct kbs_evidence e;
	struct tdx_quote q;
	struct reference ref;
	struct verdict v;
	char path[512], err[256];

	assert_int_equal(kbs_evidence_parse(PLATFORM_TDX, ev, &e, err, sizeof(err)), 0);
	assert_int_equal(
		tdx_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "tdx/roots.pem"),
				 NULL, 0, &tv, err, sizeof(err)),
		0);
	reference_defaults(&ref);
	assert_int_equal(tdx_verify(tv, e.raw, e.raw_len, &ref.tdx, rd, &q, &v), 0);
	if (!verdict_ok(&v))
		fail_msg("%s", verdict_first_failure(&v)->detail);
	memcpy(rtmr3, q.body.rtmr[3], 48);
	if (runtime_log) {
		*runtime_log = e.runtime_log;
		e.runtime_log = NULL;
	}
	tdx_verifier_free(tv);
	kbs_evidence_free(&e);
}

/* ---- configfs-tsm ---- */

static void test_tsm_tdx_quote_verifies_and_binds_report_data(void **state)
{
	struct tee *t;
	uint8_t rd[64], rtmr3[48];
	cJSON *ev;

	(void)state;
	t = open_ok("tsm");
	assert_string_equal(t->name, "tsm");
	assert_string_equal(t->kbs_tee, "tdx");
	assert_int_equal(t->runtime, PLATFORM_TDX);
	memset(rd, 0xa1, sizeof(rd));
	ev = evidence_ok(t, rd);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ev, "cc_eventlog")));
	tdx_verifies(ev, rd, rtmr3, NULL);
	cJSON_Delete(ev);
	tee_close(t);
}

static void test_tsm_tdx_carries_the_ccel(void **state)
{
	struct tee *t;
	uint8_t rd[64] = { 0 }, *ccel = NULL;
	const char *b64;
	size_t n = 0;
	char p[1024];
	cJSON *ev;

	(void)state;
	snprintf(p, sizeof(p), "%s/sys/firmware/acpi/tables/data", fk.root);
	sh("mkdir -p %s && printf 'CCEL-log-area' > %s/CCEL", p, p);
	t = open_ok("tsm");
	ev = evidence_ok(t, rd);
	b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "cc_eventlog"));
	assert_non_null(b64);
	assert_int_equal(base64_decode(b64, strlen(b64), BASE64_STD, &ccel, &n), 0);
	assert_int_equal(n, 13);
	assert_memory_equal(ccel, "CCEL-log-area", 13);
	free(ccel);
	cJSON_Delete(ev);
	tee_close(t);
}

static void test_tsm_snp_report_and_cert_table_verify(void **state)
{
	struct tee *t;
	uint8_t rd[64];
	cJSON *ev;

	(void)state;
	as_snp();
	t = open_ok("tsm");
	assert_string_equal(t->kbs_tee, "snp");
	assert_null(t->extend);
	memset(rd, 0x3e, sizeof(rd));
	ev = evidence_ok(t, rd);
	snp_verifies(ev, rd);
	cJSON_Delete(ev);
	tee_close(t);
}

/* A VLEK host, writing its GUIDs with the first three fields little-endian. */
static void test_tsm_snp_vlek_table_in_mixed_endian_guids(void **state)
{
	static uint8_t vlek_le[16], ask_le[16];
	const struct entry e[] = {
		{ guid_crl, NULL, 100 },
		{ vlek_le, "snp/vlek.pem", 0 },
		{ ask_le, "snp/asvk.pem", 0 },
	};
	struct tee *t;
	uint8_t rd[64] = { 9 };
	cJSON *ev;
	const cJSON *chain;

	(void)state;
	for (int i = 0; i < 2; i++) {
		const uint8_t *g = i ? guid_ask : guid_vlek;
		uint8_t *o = i ? ask_le : vlek_le;
		const uint8_t m[8] = { g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6] };

		memcpy(o, m, 8);
		memcpy(o + 8, g + 8, 8);
	}
	as_snp();
	fk.vlek = true;
	make_table(e, ARRAY_SIZE(e));
	t = open_ok("tsm");
	ev = evidence_ok(t, rd);
	chain = cJSON_GetObjectItemCaseSensitive(ev, "cert_chain");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				    cJSON_GetArrayItem(chain, 0), "cert_type")),
			    "VLEK");
	snp_verifies(ev, rd);
	cJSON_Delete(ev);
	tee_close(t);
}

static void test_tsm_refuses_short_and_oversized_outblob(void **state)
{
	static uint8_t big[70000], small[100];
	struct tee *t;

	(void)state;
	t = open_ok("tsm");
	fk.outblob = small;
	fk.outblob_len = sizeof(small);
	evidence_fails(t, "the quote does not parse");
	fk.outblob = big;
	fk.outblob_len = sizeof(big);
	evidence_fails(t, "outblob is larger than 65536 bytes");
	tee_close(t);

	as_snp();
	t = open_ok("tsm");
	fk.outblob = small;
	fk.outblob_len = sizeof(small);
	evidence_fails(t, "the report is 100 bytes, not 1184");
	memset(big, 0, 0x4A0);
	fk.outblob = big;
	fk.outblob_len = 0x4A0;
	evidence_fails(t, "the report does not parse");
	tee_close(t);
}

static void test_tsm_refuses_a_racing_writer(void **state)
{
	struct tee *t;

	(void)state;
	t = open_ok("tsm");
	fk.gen_step = 2;
	evidence_fails(t, "another writer raced this report");
	fk.gen_step = 0;
	evidence_fails(t, "generation went from 0 to 0");
	tee_close(t);
}

static void test_tsm_refuses_a_provider_change(void **state)
{
	struct tee *t;

	(void)state;
	t = open_ok("tsm");
	fk.provider = "sev_guest";
	evidence_fails(t, "provider changed from tdx_guest to sev_guest");
	fk.provider = "tdx guest";
	evidence_fails(t, "provider unreadable or malformed");
	tee_close(t);
}

static void test_tsm_refuses_unknown_provider_and_absent_configfs(void **state)
{
	struct tee *t = NULL;
	char err[512] = "", p[1024];

	(void)state;
	fk.provider = "arm_cca_guest";
	assert_int_equal(tee_open("tsm", &cfg, &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "provider arm_cca_guest is not tdx_guest or sev_guest"));
	assert_int_equal(fk.entries, 0);
	path_of(p, sizeof(p), "/sys/kernel/config");
	sh("rm -rf %s", p);
	assert_int_equal(tee_open("tsm", &cfg, &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "Linux 6.7"));
	assert_null(t);
}

static void test_tsm_refuses_stale_report_data(void **state)
{
	struct tee *t;

	(void)state;
	t = open_ok("tsm");
	fk.stale = true;
	evidence_fails(t, "the quote binds other report_data");
	tee_close(t);
	as_snp();
	t = open_ok("tsm");
	evidence_fails(t, "the report binds other report_data");
	tee_close(t);
}

/* ---- the SNP certificate table ---- */

static void set_entry(int i, const uint8_t *guid, uint32_t off, uint32_t len)
{
	memcpy(fk.table + 24 * i, guid, 16);
	put_le(fk.table + 24 * i + 16, off, 4);
	put_le(fk.table + 24 * i + 20, len, 4);
}

static void test_snp_refuses_bad_cert_tables(void **state)
{
	struct tee *t;
	uint32_t vcek_off, vcek_len, ask_off;

	(void)state;
	as_snp();
	t = open_ok("tsm");
	vcek_off = le32(fk.table + 16);
	vcek_len = le32(fk.table + 20);
	ask_off = le32(fk.table + 24 + 16);

	set_entry(1, guid_ask, vcek_off + vcek_len / 2, 100);
	evidence_fails(t, "entries 0 and 1 overlap");
	vcek_table();
	set_entry(0, guid_vcek, vcek_off, (uint32_t)fk.table_len);
	evidence_fails(t, "entry 0 lies outside the certificate area");
	vcek_table();
	set_entry(2, guid_ark, 0xfffffff0u, 0x20);
	evidence_fails(t, "entry 2 lies outside the certificate area");
	vcek_table();
	set_entry(1, guid_ask, 24, 48); /* inside the table itself */
	evidence_fails(t, "entry 1 lies outside the certificate area");
	vcek_table();
	set_entry(0, guid_vcek, vcek_off, 0);
	evidence_fails(t, "entry 0 lies outside the certificate area");
	vcek_table();
	set_entry(1, guid_vcek, ask_off, 200);
	evidence_fails(t, "names a certificate twice");
	vcek_table();
	set_entry(0, guid_crl, vcek_off, vcek_len);
	evidence_fails(t, "has no VCEK");
	vcek_table();
	fk.table[vcek_off] ^= 0xff;
	evidence_fails(t, "does not parse");
	vcek_table();
	memset(fk.table, 0x11, fk.table_len); /* no terminator */
	evidence_fails(t, "has no end within");
	fk.table_len = 0;
	evidence_fails(t, "no certificate table");
	tee_close(t);
}

/* ---- tdx-guest ---- */

static void test_tdx_guest_checks_the_quote_against_the_tdreport(void **state)
{
	struct tee *t;
	uint8_t rd[64], rtmr3[48];
	cJSON *ev;

	(void)state;
	make_device("tdx_guest");
	t = open_ok("tdx-guest");
	assert_string_equal(t->name, "tdx-guest");
	memset(rd, 0x77, sizeof(rd));
	ev = evidence_ok(t, rd);
	tdx_verifies(ev, rd, rtmr3, NULL);
	cJSON_Delete(ev);
	fk.other_tdreport = true;
	evidence_fails(t, "the quote is not of this TD's TDREPORT");
	fk.other_tdreport = false;
	fk.ioctl_errno = EIO;
	evidence_fails(t, "TDX_CMD_GET_REPORT0: Input/output error");
	tee_close(t);
}

static void test_tdx_guest_needs_its_device_and_a_tdx_provider(void **state)
{
	struct tee *t = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(tee_open("tdx-guest", &cfg, &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "/dev/tdx_guest"));
	make_device("tdx_guest");
	fk.provider = "sev_guest";
	assert_int_equal(tee_open("tdx-guest", &cfg, &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "provider is sev_guest"));
	assert_null(t);
}

/* ---- sev-guest ---- */

static void test_sev_guest_report_verifies(void **state)
{
	struct tee *t;
	uint8_t rd[64];
	cJSON *ev;

	(void)state;
	as_snp();
	make_device("sev-guest");
	t = open_ok("sev-guest");
	assert_string_equal(t->kbs_tee, "snp");
	memset(rd, 0x2b, sizeof(rd));
	ev = evidence_ok(t, rd);
	assert_int_equal(fk.ioctls, 1);
	snp_verifies(ev, rd);
	cJSON_Delete(ev);
	tee_close(t);
}

static void test_sev_guest_grows_the_certs_buffer_when_told(void **state)
{
	const struct entry e[] = {
		{ guid_vcek, "snp/vcek.pem", 0 },
		{ guid_ask, "snp/ask.pem", 0 },
		{ guid_crl, NULL, 9000 },
	};
	struct tee *t;
	uint8_t rd[64] = { 1 };
	cJSON *ev;

	(void)state;
	as_snp();
	make_table(e, ARRAY_SIZE(e));
	assert_true(fk.table_len > 8192);
	make_device("sev-guest");
	t = open_ok("sev-guest");
	ev = evidence_ok(t, rd);
	assert_int_equal(fk.ioctls, 2);
	snp_verifies(ev, rd);
	cJSON_Delete(ev);
	/* a kernel that says "too small" and asks for no more is not believed twice */
	fk.short_answer = true;
	evidence_fails(t, "asks for a certificate buffer of 8192 bytes");
	tee_close(t);
}

static void test_sev_guest_reports_ioctl_and_firmware_errors(void **state)
{
	struct tee *t;

	(void)state;
	as_snp();
	make_device("sev-guest");
	t = open_ok("sev-guest");
	fk.ioctl_errno = EIO;
	fk.fw_error = 0x16; /* SEV_RET_INVALID_PARAM */
	evidence_fails(t, "Input/output error (firmware error 0x16, VMM error 0x0)");
	fk.ioctl_errno = ENOTTY; /* the kernel disabled the VMPCK */
	fk.fw_error = 0;
	evidence_fails(t, "SNP_GET_EXT_REPORT: Inappropriate ioctl");
	fk.ioctl_errno = 0;
	fk.status = 0x16;
	evidence_fails(t, "the firmware answered status 0x16");
	fk.status = 0;
	fk.report_size = 4000;
	evidence_fails(t, "report size 4000 out of range");
	fk.report_size = 0x4A0 - 1;
	evidence_fails(t, "the report is 1183 bytes");
	tee_close(t);
}

/* ---- auto ---- */

static void test_auto_probes_in_order_and_never_picks_sim(void **state)
{
	struct tee *t = NULL;
	char err[1024] = "", p[1024];

	(void)state;
	path_of(p, sizeof(p), "/sys/kernel/config");
	sh("rm -rf %s", p);
	assert_int_equal(tee_open("auto", &cfg, &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "no TEE found (tsm: "));
	assert_non_null(strstr(err, "; tdx-guest: "));
	assert_non_null(strstr(err, "; sev-guest: "));
	assert_non_null(strstr(err, "; tpm: no "));
	assert_null(t);
	as_snp();
	make_device("sev-guest");
	t = open_ok("auto");
	assert_string_equal(t->name, "sev-guest");
	tee_close(t);
}

static void test_auto_prefers_tsm(void **state)
{
	struct tee *t;

	(void)state;
	make_device("tdx_guest");
	make_device("sev-guest");
	t = open_ok("auto");
	assert_string_equal(t->name, "tsm");
	tee_close(t);
}

/* ---- runtime measurement ---- */

static void test_tdx_measures_into_rtmr3_through_sysfs(void **state)
{
	struct tee *t;
	char log[1024], err[512] = "", *sent = NULL;
	uint8_t rd[64] = { 4 }, rtmr3[48], luks[32], *text;
	struct verdict v;
	size_t len;
	cJSON *ev;

	(void)state;
	snprintf(log, sizeof(log), "%s/runtime-log.json", fk.root);
	cfg.runtime_log = log;
	memset(luks, 0x1c, sizeof(luks));
	t = open_ok("tsm");
	assert_int_equal(tee_measure(t, "agent-version", (const uint8_t *)"t", 1, err, sizeof(err)),
			 0);
	assert_int_equal(tee_measure(t, "agent-config", luks, sizeof(luks), err, sizeof(err)), 0);
	assert_int_equal(
		tee_measure(t, "order-id", (const uint8_t *)"order-7", 7, err, sizeof(err)), 0);
	assert_int_equal(tee_measure(t, "luks-header", luks, sizeof(luks), err, sizeof(err)), 0);
	assert_false(is_zero(fk.rtmr3, 48));
	ev = evidence_ok(t, rd);
	tdx_verifies(ev, rd, rtmr3, &sent);
	assert_memory_equal(rtmr3, fk.rtmr3, 48);
	text = sim_read(log, &len);
	assert_non_null(sent);
	assert_string_equal(sent, (char *)text);
	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(runtime_log_check((char *)text, len, PLATFORM_TDX, rtmr3, luks, &v), 0);
	/* another RTMR3 */
	rtmr3[0] ^= 1;
	verdict_init(&v, PLATFORM_TDX);
	assert_int_equal(runtime_log_check((char *)text, len, PLATFORM_TDX, rtmr3, luks, &v), -1);
	free(text);
	free(sent);
	cJSON_Delete(ev);
	tee_close(t);
}

static void test_tdx_measure_fails_without_the_sysfs_register(void **state)
{
	struct tee *t;
	char log[1024], err[512] = "", p[1024];

	(void)state;
	snprintf(log, sizeof(log), "%s/runtime-log.json", fk.root);
	cfg.runtime_log = log;
	path_of(p, sizeof(p), "/sys/class/misc/tdx_guest");
	sh("rm -rf %s", p);
	t = open_ok("tsm");
	assert_int_equal(tee_measure(t, "order-id", (const uint8_t *)"x", 1, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "E_MEASURE: RTMR3"));
	assert_non_null(strstr(err, "Linux 6.16"));
	/* register first: nothing was logged */
	assert_int_equal(access(log, F_OK), -1);
	tee_close(t);
}

static void test_snp_without_tpm_has_no_runtime_register(void **state)
{
	struct tee *t;
	char log[1024], err[512] = "";
	uint8_t rd[64] = { 0 };
	cJSON *ev;

	(void)state;
	as_snp();
	snprintf(log, sizeof(log), "%s/runtime-log.json", fk.root);
	sim_write(log, "[]", 2);
	cfg.runtime_log = log;
	t = open_ok("tsm");
	assert_int_equal(tee_measure(t, "order-id", (const uint8_t *)"x", 1, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "no TPM"));
	/* SEV-SNP cannot bind a runtime log: the evidence does not carry one */
	ev = evidence_ok(t, rd);
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "runtime_eventlog"));
	cJSON_Delete(ev);
	tee_close(t);
}

static void test_measure_refuses_bad_names_and_values(void **state)
{
	static uint8_t big[RUNTIME_VALUE_MAX + 1];
	struct tee *t;
	char log[1024], err[512] = "";

	(void)state;
	snprintf(log, sizeof(log), "%s/runtime-log.json", fk.root);
	cfg.runtime_log = log;
	t = open_ok("tsm");
	assert_int_equal(tee_measure(t, "a b", (const uint8_t *)"x", 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(tee_measure(t, "big", big, sizeof(big), err, sizeof(err)), -EINVAL);
	assert_true(is_zero(fk.rtmr3, 48));
	tee_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_tsm_tdx_quote_verifies_and_binds_report_data, fresh),
		cmocka_unit_test_setup(test_tsm_tdx_carries_the_ccel, fresh),
		cmocka_unit_test_setup(test_tsm_snp_report_and_cert_table_verify, fresh),
		cmocka_unit_test_setup(test_tsm_snp_vlek_table_in_mixed_endian_guids, fresh),
		cmocka_unit_test_setup(test_tsm_refuses_short_and_oversized_outblob, fresh),
		cmocka_unit_test_setup(test_tsm_refuses_a_racing_writer, fresh),
		cmocka_unit_test_setup(test_tsm_refuses_a_provider_change, fresh),
		cmocka_unit_test_setup(test_tsm_refuses_unknown_provider_and_absent_configfs,
				       fresh),
		cmocka_unit_test_setup(test_tsm_refuses_stale_report_data, fresh),
		cmocka_unit_test_setup(test_snp_refuses_bad_cert_tables, fresh),
		cmocka_unit_test_setup(test_tdx_guest_checks_the_quote_against_the_tdreport, fresh),
		cmocka_unit_test_setup(test_tdx_guest_needs_its_device_and_a_tdx_provider, fresh),
		cmocka_unit_test_setup(test_sev_guest_report_verifies, fresh),
		cmocka_unit_test_setup(test_sev_guest_grows_the_certs_buffer_when_told, fresh),
		cmocka_unit_test_setup(test_sev_guest_reports_ioctl_and_firmware_errors, fresh),
		cmocka_unit_test_setup(test_auto_probes_in_order_and_never_picks_sim, fresh),
		cmocka_unit_test_setup(test_auto_prefers_tsm, fresh),
		cmocka_unit_test_setup(test_tdx_measures_into_rtmr3_through_sysfs, fresh),
		cmocka_unit_test_setup(test_tdx_measure_fails_without_the_sysfs_register, fresh),
		cmocka_unit_test_setup(test_snp_without_tpm_has_no_runtime_register, fresh),
		cmocka_unit_test_setup(test_measure_refuses_bad_names_and_values, fresh),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
