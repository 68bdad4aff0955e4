/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: what the kernel (and the host behind it) answers the sev-guest
 * backend: the input is the firmware's MSG_REPORT_RSP (its first 4000
 * bytes) followed by the host's certificate table, handed over through the
 * backend's ioctl hook. The backend's parsers are static, so the target
 * includes its source.
 */
#include "agent/tee_kernel.c"

static const uint8_t *input;
static size_t input_len;

static int fuzz_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	struct snp_guest_request_ioctl *io = arg;
	struct snp_ext_report_req *req = (void *)(uintptr_t)io->req_data;
	uint8_t *resp = (void *)(uintptr_t)io->resp_data;
	const size_t rsp = sizeof(struct snp_report_resp);
	size_t n = input_len < rsp ? input_len : rsp;

	(void)ctx;
	(void)fd;
	if (request != SNP_GET_EXT_REPORT)
		return -ENOTTY;
	memcpy(resp, input, n);
	n = input_len - n;
	if (n > req->certs_len) {
		/* "too small": the kernel says how much it needs, in pages */
		req->certs_len = (uint32_t)((n + 4095) / 4096 * 4096);
		io->vmm_error = SNP_GUEST_VMM_ERR_INVALID_LEN;
		return -EIO;
	}
	memcpy((void *)(uintptr_t)req->certs_address, input + rsp, n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tee_kernel_ops ops = { .ioctl = fuzz_ioctl };
	const struct tee_config cfg = { .ops = &ops };
	struct cert_table t;
	struct ktee *k;
	uint8_t rd[64] = { 0 };
	cJSON *ev = NULL;
	char err[256];

	input = data;
	input_len = size;
	/* the table alone, as configfs-tsm's auxblob */
	if (cert_table_parse(data, size, &t, err, sizeof(err)) == 0)
		for (int i = 0; i < CERT_KINDS; i++)
			if (t.cert[i].p &&
			    (t.cert[i].p < data || t.cert[i].p + t.cert[i].len > data + size))
				abort();
	/* the whole answer; report_data taken from it so that parsing goes past the check */
	if (size >= SNP_RSP_REPORT + 0x90)
		memcpy(rd, data + SNP_RSP_REPORT + 0x50, 64);
	if (ktee_new(&cfg, KIND_SEV_GUEST, &k) < 0)
		return 0;
	k->fd = 0;
	if (sev_guest_evidence(&k->tee, rd, &ev, err, sizeof(err)) == 0 && !ev)
		abort();
	cJSON_Delete(ev);
	k->fd = -1;
	ktee_close(&k->tee);
	return 0;
}
