/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm measure --mode ...: option parsing for every launch mode, then the
 * SEV launch digest (flag-compatible with sev-snp-measure) or the vTPM's
 * PCRs of a direct boot here, TDX in measure_tdx.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include "host/cvm.h"
#include "host/image.h"
#include "host/measure.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

/* Every option of the launch modes; which apply depends on --mode. */
struct launch_opts {
	const char *mode, *ovmf, *vcpu_type, *kernel, *initrd, *append, *ovmf_hash, *output, *vmm,
		*vars, *event_log, *memory, *svsm, *vars_file, *image;
	uint64_t vcpus, sig, family, model, stepping, vars_size, guest_features;
	bool has_vcpus, has_sig, has_family, has_model, has_stepping, has_vars_size, verbose,
		two_pass, dump_vmsa;
};

static int parse_uint(const char *s, int base, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "2G", "512M", "4096K" or bytes. */
int measure_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	else if (*end)
		return -EINVAL;
	if (shift && end[1])
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static void tpm_print(const struct launch_opts *o, const uint8_t pcrs[10][32], const bool known[10])
{
	char hex[65];

	if (!strcmp(o->output, "json")) {
		cJSON *doc = cJSON_CreateObject();
		cJSON *bank = cJSON_AddObjectToObject(
			cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "tpm"), "pcrs"),
			"sha256");
		char *s;

		for (int i = 0; bank && i < 10; i++) {
			char key[12];

			if (!known[i])
				continue;
			snprintf(key, sizeof(key), "%d", i);
			json_add_hex(bank, key, pcrs[i], 32);
		}
		s = cJSON_Print(doc);
		printf("%s\n", s ? s : "");
		free(s);
		cJSON_Delete(doc);
		return;
	}
	for (int i = 0; i < 10; i++) {
		if (!known[i])
			continue;
		hex_encode(pcrs[i], 32, hex);
		if (!o->event_log)
			printf("PCR%d  %s\n", i, hex);
		else
			printf("PCR%d  %s  %s\n", i, hex,
			       i == 4	? "--kernel, then the log's events"
			       : i == 9 ? "--append, --initrd"
					: "reference log");
	}
}

/* PCR 0-9 from a reference TCG2 log and the inputs' digests. */
static int tpm_with_log(const struct launch_opts *o, const struct tpm_boot_digests *d,
			uint8_t pcrs[10][32], bool known[10])
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct evlog log;
	char err[256];
	size_t len;
	int r;

	r = file_read(o->event_log, CVM_CAP_COLLATERAL, &buf, &len);
	if (r < 0)
		return log_error_errno(r, "%s", o->event_log);
	r = evlog_parse_tcg2(buf, len, EVLOG_TCG2, &log, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", o->event_log, r == -ENOMEM ? "out of memory" : err);
		return r;
	}
	r = tpm_boot_replay(&log, d, pcrs, known, err, sizeof(err));
	evlog_free(&log);
	if (r < 0)
		log_error("%s: %s", o->event_log, err);
	return r;
}

/*
 * vTPM PCRs of a direct boot through OVMF: PCR 4 and PCR 9 from the inputs;
 * with a reference TCG2 log of the same firmware and machine, PCR 0-9.
 */
static int tpm_main(const struct launch_opts *o)
{
	_cleanup_free_ uint8_t *kernel = NULL, *initrd = NULL;
	uint8_t pcrs[10][32] = { { 0 } };
	bool known[10] = { false };
	uint64_t memory = 2ull << 30;
	struct tpm_boot_digests d;
	size_t klen, ilen = 0;
	char err[256];
	int r;

	if (strcmp(o->output, "hex") && strcmp(o->output, "json")) {
		log_error("--output-format must be hex or json with --mode tpm");
		return EXIT_USAGE;
	}
	if (!o->kernel) {
		log_error("--mode tpm needs --kernel (and --initrd, --append as the guest boots)");
		return EXIT_USAGE;
	}
	if (o->memory && measure_parse_size(o->memory, &memory) < 0) {
		log_error("--memory '%s': expected a size such as 2G or 4096M", o->memory);
		return EXIT_USAGE;
	}
	r = file_read(o->kernel, 1u << 30, &kernel, &klen);
	if (r < 0) {
		log_error_errno(r, "%s", o->kernel);
		return EXIT_USAGE;
	}
	if (o->initrd && (r = file_read(o->initrd, 2u << 30, &initrd, &ilen)) < 0) {
		log_error_errno(r, "%s", o->initrd);
		return EXIT_USAGE;
	}
	if (o->initrd && ilen == 0) {
		log_error("%s: the initrd is empty: QEMU would pass the kernel none", o->initrd);
		return EXIT_USAGE;
	}
	if (o->event_log)
		r = tpm_boot_digests_compute(kernel, klen, o->initrd ? initrd : NULL, ilen,
					     o->append, memory, &d, err, sizeof(err));
	else
		r = tpm_boot_predict(kernel, klen, o->initrd ? initrd : NULL, ilen, o->append,
				     memory, pcrs[4], pcrs[9], err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", o->kernel, r == -ENOMEM ? "out of memory" : err);
		return EXIT_USAGE;
	}
	if (o->event_log && tpm_with_log(o, &d, pcrs, known) < 0)
		return EXIT_USAGE;
	if (!o->event_log)
		known[4] = known[9] = true;
	tpm_print(o, pcrs, known);
	return EXIT_OK;
}

/* --dump-vmsa: vmsa0.bin, vmsa1.bin, ... in the working directory, as sev-snp-measure writes them. */
static int write_vmsa(unsigned vcpu, const uint8_t page[4096], void *ctx)
{
	char name[32];
	FILE *f;
	int ok;

	(void)ctx;
	snprintf(name, sizeof(name), "vmsa%u.bin", vcpu);
	f = fopen(name, "wb");
	if (!f)
		return -errno;
	ok = fwrite(page, 1, 4096, f) == 4096;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

enum {
	OPT_MODE = 256,
	OPT_OVMF,
	OPT_VCPUS,
	OPT_VCPU_TYPE,
	OPT_VCPU_SIG,
	OPT_FAMILY,
	OPT_MODEL,
	OPT_STEPPING,
	OPT_VMM,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_APPEND,
	OPT_FEATURES,
	OPT_OVMF_HASH,
	OPT_OUTPUT,
	OPT_JSON,
	OPT_VARS,
	OPT_TWO_PASS,
	OPT_EVENT_LOG,
	OPT_MEMORY,
	OPT_SVSM,
	OPT_VARS_SIZE,
	OPT_VARS_FILE,
	OPT_DUMP_VMSA,
	OPT_IMAGE,
};

/* One option into o: 0, -EINVAL for a number that does not parse, -ENOENT for no such option. */
static int launch_opt_set(struct launch_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_MODE:
		o->mode = arg;
		return 0;
	case OPT_OVMF:
		o->ovmf = arg;
		return 0;
	case OPT_VCPUS:
		o->has_vcpus = true;
		return parse_uint(arg, 10, 4096, &o->vcpus);
	case OPT_VCPU_TYPE:
		o->vcpu_type = arg;
		return 0;
	case OPT_VCPU_SIG:
		o->has_sig = true;
		return parse_uint(arg, 0, UINT32_MAX, &o->sig);
	case OPT_FAMILY:
		o->has_family = true;
		return parse_uint(arg, 10, 255 + 15, &o->family);
	case OPT_MODEL:
		o->has_model = true;
		return parse_uint(arg, 10, 255, &o->model);
	case OPT_STEPPING:
		o->has_stepping = true;
		return parse_uint(arg, 10, 15, &o->stepping);
	case OPT_VMM:
		o->vmm = arg;
		return 0;
	case OPT_KERNEL:
		o->kernel = arg;
		return 0;
	case OPT_INITRD:
		o->initrd = arg;
		return 0;
	case OPT_APPEND:
		o->append = arg;
		return 0;
	case OPT_FEATURES:
		return parse_uint(arg, 0, UINT64_MAX, &o->guest_features);
	case OPT_OVMF_HASH:
		o->ovmf_hash = arg;
		return 0;
	case OPT_OUTPUT:
		o->output = arg;
		return 0;
	case OPT_JSON: /* the spelling of every other verb */
		o->output = "json";
		return 0;
	case OPT_VARS:
		o->vars = arg;
		return 0;
	case OPT_TWO_PASS:
		o->two_pass = true;
		return 0;
	case OPT_EVENT_LOG:
		o->event_log = arg;
		return 0;
	case OPT_MEMORY:
		o->memory = arg;
		return 0;
	case OPT_SVSM:
		o->svsm = arg;
		return 0;
	case OPT_VARS_SIZE:
		o->has_vars_size = true;
		return parse_uint(arg, 10, 1u << 30, &o->vars_size);
	case OPT_VARS_FILE:
		o->vars_file = arg;
		return 0;
	case OPT_DUMP_VMSA:
		o->dump_vmsa = true;
		return 0;
	case OPT_IMAGE:
		o->image = arg;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	}
	return -ENOENT;
}

/* 0 to go on, 1 after --help, -1 after a usage error (logged). */
static int launch_parse_opts(int argc, char **argv, struct launch_opts *o)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "ovmf", required_argument, NULL, OPT_OVMF },
		{ "vcpus", required_argument, NULL, OPT_VCPUS },
		{ "vcpu-type", required_argument, NULL, OPT_VCPU_TYPE },
		{ "vcpu-sig", required_argument, NULL, OPT_VCPU_SIG },
		{ "vcpu-family", required_argument, NULL, OPT_FAMILY },
		{ "vcpu-model", required_argument, NULL, OPT_MODEL },
		{ "vcpu-stepping", required_argument, NULL, OPT_STEPPING },
		{ "vmm-type", required_argument, NULL, OPT_VMM },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "guest-features", required_argument, NULL, OPT_FEATURES },
		{ "snp-ovmf-hash", required_argument, NULL, OPT_OVMF_HASH },
		{ "output-format", required_argument, NULL, OPT_OUTPUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "ovmf-vars", required_argument, NULL, OPT_VARS },
		{ "two-pass", no_argument, NULL, OPT_TWO_PASS },
		{ "event-log", required_argument, NULL, OPT_EVENT_LOG },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "svsm", required_argument, NULL, OPT_SVSM },
		{ "vars-size", required_argument, NULL, OPT_VARS_SIZE },
		{ "vars-file", required_argument, NULL, OPT_VARS_FILE },
		{ "dump-vmsa", no_argument, NULL, OPT_DUMP_VMSA },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		if (c == 'h') {
			measure_help(stdout);
			return 1;
		}
		r = launch_opt_set(o, c, optarg);
		if (r == -ENOENT) {
			log_error("unknown or incomplete option '%s'; see 'cvm measure --help'",
				  argv[optind - 1]);
			return -1;
		}
		if (r < 0) {
			log_error("%s: '%s' is not a valid number here", argv[optind - 2], optarg);
			return -1;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; see 'cvm measure --help'", argv[optind]);
		return -1;
	}
	return 0;
}

static int launch_tpm(const struct launch_opts *o)
{
	if (o->ovmf || o->vars || o->two_pass || o->has_vcpus || o->vcpu_type || o->has_sig ||
	    o->has_family || o->has_model || o->has_stepping || o->ovmf_hash || o->svsm ||
	    o->vars_file || o->has_vars_size || o->dump_vmsa || o->verbose ||
	    strcmp(o->vmm, "QEMU") || o->guest_features != 0x1) {
		log_error("--mode tpm takes --kernel, --initrd, --append, --memory, "
			  "--event-log and --output-format only");
		return EXIT_USAGE;
	}
	return tpm_main(o);
}

static int launch_tdx(const struct launch_opts *o)
{
	struct tdx_opts t = { .code = o->ovmf,
			      .vars = o->vars,
			      .kernel = o->kernel,
			      .initrd = o->initrd,
			      .append = o->append,
			      .event_log = o->event_log,
			      .output = o->output,
			      .memory = o->memory,
			      .two_pass = o->two_pass };

	return measure_tdx(&t);
}

/* --mode and --vmm-type, and options of other modes refused. EXIT_OK or EXIT_USAGE. */
static int sev_mode(const struct launch_opts *o, struct sev_measure_params *p)
{
	if (o->event_log || o->memory) {
		log_error("--event-log and --memory apply to --mode tdx and tpm");
		return EXIT_USAGE;
	}
	if (!o->mode || !o->ovmf) {
		log_error("--mode and --ovmf are required; see 'cvm measure --help'");
		return EXIT_USAGE;
	}
	if (o->vars || o->two_pass) {
		log_error("--ovmf-vars and --two-pass apply to --mode tdx");
		return EXIT_USAGE;
	}
	if (!strcmp(o->mode, "snp"))
		p->mode = SEV_MODE_SNP;
	else if (!strcmp(o->mode, "snp:ovmf-hash"))
		p->mode = SEV_MODE_SNP_OVMF_HASH;
	else if (!strcmp(o->mode, "seves"))
		p->mode = SEV_MODE_SEV_ES;
	else if (!strcmp(o->mode, "sev"))
		p->mode = SEV_MODE_SEV;
	else if (!strcmp(o->mode, "snp:svsm"))
		p->mode = SEV_MODE_SNP_SVSM;
	else {
		log_error("--mode must be snp, snp:ovmf-hash, snp:svsm, seves, sev or tdx");
		return EXIT_USAGE;
	}
	if (!strcmp(o->vmm, "QEMU"))
		p->vmm = VMM_QEMU;
	else if (!strcmp(o->vmm, "ec2"))
		p->vmm = VMM_EC2;
	else if (!strcmp(o->vmm, "gce"))
		p->vmm = VMM_GCE;
	else {
		log_error("unknown VMM type '%s' (QEMU, ec2, gce)", o->vmm);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* snp:svsm's options, and the size of the variables below OVMF. EXIT_OK or EXIT_USAGE. */
static int sev_svsm_check(const struct launch_opts *o, const struct sev_measure_params *p,
			  uint64_t *vars_size)
{
	struct stat st;

	if (p->mode != SEV_MODE_SNP_SVSM) {
		if (o->svsm || o->vars_file || o->has_vars_size) {
			log_error("--svsm, --vars-size and --vars-file apply to --mode snp:svsm");
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	if (p->vmm != VMM_QEMU) {
		log_error("SVSM mode is only implemented for QEMU");
		return EXIT_USAGE;
	}
	if (!o->svsm || (!o->vars_file && !o->has_vars_size)) {
		log_error("snp:svsm mode requires --svsm and --vars-size or --vars-file");
		return EXIT_USAGE;
	}
	if (o->vars_file) {
		if (stat(o->vars_file, &st) < 0) {
			log_error_errno(-errno, "%s", o->vars_file);
			return EXIT_USAGE;
		}
		*vars_size = (uint64_t)st.st_size;
	}
	if (o->kernel) {
		log_error("snp:svsm mode does not measure a kernel");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The options that depend on the mode. EXIT_OK or EXIT_USAGE. */
static int sev_options_check(const struct launch_opts *o, const struct sev_measure_params *p)
{
	if (strcmp(o->output, "hex") && strcmp(o->output, "base64") && strcmp(o->output, "json")) {
		log_error("--output-format must be hex, base64 or json");
		return EXIT_USAGE;
	}
	if ((o->initrd || o->append) && !o->kernel) {
		log_error("--kernel required when using --%s", o->initrd ? "initrd" : "append");
		return EXIT_USAGE;
	}
	if (p->mode != SEV_MODE_SEV && p->mode != SEV_MODE_SNP_OVMF_HASH && !o->has_vcpus) {
		log_error("missing --vcpus N in guest mode '%s'", o->mode);
		return EXIT_USAGE;
	}
	if (o->dump_vmsa && (p->mode == SEV_MODE_SEV || p->mode == SEV_MODE_SNP_OVMF_HASH)) {
		log_error("--dump-vmsa is not available in the selected mode");
		return EXIT_USAGE;
	}
	if (o->ovmf_hash && p->mode != SEV_MODE_SNP) {
		log_error("--snp-ovmf-hash only works with --mode snp");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The vCPUs' CPUID signature: family, model and stepping, the signature, or a model name. */
static int sev_cpu(const struct launch_opts *o, struct sev_measure_params *p)
{
	p->vcpus = (unsigned)o->vcpus;
	if (p->mode == SEV_MODE_SEV || p->mode == SEV_MODE_SNP_OVMF_HASH) {
		p->vcpu_sig = 0;
	} else if (o->has_family) {
		if (!o->has_model || !o->has_stepping) {
			log_error("--vcpu-family needs --vcpu-model and --vcpu-stepping");
			return EXIT_USAGE;
		}
		p->vcpu_sig =
			sev_cpu_sig((unsigned)o->family, (unsigned)o->model, (unsigned)o->stepping);
	} else if (o->has_sig) {
		p->vcpu_sig = (uint32_t)o->sig;
	} else if (o->vcpu_type) {
		p->vcpu_sig = sev_cpu_sig_by_name(o->vcpu_type);
		if (!p->vcpu_sig) {
			log_error("unknown --vcpu-type '%s'", o->vcpu_type);
			return EXIT_USAGE;
		}
	} else if (p->vmm == VMM_QEMU) {
		log_error("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '%s'",
			  o->mode);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* --snp-ovmf-hash, and the SEV hashes table of a direct boot. EXIT_OK or EXIT_USAGE. */
static int sev_boot_digests(const struct launch_opts *o, struct sev_measure_params *p)
{
	static const char nul = 0;
	int r;

	if (o->ovmf_hash) {
		if (hex_decode_exact(o->ovmf_hash, p->ovmf_hash, 48) < 0) {
			log_error("--snp-ovmf-hash: expected 48 bytes of hex");
			return EXIT_USAGE;
		}
		p->has_ovmf_hash = true;
	}
	if (!o->kernel)
		return EXIT_OK;
	p->has_kernel = true;
	r = file_digest(o->kernel, "SHA256", p->kernel_sha256, 32, NULL);
	if (r < 0) {
		log_error_errno(r, "%s", o->kernel);
		return EXIT_USAGE;
	}
	if (o->initrd)
		r = file_digest(o->initrd, "SHA256", p->initrd_sha256, 32, NULL);
	else
		SHA256((const uint8_t *)"", 0, p->initrd_sha256);
	if (r < 0) {
		log_error_errno(r, "%s", o->initrd);
		return EXIT_USAGE;
	}
	/* The command line is measured with its terminating NUL. */
	if (o->append)
		SHA256((const uint8_t *)o->append, strlen(o->append) + 1, p->cmdline_sha256);
	else
		SHA256((const uint8_t *)&nul, 1, p->cmdline_sha256);
	return EXIT_OK;
}

/* The images SEV measures, owned by the caller's buffers. */
struct sev_images {
	uint8_t *ovmf_buf, *svsm_buf;
	struct ovmf ovmf, svsm;
};

static void sev_images_free(struct sev_images *im)
{
	free(im->ovmf_buf);
	free(im->svsm_buf);
}

/* OVMF and, for snp:svsm, the SVSM placed below OVMF and its variables. EXIT_OK or EXIT_USAGE. */
static int sev_images_load(const struct launch_opts *o, uint64_t vars_size, struct sev_images *im,
			   struct sev_measure_params *p)
{
	size_t len, slen;
	char err[256];
	int r;

	r = file_read(o->ovmf, 64u << 20, &im->ovmf_buf, &len);
	if (r < 0) {
		log_error_errno(r, "%s", o->ovmf);
		return EXIT_USAGE;
	}
	if (ovmf_parse(im->ovmf_buf, len, &im->ovmf, err, sizeof(err)) < 0) {
		log_error("%s: %s", o->ovmf, err);
		return EXIT_USAGE;
	}
	p->ovmf = &im->ovmf;
	if (p->mode != SEV_MODE_SNP_SVSM)
		return EXIT_OK;
	r = file_read(o->svsm, 64u << 20, &im->svsm_buf, &slen);
	if (r < 0) {
		log_error_errno(r, "%s", o->svsm);
		return EXIT_USAGE;
	}
	if (ovmf_parse(im->svsm_buf, slen, &im->svsm, err, sizeof(err)) < 0) {
		log_error("%s: %s", o->svsm, err);
		return EXIT_USAGE;
	}
	/* The SVSM ends where the OVMF variables begin, below OVMF. */
	if (im->ovmf.gpa < vars_size + slen) {
		log_error("%s: does not fit below OVMF and its variables", o->svsm);
		return EXIT_USAGE;
	}
	im->svsm.gpa = im->ovmf.gpa - vars_size - slen;
	p->svsm = &im->svsm;
	return EXIT_OK;
}

static int sev_print(const struct launch_opts *o, const struct sev_measure_params *p,
		     const uint8_t *digest, size_t dlen)
{
	char *text = NULL;

	if (!strcmp(o->output, "json")) {
		cJSON *doc = cJSON_CreateObject();
		bool snp_ref = p->mode == SEV_MODE_SNP || p->mode == SEV_MODE_SNP_SVSM;
		cJSON *snp = cJSON_AddObjectToObject(doc, snp_ref ? "snp" : "launch");
		char *s;

		cJSON_AddStringToObject(snp, "mode", o->mode);
		json_add_hex(snp, p->mode == SEV_MODE_SNP_OVMF_HASH ? "ovmf_hash" : "measurement",
			     digest, dlen);
		/* The reference-values member is named measurement; mode is informative. */
		if (snp_ref)
			cJSON_DeleteItemFromObject(snp, "mode");
		s = cJSON_Print(doc);
		printf("%s\n", s ? s : "");
		free(s);
		cJSON_Delete(doc);
		return EXIT_OK;
	}
	if (!strcmp(o->output, "base64"))
		base64_encode(digest, dlen, BASE64_STD, &text);
	else
		text = hex_encode_alloc(digest, dlen);
	if (!text) {
		log_error("out of memory");
		return EXIT_USAGE;
	}
	if (o->verbose)
		printf("Calculated %s guest measurement: %s\n",
		       p->mode == SEV_MODE_SNP || p->mode == SEV_MODE_SNP_OVMF_HASH ? "SEV_SNP"
		       : p->mode == SEV_MODE_SEV_ES				    ? "SEV_ES"
										    : "SEV",
		       text);
	else
		printf("%s\n", text);
	free(text);
	return EXIT_OK;
}

/* The SEV, SEV-ES or SEV-SNP launch digest of OVMF and, for a direct boot, its hashes table. */
static int launch_sev(const struct launch_opts *o)
{
	struct sev_measure_params p = { .guest_features = o->guest_features,
					.vmsa_cb = o->dump_vmsa ? write_vmsa : NULL };
	struct sev_images im = { 0 };
	uint64_t vars_size = o->vars_size;
	uint8_t digest[48];
	size_t dlen;
	char err[256];
	int r;

	if ((r = sev_mode(o, &p)) != EXIT_OK ||
	    (r = sev_svsm_check(o, &p, &vars_size)) != EXIT_OK ||
	    (r = sev_options_check(o, &p)) != EXIT_OK || (r = sev_cpu(o, &p)) != EXIT_OK ||
	    (r = sev_boot_digests(o, &p)) != EXIT_OK)
		return r;
	r = sev_images_load(o, vars_size, &im, &p);
	if (r == EXIT_OK) {
		r = sev_launch_digest(&p, digest, &dlen, err, sizeof(err));
		if (r < 0)
			log_error("%s: %s", o->ovmf, r == -ENOMEM ? "out of memory" : err);
		r = r < 0 ? EXIT_USAGE : sev_print(o, &p, digest, dlen);
	}
	sev_images_free(&im);
	return r;
}

/* What --image fills in: the image's strings, kept as long as the options use them. */
static struct {
	struct recipe rc;
	struct image img;
	char memory[32];
} from_image;

/*
 * --image vm-images/NAME: the launch as the image describes it, for what
 * the options leave unsaid: the kernel and firmware (and TDX variables,
 * SNP vCPU type) of its build.json, its command line (image.json), and the
 * memory (tdx, tpm) or vCPUs (snp) of its one launch shape. The initrd is
 * what cvm image build made of it: --initrd, always. EXIT_OK or EXIT_USAGE.
 */
static int fill_from_image(struct launch_opts *o)
{
	static const struct {
		const char *mode;
		enum cvm_platform p;
	} rows[] = { { "snp", PLATFORM_SNP }, { "tdx", PLATFORM_TDX }, { "tpm", PLATFORM_TPM } };
	struct recipe *rc = &from_image.rc;
	const struct plat_recipe *pr = NULL;
	char kver[128], path[4200], err[320];

	for (size_t i = 0; o->mode && i < ARRAY_SIZE(rows); i++)
		if (!strcmp(o->mode, rows[i].mode))
			pr = &rc->p[rows[i].p];
	if (!pr) {
		log_error("--image goes with --mode snp, tdx or tpm");
		return EXIT_USAGE;
	}
	if (!o->initrd) {
		log_error("--image needs --initrd: the initrd cvm image build made of it "
			  "(OUT/initrd.img)");
		return EXIT_USAGE;
	}
	if (newest_kver(kver, sizeof(kver)) < 0)
		snprintf(kver, sizeof(kver), "none");
	snprintf(path, sizeof(path), "%s/image.json", o->image);
	if (recipe_load(o->image, kver, rc) < 0)
		return EXIT_USAGE;
	if (image_load(path, &from_image.img, err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		return EXIT_USAGE;
	}
	if (!pr->present) {
		log_error("%s/build.json offers no %s launch", o->image, o->mode);
		return EXIT_USAGE;
	}
	if (!o->kernel)
		o->kernel = rc->kernel;
	if (!o->append)
		o->append = from_image.img.cmdline;
	if (!o->ovmf && pr->firmware[0])
		o->ovmf = pr->firmware;
	if (!o->vars && pr->vars[0] && !strcmp(o->mode, "tdx"))
		o->vars = pr->vars;
	if (!o->vcpu_type && pr->vcpu_type[0] && !o->has_sig && !o->has_family)
		o->vcpu_type = pr->vcpu_type;
	if (pr->n != 1 && !(strcmp(o->mode, "snp") ? o->memory != NULL : o->has_vcpus)) {
		char list[200] = "";

		for (size_t i = 0; i < pr->n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%llu",
				 i ? ", " : "", (unsigned long long)pr->values[i]);
		log_error("%s offers %zu %s launches (%s): give %s", o->image, pr->n, o->mode, list,
			  strcmp(o->mode, "snp") ? "--memory SIZE (1024M, say)" : "--vcpus N");
		return EXIT_USAGE;
	}
	if (pr->n == 1 && !strcmp(o->mode, "snp") && !o->has_vcpus) {
		o->has_vcpus = true;
		o->vcpus = pr->values[0];
	} else if (pr->n == 1 && strcmp(o->mode, "snp") && !o->memory) {
		snprintf(from_image.memory, sizeof(from_image.memory), "%lluM",
			 (unsigned long long)pr->values[0]);
		o->memory = from_image.memory;
	}
	return EXIT_OK;
}

int measure_launch_main(int argc, char **argv)
{
	struct launch_opts o = { .output = "hex", .vmm = "QEMU", .guest_features = 0x1 };
	int r = launch_parse_opts(argc, argv, &o);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if (o.image && (r = fill_from_image(&o)) != EXIT_OK)
		return r;
	if (o.mode && !strcmp(o.mode, "tpm"))
		return launch_tpm(&o);
	if (o.mode && !strcmp(o.mode, "tdx") && o.ovmf)
		return launch_tdx(&o);
	return launch_sev(&o);
}
