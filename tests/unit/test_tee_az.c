/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The az backend against a real TPM (swtpm, started and stopped by PID)
 * provisioned as Azure's paravisor leaves it: an RSA AK at 0x81000003 and an
 * HCL report in NV 0x01400001 made here (az-cvm-vtpm src/hcl/mod.rs layout),
 * whose runtime data carries the AK as HCLAkPub and whose SEV-SNP report,
 * signed by the test PKI's VCEK, binds SHA-256 of that runtime data. The
 * host's metadata service is a small HTTP server on loopback that serves
 * the test VCEK (THIM) and answers TD quote requests. First a real Azure
 * SEV-SNP guest's HCL report (tests/data/azure), whole and cut short.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/measurement.h"
#include "tests/unit/support/sim.h"

#define NV_HCL 0x01400001u
#define NV_RD 0x01400002u
#define AK_HANDLE 0x81000003u
#define HCL_VAR_OFF 1236
#define TD_REPORT_LEN 1024

static char dir[400], tcti[128], tpm_pid[600], imds_pid[600], imds_url[64];
static uint8_t ak_n[256];
static size_t ak_n_len;

/* The report_data the provisioned HCL report carries as user-data (a SHA-384, padded). */
static uint8_t rd_fresh[64];

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void stop_pid(const char *pidfile)
{
	size_t len;
	uint8_t *pid = sim_read(pidfile, &len);
	long v = pid ? strtol((char *)pid, NULL, 10) : 0;

	if (v > 1)
		kill((pid_t)v, SIGTERM);
	free(pid);
}

static void tpm_start(void)
{
	char cmd[4096], state[500];
	int port;

	snprintf(state, sizeof(state), "%s/tpm", dir);
	snprintf(tpm_pid, sizeof(tpm_pid), "%s/swtpm.pid", state);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s && mkdir -p %s && swtpm_setup --tpm2 --tpmstate %s --pcr-banks sha256 "
		 "--overwrite --config /dev/null >%s/setup.log 2>&1",
		 state, state, state, state);
	sh(cmd);
	port = sim_swtpm_tcp(state, tpm_pid);
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
}

/* The metadata service: THIM's certification (GET) and the TD quote service (POST). */
static const char imds_py[] =
	"import http.server, os, sys\n"
	"d = sys.argv[1]\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def reply(self, name):\n"
	"        if self.headers.get('Metadata') != 'true':\n"
	"            self.send_response(400); self.end_headers(); return\n"
	"        data = open(os.path.join(d, name), 'rb').read()\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Length', str(len(data)))\n"
	"        self.end_headers(); self.wfile.write(data)\n"
	"    def do_GET(self):\n"
	"        if self.path == '/metadata/THIM/amd/certification': self.reply('thim.json')\n"
	"        else: self.send_response(404); self.end_headers()\n"
	"    def do_POST(self):\n"
	"        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))\n"
	"        if self.path != '/acc/tdquote':\n"
	"            self.send_response(404); self.end_headers(); return\n"
	"        open(os.path.join(d, 'tdquote-request.json'), 'wb').write(body)\n"
	"        self.reply('tdquote.json')\n"
	"    def log_message(self, *a): pass\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"open(os.path.join(d, 'port.tmp'), 'w').write(str(s.server_address[1]))\n"
	"os.rename(os.path.join(d, 'port.tmp'), os.path.join(d, 'port'))\n"
	"s.serve_forever()\n";

static void imds_start(void)
{
	char cmd[3000], path[600];
	uint8_t *port = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/imds/imds.py", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/imds", dir);
	sh(cmd);
	sim_write(path, imds_py, strlen(imds_py));
	snprintf(imds_pid, sizeof(imds_pid), "%s/imds/pid", dir);
	snprintf(cmd, sizeof(cmd), "python3 %s %s/imds >%s/imds/log 2>&1 & echo $! >%s", path, dir,
		 dir, imds_pid);
	sh(cmd);
	snprintf(path, sizeof(path), "%s/imds/port", dir);
	for (int i = 0; i < 100 && access(path, F_OK) < 0; i++)
		usleep(50000);
	port = sim_read(path, &len);
	assert_non_null(port);
	snprintf(imds_url, sizeof(imds_url), "http://127.0.0.1:%.8s", (char *)port);
	free(port);
}

static void imds_file(const char *name, const char *text)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/imds/%s", dir, name);
	sim_write(path, text, strlen(text));
}

/* ---- provisioning the TPM as the paravisor does ---- */

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

static void tpm_connect(struct tpm *t)
{
	assert_int_equal(Tss2_TctiLdr_Initialize(tcti, &t->tcti), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_Initialize(&t->esys, t->tcti, NULL), TSS2_RC_SUCCESS);
}

static void tpm_disconnect(struct tpm *t)
{
	Esys_Finalize(&t->esys);
	Tss2_TctiLdr_Finalize(&t->tcti);
}

/* A restricted RSA-2048 RSASSA-SHA256 signing key, persisted at 0x81000003. */
static void make_ak(struct tpm *t)
{
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_RSA,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
					    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH,
			.parameters.rsaDetail = {
				.symmetric = { .algorithm = TPM2_ALG_NULL },
				.scheme = { .scheme = TPM2_ALG_RSASSA,
					    .details.rsassa.hashAlg = TPM2_ALG_SHA256 },
				.keyBits = 2048,
			},
		},
	};
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR key, persistent;

	assert_int_equal(Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
					    ESYS_TR_NONE, ESYS_TR_NONE,
					    &(TPM2B_SENSITIVE_CREATE){ 0 }, &tmpl,
					    &(TPM2B_DATA){ 0 }, &(TPML_PCR_SELECTION){ 0 }, &key,
					    &pub, NULL, NULL, NULL),
			 TSS2_RC_SUCCESS);
	assert_int_equal(Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, key, ESYS_TR_PASSWORD,
					   ESYS_TR_NONE, ESYS_TR_NONE, AK_HANDLE, &persistent),
			 TSS2_RC_SUCCESS);
	ak_n_len = pub->publicArea.unique.rsa.size;
	memcpy(ak_n, pub->publicArea.unique.rsa.buffer, ak_n_len);
	Esys_Free(pub);
	Esys_FlushContext(t->esys, key);
}

static bool defined(struct tpm *t, uint32_t handle)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 0;
	bool found;

	assert_int_equal(Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					    TPM2_CAP_HANDLES, handle, 1, &more, &cap),
			 TSS2_RC_SUCCESS);
	found = cap->data.handles.count == 1 && cap->data.handles.handle[0] == handle;
	Esys_Free(cap);
	return found;
}

static void nv_undefine(struct tpm *t, uint32_t index)
{
	ESYS_TR tr;

	if (defined(t, index) && Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE,
						       ESYS_TR_NONE, &tr) == TSS2_RC_SUCCESS)
		assert_int_equal(Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, tr,
						       ESYS_TR_PASSWORD, ESYS_TR_NONE,
						       ESYS_TR_NONE),
				 TSS2_RC_SUCCESS);
}

static void nv_put(struct tpm *t, uint32_t index, const uint8_t *p, size_t n)
{
	TPM2B_NV_PUBLIC pub = { .nvPublic = { .nvIndex = index,
					      .nameAlg = TPM2_ALG_SHA256,
					      .attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD |
							    TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE,
					      .dataSize = (uint16_t)n } };
	ESYS_TR tr;

	nv_undefine(t, index);
	assert_int_equal(Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
					     ESYS_TR_NONE, ESYS_TR_NONE, &(TPM2B_AUTH){ 0 }, &pub,
					     &tr),
			 TSS2_RC_SUCCESS);
	for (size_t off = 0; off < n; off += 512) {
		TPM2B_MAX_NV_BUFFER d = { .size = (uint16_t)(n - off < 512 ? n - off : 512) };

		memcpy(d.buffer, p + off, d.size);
		assert_int_equal(Esys_NV_Write(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
					       ESYS_TR_NONE, ESYS_TR_NONE, &d, (uint16_t)off),
				 TSS2_RC_SUCCESS);
	}
}

/* What the agent wrote to NV 0x01400002. */
static void nv_get64(uint32_t index, uint8_t out[64])
{
	TPM2B_MAX_NV_BUFFER *d = NULL;
	struct tpm t;
	ESYS_TR tr;

	tpm_connect(&t);
	assert_int_equal(
		Esys_TR_FromTPMPublic(t.esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr),
		TSS2_RC_SUCCESS);
	assert_int_equal(Esys_NV_Read(t.esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				      ESYS_TR_NONE, 64, 0, &d),
			 TSS2_RC_SUCCESS);
	assert_int_equal(d->size, 64);
	memcpy(out, d->buffer, 64);
	Esys_Free(d);
	tpm_disconnect(&t);
}

/* ---- the HCL report ---- */

enum hcl_shape { HCL_OK, HCL_TRUNCATED, HCL_SHORT };

static uint8_t hcl[2048];
static size_t hcl_len;
static uint8_t td_report[TD_REPORT_LEN];

/* The runtime data: the AK as HCLAkPub and rd as upper-case hex user-data, as Azure's. */
static char *runtime_data(const uint8_t rd[64])
{
	_cleanup_free_ char *n = NULL;
	char ud[129], *out = NULL;

	assert_int_equal(base64_encode(ak_n, ak_n_len, BASE64_URL, &n), 0);
	hex_encode(rd, 64, ud);
	for (char *c = ud; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	assert_true(asprintf(&out,
			     "{\"keys\":[{\"kid\":\"HCLAkPub\",\"key_ops\":[\"sign\"],"
			     "\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}],"
			     "\"vm-configuration\":{\"console-enabled\":false,"
			     "\"secure-boot\":true,\"tpm-enabled\":true},\"user-data\":\"%s\"}",
			     n, ud) > 0);
	return out;
}

/* az-cvm-vtpm src/hcl/mod.rs: header, hardware report, IgvmRequestData, runtime data. */
static void build_hcl(uint32_t type, enum hcl_shape shape)
{
	_cleanup_free_ char *var = runtime_data(rd_fresh);
	const size_t vlen = strlen(var);
	uint8_t var_sha[32];

	assert_true(HCL_VAR_OFF + vlen <= sizeof(hcl));
	SHA256((const uint8_t *)var, vlen, var_sha);
	memset(hcl, 0, sizeof(hcl));
	memcpy(hcl, "HCLA", 4);
	put_le(hcl + 4, 1, 4);
	put_le(hcl + 8, HCL_VAR_OFF + vlen, 4);
	put_le(hcl + 12, 2, 4);
	if (type == 4) {
		/* TDX module spec, REPORTMAC_STRUCT: REPORTDATA at 128 */
		for (size_t i = 0; i < TD_REPORT_LEN; i++)
			td_report[i] = (uint8_t)(i * 7 + 1);
		memset(td_report + 128, 0, 64);
		memcpy(td_report + 128, var_sha, 32);
		memcpy(hcl + 32, td_report, TD_REPORT_LEN);
	} else {
		struct sim_snp_fields f;
		char path[512];

		sim_snp_defaults(&f);
		f.vmpl = 0;
		memset(f.report_data, 0, 64);
		memcpy(f.report_data, var_sha, 32);
		sim_snp_report(&f, sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/vcek.key"),
			       hcl + 32);
	}
	put_le(hcl + 1216, 20 + vlen, 4);
	put_le(hcl + 1220, 1, 4);
	put_le(hcl + 1224, type, 4);
	put_le(hcl + 1228, 1, 4); /* SHA-256 */
	put_le(hcl + 1232, shape == HCL_TRUNCATED ? sizeof(hcl) : vlen, 4);
	memcpy(hcl + HCL_VAR_OFF, var, vlen);
	/* the NV index is larger than the report, zero-padded, as Azure's */
	hcl_len = shape == HCL_SHORT ? HCL_VAR_OFF - 4 : sizeof(hcl);
}

/* Provisions the TPM: the AK once, and the HCL report (type 0: none). */
static void provision(uint32_t type, enum hcl_shape shape)
{
	struct tpm t;

	tpm_connect(&t);
	if (!defined(&t, AK_HANDLE))
		make_ak(&t);
	nv_undefine(&t, NV_RD);
	if (type) {
		build_hcl(type, shape);
		nv_put(&t, NV_HCL, hcl, hcl_len);
	} else {
		nv_undefine(&t, NV_HCL);
	}
	tpm_disconnect(&t);
}

/* Provisions a real HCL report, or its first n bytes. */
static void provision_real(size_t n)
{
	char path[512];
	size_t len;
	uint8_t *rep = sim_read(
		sim_path(path, sizeof(path), "CVM_TOP", "tests/data/azure/hcl-report-snp.bin"),
		&len);
	struct tpm t;

	assert_true(n <= len);
	tpm_connect(&t);
	if (!defined(&t, AK_HANDLE))
		make_ak(&t);
	nv_put(&t, NV_HCL, rep, n ? n : len);
	tpm_disconnect(&t);
	free(rep);
}

static struct tee_config config(void)
{
	static char root[600];

	snprintf(root, sizeof(root), "%s/root", dir);
	return (struct tee_config){ .root = root, .tcti = tcti, .az_imds = imds_url };
}

/* ---- checking the evidence as a verifier would ---- */

static uint8_t *hex_member(const cJSON *o, const char *key, size_t *len)
{
	const char *s = NULL;
	uint8_t *p;

	assert_int_equal(json_get_string(o, key, &s), 0);
	*len = strlen(s) / 2;
	p = malloc(*len + 1);
	assert_int_equal(hex_decode(s, p, *len + 1, len), 0);
	return p;
}

/* serde_with Base64<UrlSafe>: padded; the padding is what makes it a multiple of 4. */
static uint8_t *b64url_member(const cJSON *o, const char *key, size_t *len)
{
	const char *s = NULL;
	uint8_t *p = NULL;
	size_t n;

	assert_int_equal(json_get_string(o, key, &s), 0);
	n = strlen(s);
	assert_int_equal(n % 4, 0);
	while (n && s[n - 1] == '=')
		n--;
	assert_int_equal(base64_decode(s, n, BASE64_URL, &p, len), 0);
	return p;
}

static EVP_PKEY *ak_key(void)
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *n = BN_bin2bn(ak_n, (int)ak_n_len, NULL), *e = BN_new();
	OSSL_PARAM *params;
	EVP_PKEY *k = NULL;

	assert_true(BN_set_word(e, 65537));
	assert_true(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n));
	assert_true(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e));
	params = OSSL_PARAM_BLD_to_param(b);
	assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
	assert_int_equal(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(c);
	BN_free(n);
	BN_free(e);
	return k;
}

/*
 * tpm_quote: the AK's RSASSA signature over the TPMS_ATTEST, a quote whose
 * qualifying data is the nonce and whose PCR digest is that of the 24 PCRs.
 */
static void check_quote(const cJSON *ev, const uint8_t *nonce, size_t n)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(ev, "tpm_quote"), *pcr;
	size_t slen, mlen, off = 0;
	uint8_t *sig = hex_member(q, "signature", &slen), *msg = hex_member(q, "message", &mlen);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *k = ak_key();
	uint8_t pcrs[24 * 32], digest[32];
	TPMS_ATTEST att;
	int count = 0;

	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, slen, msg, mlen), 1);
	assert_int_equal(Tss2_MU_TPMS_ATTEST_Unmarshal(msg, mlen, &off, &att), TSS2_RC_SUCCESS);
	assert_int_equal(off, mlen);
	assert_int_equal(att.magic, TPM2_GENERATED_VALUE);
	assert_int_equal(att.type, TPM2_ST_ATTEST_QUOTE);
	assert_int_equal(att.extraData.size, n);
	assert_memory_equal(att.extraData.buffer, nonce, n);
	assert_int_equal(att.attested.quote.pcrSelect.count, 1);
	assert_int_equal(att.attested.quote.pcrSelect.pcrSelections[0].hash, TPM2_ALG_SHA256);
	cJSON_ArrayForEach(pcr, cJSON_GetObjectItemCaseSensitive(q, "pcrs")) {
		assert_true(cJSON_IsString(pcr) && count < 24);
		assert_int_equal(hex_decode_exact(pcr->valuestring, pcrs + 32 * count++, 32), 0);
	}
	assert_int_equal(count, 24);
	SHA256(pcrs, sizeof(pcrs), digest);
	assert_int_equal(att.attested.quote.pcrDigest.size, 32);
	assert_memory_equal(att.attested.quote.pcrDigest.buffer, digest, 32);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	free(sig);
	free(msg);
}

/* The SNP report in the HCL report is signed by the VCEK of the evidence (56860 Table 23). */
static void check_snp_signature(const uint8_t *rep, const uint8_t *der, size_t dlen)
{
	const uint8_t *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)dlen);
	const uint8_t *report = rep + 32, *sig = report + 0x2A0;
	uint8_t r[48], s[48];

	assert_non_null(x);
	for (int i = 0; i < 48; i++) {
		r[i] = sig[47 - i];
		s[i] = sig[72 + 47 - i];
	}
	assert_int_equal(
		ecdsa_verify_raw(X509_get0_pubkey(x), EVP_sha384(), report, 0x2A0, r, s, 48), 0);
	X509_free(x);
}

static void pki_vcek(char **pem, uint8_t **der, size_t *dlen)
{
	char path[512];
	size_t len;
	X509 *x;
	BIO *b;
	uint8_t *d = NULL;

	*pem = (char *)sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/vcek.pem"), &len);
	assert_non_null(*pem);
	b = BIO_new_mem_buf(*pem, (int)len);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	*dlen = (size_t)i2d_X509(x, &d);
	*der = malloc(*dlen);
	memcpy(*der, d, *dlen);
	OPENSSL_free(d);
	X509_free(x);
	BIO_free(b);
}

static void serve_vcek(void)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL, *pem = NULL;
	_cleanup_free_ uint8_t *der = NULL;
	size_t dlen;

	pki_vcek(&pem, &der, &dlen);
	cJSON_AddStringToObject(o, "vcekCert", pem);
	cJSON_AddStringToObject(o, "certificateChain", "");
	text = cJSON_PrintUnformatted(o);
	imds_file("thim.json", text);
}

/* ---- the tests ---- */

static int group_setup(void **state)
{
	char cmd[1200];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tee_az", sim_env("CVM_TEST_TMP"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s/root", dir, dir);
	sh(cmd);
	/* a SHA-384 digest zero-padded to 64 bytes, as the protocol's report_data */
	for (int i = 0; i < 48; i++)
		rd_fresh[i] = (uint8_t)(0xa0 + i);
	tpm_start();
	imds_start();
	serve_vcek();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	stop_pid(tpm_pid);
	stop_pid(imds_pid);
	return 0;
}

static cJSON *evidence_of(const uint8_t rd[64], char *err, size_t errlen, int *r)
{
	struct tee_config cfg = config();
	struct tee *t = NULL;
	cJSON *ev = NULL;

	assert_int_equal(tee_open("az", &cfg, &t, err, errlen), 0);
	*r = t->evidence(t, rd, &ev, err, errlen);
	tee_close(t);
	return ev;
}

/* An Azure SEV-SNP guest's own HCL report (tests/data/README.md) makes auto take the az backend. */
static void test_real_snp_hcl_report_is_probed_as_az_snp(void **state)
{
	struct tee_config cfg = config();
	struct tee *t = NULL;
	char err[512] = "";

	(void)state;
	provision_real(0);
	assert_int_equal(tee_open("auto", &cfg, &t, err, sizeof(err)), 0);
	assert_string_equal(t->name, "az");
	assert_string_equal(t->kbs_tee, "az-snp-vtpm");
	tee_close(t);
	/* cut inside its runtime data: refused, and auto goes on to the plain TPM */
	provision_real(1300);
	assert_int_equal(tee_az_open(&cfg, &t, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "E_AZ_HCL: the runtime data (583 bytes) runs past"));
	assert_int_equal(tee_open("auto", &cfg, &t, err, sizeof(err)), 0);
	assert_string_equal(t->name, "tpm");
	tee_close(t);
}

/*
 * The evidence as the broker takes it: the az-snp-vtpm row's parse and
 * verify, with the test PKI's roots and its ASK (the built-in ASKs are
 * AMD's), binding rd_fresh and no other report_data.
 */
static void verify_as_broker(const cJSON *ev)
{
	struct kbs_evidence e;
	struct snp_verifier *sv = NULL;
	struct verdict v;
	enum cvm_platform tee;
	uint8_t reg[48], other[64];
	size_t reglen, len;
	char path[512], err[256] = "";
	_cleanup_free_ uint8_t *ask = NULL;
	BIO *b;

	assert_int_equal(kbs_tee_parse("az-snp-vtpm", &tee), 0);
	if (kbs_evidence_parse(tee, ev, &e, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	ask = sim_read(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/ask.pem"), &len);
	b = BIO_new_mem_buf(ask, (int)len);
	e.certs.ask = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(e.certs.ask);
	assert_int_equal(
		snp_verifier_new(sim_path(path, sizeof(path), "CVM_TEST_PKI", "snp/roots.pem"),
				 time(NULL), &sv),
		0);
	if (kbs_evidence_verify(&e, sv, NULL, NULL, rd_fresh, reg, &reglen, &v) != 0)
		fail_msg("%s", verdict_first_failure(&v)->detail);
	assert_int_equal(reglen, 32);
	memcpy(other, rd_fresh, 64);
	other[0] ^= 1;
	assert_int_equal(kbs_evidence_verify(&e, sv, NULL, NULL, other, reg, &reglen, &v), -1);
	assert_int_equal(verdict_first_failure(&v)->check, CHECK_REPORT_DATA);
	snp_verifier_free(sv);
	kbs_evidence_free(&e);
}

static void test_snp_evidence_is_trustees_shape_and_verifies(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *ev = NULL;
	_cleanup_free_ uint8_t *rep = NULL, *vcek = NULL, *want = NULL;
	_cleanup_free_ char *pem = NULL;
	struct tee_config cfg = config();
	struct tee *t = NULL;
	size_t rlen, vlen, wlen;
	uint8_t nv_rd[64];
	char err[256] = "";
	double version;

	(void)state;
	provision(2, HCL_OK);
	assert_int_equal(tee_open("az", &cfg, &t, err, sizeof(err)), 0);
	assert_string_equal(t->name, "az");
	assert_string_equal(t->kbs_tee, "az-snp-vtpm");
	assert_int_equal(t->evidence(t, rd_fresh, &ev, err, sizeof(err)), 0);
	tee_close(t);

	assert_int_equal(cJSON_GetArraySize(ev), 4);
	version = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "version"));
	assert_true(version == 2);
	/* the qualifying data is the SHA-384 digest itself, without the padding */
	check_quote(ev, rd_fresh, 48);
	rep = b64url_member(ev, "hcl_report", &rlen);
	assert_int_equal(rlen, hcl_len);
	assert_memory_equal(rep, hcl, hcl_len);
	vcek = b64url_member(ev, "vcek", &vlen);
	pki_vcek(&pem, &want, &wlen);
	assert_int_equal(vlen, wlen);
	assert_memory_equal(vcek, want, wlen);
	check_snp_signature(rep, vcek, vlen);
	/* the paravisor was asked to refresh the report with this report_data */
	nv_get64(NV_RD, nv_rd);
	assert_memory_equal(nv_rd, rd_fresh, 64);
	verify_as_broker(ev);
}

static void test_tdx_evidence_carries_the_td_quote_for_the_td_report(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *ev = NULL, *req = NULL;
	_cleanup_free_ uint8_t *rep = NULL, *q = NULL, *sent = NULL, *body = NULL;
	_cleanup_free_ char *quote_b64 = NULL, *answer = NULL;
	struct tee_config cfg = config();
	const uint8_t quote[] = "a TD quote is opaque to the guest";
	struct tee *t = NULL;
	const char *report = NULL;
	size_t rlen, qlen, slen, blen;
	char err[256] = "", path[600];

	(void)state;
	provision(4, HCL_OK);
	assert_int_equal(base64_encode(quote, sizeof(quote), BASE64_URL, &quote_b64), 0);
	assert_true(asprintf(&answer, "{\"quote\":\"%s\"}", quote_b64) > 0);
	imds_file("tdquote.json", answer);
	assert_int_equal(tee_open("auto", &cfg, &t, err, sizeof(err)), 0);
	assert_string_equal(t->name, "az");
	assert_string_equal(t->kbs_tee, "az-tdx-vtpm");
	assert_int_equal(t->evidence(t, rd_fresh, &ev, err, sizeof(err)), 0);
	tee_close(t);

	check_quote(ev, rd_fresh, 48);
	rep = b64url_member(ev, "hcl_report", &rlen);
	assert_memory_equal(rep, hcl, hcl_len);
	q = b64url_member(ev, "td_quote", &qlen);
	assert_int_equal(qlen, sizeof(quote));
	assert_memory_equal(q, quote, qlen);
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "vcek"));
	/* the quote service got the TD report of the HCL report, unpadded base64url */
	snprintf(path, sizeof(path), "%s/imds/tdquote-request.json", dir);
	body = sim_read(path, &blen);
	assert_non_null(body);
	assert_int_equal(json_parse((char *)body, blen, &req), 0);
	assert_int_equal(json_get_string(req, "report", &report), 0);
	assert_int_equal(base64_decode(report, strlen(report), BASE64_URL, &sent, &slen), 0);
	assert_int_equal(slen, TD_REPORT_LEN);
	assert_memory_equal(sent, td_report, TD_REPORT_LEN);
}

static void test_report_not_refreshed_is_refused(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *ev = NULL;
	uint8_t other[64] = { 0 };
	char err[256] = "";
	int r;

	(void)state;
	provision(2, HCL_OK);
	/* the paravisor of this test never refreshes: the report keeps rd_fresh */
	memset(other, 0x5c, 48);
	ev = evidence_of(other, err, sizeof(err), &r);
	assert_int_equal(r, -ETIMEDOUT);
	assert_null(ev);
	assert_non_null(strstr(err, "E_AZ_STALE"));
}

static void test_without_metadata_service_snp_evidence_fails(void **state)
{
	_cleanup_(cJSON_Deletep) cJSON *ev = NULL;
	struct tee_config cfg = config();
	struct tee *t = NULL;
	char err[256] = "";

	(void)state;
	provision(2, HCL_OK);
	cfg.az_imds = "http://127.0.0.1:1";
	assert_int_equal(tee_open("az", &cfg, &t, err, sizeof(err)), 0);
	assert_int_equal(t->evidence(t, rd_fresh, &ev, err, sizeof(err)), -EIO);
	assert_null(ev);
	assert_non_null(strstr(err, "E_AZ_IMDS"));
	tee_close(t);
}

static void test_without_hcl_report_auto_falls_through_to_tpm(void **state)
{
	struct tee_config cfg = config();
	struct tee *t = NULL;
	char err[512] = "";

	(void)state;
	provision(0, HCL_OK);
	assert_int_equal(tee_az_open(&cfg, &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "0x01400001"));
	assert_int_equal(tee_open("auto", &cfg, &t, err, sizeof(err)), 0);
	assert_string_equal(t->name, "tpm");
	tee_close(t);
}

static void test_unknown_report_type_is_refused(void **state)
{
	struct tee_config cfg = config();
	struct tee *t = NULL;
	char err[512] = "";

	(void)state;
	provision(3, HCL_OK);
	assert_int_equal(tee_az_open(&cfg, &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "unknown type 3"));
	assert_int_equal(tee_open("auto", &cfg, &t, err, sizeof(err)), 0);
	assert_string_equal(t->name, "tpm");
	tee_close(t);
}

static void test_truncated_report_is_refused(void **state)
{
	struct tee_config cfg = config();
	struct tee *t = NULL;
	char err[512] = "";

	(void)state;
	provision(2, HCL_TRUNCATED);
	assert_int_equal(tee_az_open(&cfg, &t, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "E_AZ_HCL"));
	provision(2, HCL_SHORT);
	assert_int_equal(tee_az_open(&cfg, &t, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "shorter than its header"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_snp_hcl_report_is_probed_as_az_snp),
		cmocka_unit_test(test_snp_evidence_is_trustees_shape_and_verifies),
		cmocka_unit_test(test_tdx_evidence_carries_the_td_quote_for_the_td_report),
		cmocka_unit_test(test_report_not_refreshed_is_refused),
		cmocka_unit_test(test_without_metadata_service_snp_evidence_fails),
		cmocka_unit_test(test_without_hcl_report_auto_falls_through_to_tpm),
		cmocka_unit_test(test_unknown_report_type_is_refused),
		cmocka_unit_test(test_truncated_report_is_refused),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
