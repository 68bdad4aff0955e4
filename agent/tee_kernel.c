/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel TEE backends (docs/design.md §5.2, docs/measurements.md):
 *  - "tsm": configfs-tsm (Linux Documentation/ABI/testing/configfs-tsm-report):
 *    a report entry per request, inblob in, provider, outblob and auxblob
 *    out, the generation counter checked for a racing writer;
 *  - "tdx-guest": /dev/tdx_guest TDX_CMD_GET_REPORT0 for the TDREPORT, the
 *    quote through configfs-tsm, and the two checked against each other;
 *  - "sev-guest": /dev/sev-guest SNP_GET_EXT_REPORT with its certificate table.
 * A TDX backend's runtime register is RTMR3, extended through sysfs.
 *
 * Every answer of the kernel is parsed as hostile: the host behind it makes
 * the quote (TDX QGS) and the certificate table (SNP), so sizes are bounded,
 * report_data must be ours, and table entries must lie apart and in range.
 * All paths are under cfg.root and every ioctl, mkdir, rmdir and attribute
 * write goes through cfg.ops, so that host tests run each backend against
 * a fake tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sev-guest.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

#define TSM_REPORT_DIR "/sys/kernel/config/tsm/report"
/* Linux Documentation/ABI/testing/sysfs-devices-virtual-misc-tdx_guest (Linux 6.16) */
#define TDX_RTMR3_PATH "/sys/class/misc/tdx_guest/measurements/rtmr3:sha384"
/* The CCEL ACPI table's log area, as Trustee's TDX attester sends it as cc_eventlog */
#define CCEL_PATH "/sys/firmware/acpi/tables/data/CCEL"
#define CCEL_CAP (256u * 1024)

/*
 * Linux include/uapi/linux/tdx-guest.h, which Debian 12's headers lack.
 * Upstream has no ioctl to extend an RTMR: the sysfs attribute is the only
 * kernel interface for it, so there is no ioctl fallback here.
 */
struct tdx_report_req {
	uint8_t reportdata[64]; /* TDX_REPORTDATA_LEN */
	uint8_t tdreport[1024]; /* TDX_REPORT_LEN */
};
_Static_assert(sizeof(struct tdx_report_req) == 1088, "struct tdx_report_req");
#define TDX_CMD_GET_REPORT0 _IOWR('T', 1, struct tdx_report_req)

/* SEV-SNP ABI (AMD 56860) MSG_REPORT_RSP: status, report size, reserved, the report at 0x20. */
#define SNP_RSP_STATUS 0x00
#define SNP_RSP_SIZE 0x04
#define SNP_RSP_REPORT 0x20
/* The kernel takes at most SEV_FW_BLOB_MAX_SIZE of certificates (Linux include/linux/psp-sev.h). */
#define SNP_CERTS_FIRST (2u * 4096)
#define SNP_CERTS_MAX (16u * 1024)

enum kind { KIND_TSM, KIND_TDX_GUEST, KIND_SEV_GUEST };

struct ktee {
	struct tee tee;
	enum kind kind;
	bool tdx;	   /* the platform: TDX, else SEV-SNP */
	char provider[32]; /* configfs-tsm's provider when opened */
	int fd;		   /* /dev/tdx_guest or /dev/sev-guest */
	unsigned seq;	   /* report entries made */
};

/* ---- paths and the kernel's operations ---- */

static int kpath(const struct tee_config *cfg, char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int kpath(const struct tee_config *cfg, char *out, size_t cap, const char *fmt, ...)
{
	int n = snprintf(out, cap, "%s", cfg->root ? cfg->root : ""), m;
	va_list ap;

	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(out + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
	return m < 0 || (size_t)m >= cap - (size_t)n ? -ENAMETOOLONG : 0;
}

static int k_ioctl(const struct tee_config *cfg, int fd, unsigned long req, void *arg)
{
	if (cfg->ops && cfg->ops->ioctl)
		return cfg->ops->ioctl(cfg->ops->ctx, fd, req, arg);
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static int k_mkdir(const struct tee_config *cfg, const char *path)
{
	if (cfg->ops && cfg->ops->mkdir)
		return cfg->ops->mkdir(cfg->ops->ctx, path);
	return mkdir(path, 0700) < 0 ? -errno : 0;
}

static int k_rmdir(const struct tee_config *cfg, const char *path)
{
	if (cfg->ops && cfg->ops->rmdir)
		return cfg->ops->rmdir(cfg->ops->ctx, path);
	return rmdir(path) < 0 ? -errno : 0;
}

/* Attributes take one write at offset 0; a short write is an error, not a retry. */
static int k_write(const struct tee_config *cfg, const char *path, const void *p, size_t n)
{
	ssize_t w;
	int fd, r;

	if (cfg->ops && cfg->ops->write)
		return cfg->ops->write(cfg->ops->ctx, path, p, n);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	w = write(fd, p, n);
	r = w < 0 ? -errno : (size_t)w != n ? -EIO : 0;
	close(fd);
	return r;
}

/* ---- configfs-tsm ---- */

struct tsm_answer {
	char provider[32];
	uint8_t *out, *aux;
	size_t out_len, aux_len;
};

static void tsm_answer_free(struct tsm_answer *a)
{
	free(a->out);
	free(a->aux);
	memset(a, 0, sizeof(*a));
}

/* A decimal counter, as configfs prints it ("%u\n"). */
static int read_generation(const char *entry, uint64_t *v)
{
	_cleanup_free_ uint8_t *t = NULL;
	size_t n = 0, i = 0;
	int r = file_read_at(entry, "generation", 32, &t, &n);

	if (r < 0)
		return r;
	if (n && t[n - 1] == '\n')
		n--;
	if (!n || n > 19)
		return -EBADMSG;
	for (*v = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -EBADMSG;
		*v = *v * 10 + (uint64_t)(t[i] - '0');
	}
	return 0;
}

/* A provider name: [a-z0-9_], as the kernel's drivers are named (KBUILD_MODNAME). */
static int read_provider(const char *entry, char out[32])
{
	_cleanup_free_ uint8_t *t = NULL;
	size_t n = 0;
	int r = file_read_at(entry, "provider", 64, &t, &n);

	if (r < 0)
		return r;
	if (n && t[n - 1] == '\n')
		n--;
	if (!n || n > 31)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_'))
			return -EBADMSG;
	memcpy(out, t, n);
	out[n] = 0;
	return 0;
}

/* outblob must be there; auxblob may be absent (TDX has none). */
static int read_blob(const char *entry, const char *name, bool optional, size_t cap, uint8_t **p,
		     size_t *n, char *err, size_t errlen)
{
	int r = file_read_at(entry, name, cap, p, n);

	if (r == -ENOENT && optional)
		return 0;
	if (r == -EFBIG)
		return set_error(err, errlen, -EBADMSG, "tsm: %s is larger than %zu bytes", name,
				 cap);
	if (r < 0)
		return set_error(err, errlen, r, "tsm: %s: %s", name, strerror(-r));
	return 0;
}

/*
 * One request in a fresh entry: the generation must count exactly our
 * write of inblob when outblob has been read, or another writer raced us
 * (configfs-tsm-report, "generation").
 */
static int tsm_exchange(const struct tee_config *cfg, const char *entry, const uint8_t rd[64],
			struct tsm_answer *a, char *err, size_t errlen)
{
	char path[4200];
	uint64_t g0, g1;
	int r;

	if (read_generation(entry, &g0) < 0)
		return set_error(err, errlen, -EBADMSG, "tsm: generation unreadable");
	if (snprintf(path, sizeof(path), "%s/inblob", entry) >= (int)sizeof(path))
		return set_error(err, errlen, -ENAMETOOLONG, "tsm: path too long");
	r = k_write(cfg, path, rd, 64);
	if (r < 0)
		return set_error(err, errlen, r, "tsm: inblob: %s", strerror(-r));
	if (read_provider(entry, a->provider) < 0)
		return set_error(err, errlen, -EBADMSG, "tsm: provider unreadable or malformed");
	r = read_blob(entry, "outblob", false, CVM_CAP_EVIDENCE, &a->out, &a->out_len, err, errlen);
	if (r == 0)
		r = read_blob(entry, "auxblob", true, CVM_CAP_CERT, &a->aux, &a->aux_len, err,
			      errlen);
	if (r < 0)
		return r;
	if (read_generation(entry, &g1) < 0)
		return set_error(err, errlen, -EBADMSG, "tsm: generation unreadable");
	if (g1 != g0 + 1)
		return set_error(err, errlen, -EAGAIN,
				 "tsm: generation went from %llu to %llu: another writer raced "
				 "this report",
				 (unsigned long long)g0, (unsigned long long)g1);
	return 0;
}

static int tsm_entry(struct ktee *k, char *path, size_t cap)
{
	return kpath(&k->tee.cfg, path, cap, TSM_REPORT_DIR "/cvm-%d-%u", (int)getpid(), k->seq++);
}

static int tsm_report(struct ktee *k, const uint8_t rd[64], struct tsm_answer *a, char *err,
		      size_t errlen)
{
	char entry[4096];
	int r;

	memset(a, 0, sizeof(*a));
	if (tsm_entry(k, entry, sizeof(entry)) < 0)
		return set_error(err, errlen, -ENAMETOOLONG, "tsm: path too long");
	r = k_mkdir(&k->tee.cfg, entry);
	if (r < 0)
		return set_error(err, errlen, r, "tsm: cannot make a report entry: %s",
				 strerror(-r));
	r = tsm_exchange(&k->tee.cfg, entry, rd, a, err, errlen);
	k_rmdir(&k->tee.cfg, entry);
	if (r == 0 && strcmp(a->provider, k->provider))
		r = set_error(err, errlen, -EBADMSG, "tsm: provider changed from %s to %s",
			      k->provider, a->provider);
	if (r < 0)
		tsm_answer_free(a);
	return r;
}

/* The provider behind configfs-tsm, from an entry made and removed for the asking. */
static int tsm_probe(struct ktee *k, char *err, size_t errlen)
{
	char dir[4096], entry[4096];
	struct stat st;
	int r;

	if (kpath(&k->tee.cfg, dir, sizeof(dir), TSM_REPORT_DIR) < 0 ||
	    tsm_entry(k, entry, sizeof(entry)) < 0)
		return set_error(err, errlen, -ENAMETOOLONG, "tsm: path too long");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return set_error(err, errlen, -ENODEV, "tsm: no %s (Linux 6.7 or later)", dir);
	r = k_mkdir(&k->tee.cfg, entry);
	if (r < 0)
		return set_error(err, errlen, -ENODEV, "tsm: cannot make a report entry: %s",
				 strerror(-r));
	r = read_provider(entry, k->provider);
	k_rmdir(&k->tee.cfg, entry);
	if (r < 0)
		return set_error(err, errlen, -ENODEV, "tsm: provider unreadable or malformed");
	if (!strcmp(k->provider, "tdx_guest"))
		k->tdx = true;
	else if (strcmp(k->provider, "sev_guest"))
		return set_error(err, errlen, -ENODEV,
				 "tsm: provider %s is not tdx_guest or sev_guest", k->provider);
	return 0;
}

/* ---- SEV-SNP: the report and its certificate table ---- */

enum cert_kind { CERT_VCEK, CERT_VLEK, CERT_ASK, CERT_ARK, CERT_KINDS };

/* GHCB specification (AMD 56421) §4.1.8.1, in RFC 4122 byte order (as uuid_parse writes them). */
static const uint8_t cert_guids[CERT_KINDS][16] = {
	[CERT_VCEK] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9,
			0x3b, 0xe8, 0xac, 0xcd },
	[CERT_VLEK] = { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0,
			0x45, 0xa0, 0xb8, 0xa1 },
	[CERT_ASK] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3,
		       0x27, 0xc7, 0x82 },
	[CERT_ARK] = { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01,
		       0x4c, 0xd0, 0xae },
};

#define CERT_ENTRY_SIZE 24
#define CERT_MAX_ENTRIES 32

/*
 * Hosts write the GUIDs either in RFC 4122 order or, as EFI and Linux's
 * guid_t do, with the first three fields little-endian; both name the same
 * certificate, whose chain the verifier checks anyway.
 */
static int cert_kind_of(const uint8_t g[16])
{
	for (int k = 0; k < CERT_KINDS; k++) {
		const uint8_t *c = cert_guids[k];
		const uint8_t mixed[8] = { c[3], c[2], c[1], c[0], c[5], c[4], c[7], c[6] };

		if (!memcmp(g, c, 16) || (!memcmp(g, mixed, 8) && !memcmp(g + 8, c + 8, 8)))
			return k;
	}
	return -1;
}

struct cert_table {
	struct span cert[CERT_KINDS];
};

/*
 * The table: entries {GUID, offset, length} up to an all-zero one, offsets
 * from the table's start. Each certificate must lie past the table, inside
 * the buffer, apart from every other; a kind named twice is refused.
 */
static int cert_table_parse(const uint8_t *buf, size_t len, struct cert_table *t, char *err,
			    size_t errlen)
{
	uint64_t start[CERT_MAX_ENTRIES], end[CERT_MAX_ENTRIES];
	size_t n = 0, table_end;

	memset(t, 0, sizeof(*t));
	for (;; n++) {
		const uint8_t *e = buf + n * CERT_ENTRY_SIZE;

		if (n == CERT_MAX_ENTRIES || (n + 1) * CERT_ENTRY_SIZE > len)
			return set_error(err, errlen, -EBADMSG,
					 "certificate table has no end within %zu bytes", len);
		if (is_zero(e, CERT_ENTRY_SIZE))
			break;
		start[n] = le32(e + 16);
		end[n] = start[n] + le32(e + 20);
	}
	table_end = (n + 1) * CERT_ENTRY_SIZE;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = buf + i * CERT_ENTRY_SIZE;
		int k = cert_kind_of(e);

		if (end[i] == start[i] || start[i] < table_end || end[i] > len)
			return set_error(
				err, errlen, -EBADMSG,
				"certificate table entry %zu lies outside the certificate area", i);
		for (size_t j = 0; j < i; j++)
			if (start[i] < end[j] && start[j] < end[i])
				return set_error(err, errlen, -EBADMSG,
						 "certificate table entries %zu and %zu overlap", j,
						 i);
		if (k < 0)
			continue; /* CRLs and vendor entries carry nothing the chain needs */
		if (t->cert[k].p)
			return set_error(err, errlen, -EBADMSG,
					 "certificate table names a certificate twice");
		t->cert[k] = span_make(buf + start[i], (size_t)(end[i] - start[i]));
	}
	return 0;
}

/* The certificates a verifier needs: VCEK or VLEK as the report says it is signed, ASK, ARK. */
static int snp_certs_from_table(const struct cert_table *t, bool vlek, struct snp_certs *c,
				char *err, size_t errlen)
{
	const struct span leaf = t->cert[vlek ? CERT_VLEK : CERT_VCEK];

	memset(c, 0, sizeof(*c));
	if (!leaf.p)
		return set_error(err, errlen, -EBADMSG,
				 "the host's certificate table has no %s (the broker needs it)",
				 vlek ? "VLEK" : "VCEK");
	if (x509_load_one(leaf.p, leaf.len, &c->vcek) < 0 ||
	    (t->cert[CERT_ASK].p &&
	     x509_load_one(t->cert[CERT_ASK].p, t->cert[CERT_ASK].len, &c->ask) < 0) ||
	    (t->cert[CERT_ARK].p &&
	     x509_load_one(t->cert[CERT_ARK].p, t->cert[CERT_ARK].len, &c->ark) < 0)) {
		snp_certs_free(c);
		ERR_clear_error();
		return set_error(err, errlen, -EBADMSG,
				 "a certificate of the host's table does not parse");
	}
	return 0;
}

/* Trustee's SNP evidence: {"attestation_report": <sev crate JSON>, "cert_chain": [...]}. */
static int snp_evidence_json(const uint8_t *rep, size_t len, const uint8_t rd[64],
			     const uint8_t *table, size_t tlen, cJSON **out, char *err,
			     size_t errlen)
{
	struct snp_report r;
	struct verdict v;
	struct cert_table t;
	struct snp_certs certs;
	unsigned signer;
	cJSON *o, *report, *chain;
	int rc;

	if (len != SNP_REPORT_SIZE)
		return set_error(err, errlen, -EBADMSG, "the report is %zu bytes, not %u", len,
				 SNP_REPORT_SIZE);
	verdict_init(&v, PLATFORM_SNP);
	if (snp_report_parse(rep, len, &r, &v) < 0 || !verdict_ok(&v))
		return set_error(err, errlen, -EBADMSG, "the report does not parse: %s",
				 verdict_first_failure(&v) ? verdict_first_failure(&v)->detail
							   : "format");
	if (CRYPTO_memcmp(r.report_data, rd, 64))
		return set_error(err, errlen, -EBADMSG,
				 "the report binds other report_data (stale or not ours)");
	signer = (r.flags >> 2) & 7; /* SIGNING_KEY: 0 VCEK, 1 VLEK (ABI 56860 Table 23) */
	if (signer > 1)
		return set_error(err, errlen, -EBADMSG, "the report is signed by no VCEK or VLEK");
	if (!table || !tlen)
		return set_error(err, errlen, -EBADMSG,
				 "the host supplied no certificate table (the broker needs the %s)",
				 signer ? "VLEK" : "VCEK");
	rc = cert_table_parse(table, tlen, &t, err, errlen);
	if (rc == 0)
		rc = snp_certs_from_table(&t, signer == 1, &certs, err, errlen);
	if (rc < 0)
		return rc;
	o = cJSON_CreateObject();
	report = snp_report_to_sev_json(rep);
	chain = snp_certs_to_sev_json(&certs, signer == 1);
	snp_certs_free(&certs);
	if (!o || !report || !chain) {
		cJSON_Delete(o);
		cJSON_Delete(report);
		cJSON_Delete(chain);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(o, "attestation_report", report);
	cJSON_AddItemToObject(o, "cert_chain", chain);
	*out = o;
	return 0;
}

/* ---- TDX: the quote ---- */

static int tdx_quote_check(const uint8_t *quote, size_t len, const uint8_t rd[64],
			   struct tdx_quote *q, char *err, size_t errlen)
{
	struct verdict v;

	verdict_init(&v, PLATFORM_TDX);
	if (tdx_quote_parse(quote, len, q, &v) < 0 || !verdict_ok(&v))
		return set_error(err, errlen, -EBADMSG, "the quote does not parse: %s",
				 verdict_first_failure(&v) ? verdict_first_failure(&v)->detail
							   : "format");
	if (CRYPTO_memcmp(q->body.report_data, rd, 64))
		return set_error(err, errlen, -EBADMSG,
				 "the quote binds other report_data (stale or not ours)");
	return 0;
}

/* Trustee's TDX evidence: {"cc_eventlog": base64 CCEL | null, "quote": base64}. */
static int tdx_evidence_json(const struct tee_config *cfg, const uint8_t *quote, size_t len,
			     cJSON **out)
{
	_cleanup_free_ uint8_t *ccel = NULL;
	_cleanup_free_ char *q64 = NULL, *c64 = NULL;
	char path[4096];
	size_t n = 0;
	cJSON *o;

	if (kpath(cfg, path, sizeof(path), CCEL_PATH) == 0 &&
	    file_read(path, CCEL_CAP, &ccel, &n) == 0 && n &&
	    base64_encode(ccel, n, BASE64_STD, &c64) < 0)
		return -ENOMEM;
	if (base64_encode(quote, len, BASE64_STD, &q64) < 0 || !(o = cJSON_CreateObject()))
		return -ENOMEM;
	if (!(c64 ? cJSON_AddStringToObject(o, "cc_eventlog", c64)
		  : cJSON_AddNullToObject(o, "cc_eventlog")) ||
	    !cJSON_AddStringToObject(o, "quote", q64)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

/* RTMR3 through the kernel's measurement registers in sysfs: one write of 48 bytes extends. */
static int rtmr3_extend(struct tee *t, const uint8_t *digest, size_t len, char *err, size_t errlen)
{
	char path[4096];
	int r;

	if (len != 48)
		return set_error(err, errlen, -EINVAL, "E_MEASURE: RTMR3 takes SHA-384");
	if (kpath(&t->cfg, path, sizeof(path), TDX_RTMR3_PATH) < 0)
		return set_error(err, errlen, -ENAMETOOLONG, "E_MEASURE: path too long");
	r = k_write(&t->cfg, path, digest, 48);
	if (r == -ENOENT)
		return set_error(err, errlen, r,
				 "E_MEASURE: RTMR3: no %s (the kernel's measurement registers need "
				 "Linux 6.16)",
				 path);
	if (r < 0)
		return set_error(err, errlen, r, "E_MEASURE: RTMR3: %s", strerror(-r));
	return 0;
}

/* ---- the backends ---- */

static int tsm_evidence(struct tee *t, const uint8_t rd[64], cJSON **out, char *err, size_t errlen)
{
	struct ktee *k = (struct ktee *)t;
	struct tsm_answer a;
	struct tdx_quote q;
	int r = tsm_report(k, rd, &a, err, errlen);

	if (r < 0)
		return r;
	if (k->tdx) {
		r = tdx_quote_check(a.out, a.out_len, rd, &q, err, errlen);
		if (r == 0)
			r = tdx_evidence_json(&t->cfg, a.out, a.out_len, out);
	} else {
		r = snp_evidence_json(a.out, a.out_len, rd, a.aux, a.aux_len, out, err, errlen);
	}
	tsm_answer_free(&a);
	return r;
}

/*
 * TDREPORT_STRUCT (Intel TDX Module ABI specification): REPORTMACSTRUCT
 * (REPORTDATA at 128), TEE_TCB_INFO at 256 (TEE_TCB_SVN at +8, MRSEAM at
 * +24, MRSIGNERSEAM at +72, ATTRIBUTES at +120), TDINFO_STRUCT at 512
 * (ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3).
 * The quote's TD report body must say what our TDREPORT says.
 */
static bool tdreport_matches(const uint8_t tdr[1024], const struct tdx_report_body *b)
{
	const struct {
		size_t off;
		const uint8_t *body;
		size_t len;
	} f[] = {
		{ 128, b->report_data, 64 },	   { 256 + 8, b->tee_tcb_svn, 16 },
		{ 256 + 24, b->mrseam, 48 },	   { 256 + 72, b->mrsignerseam, 48 },
		{ 512, b->td_attributes, 8 },	   { 512 + 8, b->xfam, 8 },
		{ 512 + 16, b->mrtd, 48 },	   { 512 + 64, b->mrconfigid, 48 },
		{ 512 + 112, b->mrowner, 48 },	   { 512 + 160, b->mrownerconfig, 48 },
		{ 512 + 208, b->rtmr[0], 4 * 48 },
	};

	if (tdr[0] != 0x81) /* REPORTTYPE.TYPE: TDX */
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (memcmp(tdr + f[i].off, f[i].body, f[i].len))
			return false;
	return true;
}

static int tdx_guest_evidence(struct tee *t, const uint8_t rd[64], cJSON **out, char *err,
			      size_t errlen)
{
	struct ktee *k = (struct ktee *)t;
	struct tdx_report_req req;
	struct tsm_answer a;
	struct tdx_quote q;
	int r;

	memset(&req, 0, sizeof(req));
	memcpy(req.reportdata, rd, 64);
	r = k_ioctl(&t->cfg, k->fd, TDX_CMD_GET_REPORT0, &req);
	if (r < 0)
		return set_error(err, errlen, r, "tdx-guest: TDX_CMD_GET_REPORT0: %s",
				 strerror(-r));
	r = tsm_report(k, rd, &a, err, errlen);
	if (r < 0)
		return r;
	r = tdx_quote_check(a.out, a.out_len, rd, &q, err, errlen);
	if (r == 0 && !tdreport_matches(req.tdreport, &q.body))
		r = set_error(err, errlen, -EBADMSG,
			      "tdx-guest: the quote is not of this TD's TDREPORT");
	if (r == 0)
		r = tdx_evidence_json(&t->cfg, a.out, a.out_len, out);
	tsm_answer_free(&a);
	return r;
}

/* The firmware's and the host's answers to a failed request (sev-guest.h, exitinfo2). */
static int sev_guest_error(int r, const struct snp_guest_request_ioctl *io, char *err,
			   size_t errlen)
{
	return set_error(err, errlen, r,
			 "sev-guest: SNP_GET_EXT_REPORT: %s (firmware error 0x%x, VMM error 0x%x)",
			 strerror(-r), io->fw_error, io->vmm_error);
}

/* SNP_GET_EXT_REPORT, growing the certificate buffer when the kernel says it is too small. */
static int sev_guest_request(struct ktee *k, const uint8_t rd[64], struct snp_report_resp *resp,
			     uint8_t **certs, size_t *certs_len, char *err, size_t errlen)
{
	struct snp_ext_report_req req;
	struct snp_guest_request_ioctl io;
	size_t size = SNP_CERTS_FIRST;

	for (int attempt = 0; attempt < 3; attempt++) {
		uint8_t *buf = calloc(1, size);
		int r;

		if (!buf)
			return -ENOMEM;
		/* VMPL 0, the guest's own level, as reference values expect by default */
		memset(&req, 0, sizeof(req));
		memcpy(req.data.user_data, rd, 64);
		req.certs_address = (uint64_t)(uintptr_t)buf;
		req.certs_len = (uint32_t)size;
		memset(&io, 0, sizeof(io));
		io.msg_version = 1;
		io.req_data = (uint64_t)(uintptr_t)&req;
		io.resp_data = (uint64_t)(uintptr_t)resp;
		r = k_ioctl(&k->tee.cfg, k->fd, SNP_GET_EXT_REPORT, &io);
		if (r == 0) {
			*certs = buf;
			*certs_len = size;
			return 0;
		}
		free(buf);
		if (r != -EIO || io.vmm_error != SNP_GUEST_VMM_ERR_INVALID_LEN)
			return sev_guest_error(r, &io, err, errlen);
		/* The kernel answers with the size it needs: more, in pages, within its cap. */
		if (req.certs_len <= size || req.certs_len > SNP_CERTS_MAX || req.certs_len % 4096)
			return set_error(err, errlen, -EBADMSG,
					 "sev-guest: the kernel asks for a certificate buffer of "
					 "%u bytes",
					 req.certs_len);
		size = req.certs_len;
	}
	return set_error(err, errlen, -EBADMSG,
			 "sev-guest: the certificate buffer was too small three times");
}

static int sev_guest_evidence(struct tee *t, const uint8_t rd[64], cJSON **out, char *err,
			      size_t errlen)
{
	struct ktee *k = (struct ktee *)t;
	struct snp_report_resp resp;
	_cleanup_free_ uint8_t *certs = NULL;
	size_t certs_len = 0;
	uint32_t status, size;
	int r;

	memset(&resp, 0, sizeof(resp));
	r = sev_guest_request(k, rd, &resp, &certs, &certs_len, err, errlen);
	if (r < 0)
		return r;
	status = le32(resp.data + SNP_RSP_STATUS);
	size = le32(resp.data + SNP_RSP_SIZE);
	if (status)
		return set_error(err, errlen, -EIO, "sev-guest: the firmware answered status 0x%x",
				 status);
	if (size > sizeof(resp.data) - SNP_RSP_REPORT)
		return set_error(err, errlen, -EBADMSG, "sev-guest: report size %u out of range",
				 size);
	return snp_evidence_json(resp.data + SNP_RSP_REPORT, size, rd, certs, certs_len, out, err,
				 errlen);
}

static void ktee_close(struct tee *t)
{
	struct ktee *k = (struct ktee *)t;

	if (k->fd >= 0)
		close(k->fd);
	free(k);
}

static int ktee_new(const struct tee_config *cfg, enum kind kind, struct ktee **out)
{
	static const char *const names[] = { "tsm", "tdx-guest", "sev-guest" };
	static int (*const evidence[])(struct tee *, const uint8_t[64], cJSON **, char *,
				       size_t) = { tsm_evidence, tdx_guest_evidence,
						   sev_guest_evidence };
	struct ktee *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->tee = (struct tee){
		.name = names[kind], .evidence = evidence[kind], .close = ktee_close, .cfg = *cfg
	};
	k->kind = kind;
	k->fd = -1;
	*out = k;
	return 0;
}

static int open_device(struct ktee *k, const char *dev, char *err, size_t errlen)
{
	char path[4096];

	if (kpath(&k->tee.cfg, path, sizeof(path), "/dev/%s", dev) < 0)
		return set_error(err, errlen, -ENAMETOOLONG, "%s: path too long", k->tee.name);
	k->fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (k->fd < 0)
		return set_error(err, errlen, -ENODEV, "%s: %s: %s", k->tee.name, path,
				 strerror(errno));
	return 0;
}

/* The platform, and for TDX its runtime register. */
static int ktee_finish(struct ktee *k, struct tee **out)
{
	k->tee.kbs_tee = k->tdx ? "tdx" : "snp";
	if (k->tdx) {
		k->tee.extend = rtmr3_extend;
		k->tee.runtime = PLATFORM_TDX;
	}
	*out = &k->tee;
	return 0;
}

int tee_tsm_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	struct ktee *k;
	int r = ktee_new(cfg, KIND_TSM, &k);

	if (r < 0)
		return r;
	r = tsm_probe(k, err, errlen);
	if (r < 0) {
		ktee_close(&k->tee);
		return r;
	}
	return ktee_finish(k, out);
}

int tee_tdx_guest_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	struct ktee *k;
	int r = ktee_new(cfg, KIND_TDX_GUEST, &k);

	if (r < 0)
		return r;
	r = open_device(k, "tdx_guest", err, errlen);
	/* The quote comes from the host's quoting enclave, which the kernel reaches for us. */
	if (r == 0 && (r = tsm_probe(k, err, errlen)) == 0 && !k->tdx)
		r = set_error(err, errlen, -ENODEV, "tdx-guest: configfs-tsm's provider is %s",
			      k->provider);
	if (r < 0) {
		ktee_close(&k->tee);
		return r;
	}
	return ktee_finish(k, out);
}

int tee_sev_guest_open(const struct tee_config *cfg, struct tee **out, char *err, size_t errlen)
{
	struct ktee *k;
	int r = ktee_new(cfg, KIND_SEV_GUEST, &k);

	if (r < 0)
		return r;
	r = open_device(k, "sev-guest", err, errlen);
	if (r < 0) {
		ktee_close(&k->tee);
		return r;
	}
	return ktee_finish(k, out);
}
