/* SPDX-License-Identifier: Apache-2.0 */
/* cvm measure: launch measurements and event logs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "host/cvm.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

static void help(FILE *f)
{
	fputs("Usage: cvm measure --mode snp|snp:ovmf-hash|seves|sev|tdx --ovmf FILE [options]\n"
	      "       cvm measure --mode tpm --kernel F [--initrd F] [--append STR] [options]\n"
	      "       cvm measure replay LOG [options]\n"
	      "       cvm measure diff EXPECTED ACTUAL\n"
	      "       cvm measure authenticode EFI-IMAGE\n"
	      "\n"
	      "Launch digests (flag-compatible with sev-snp-measure):\n"
	      "  --mode MODE          snp, snp:ovmf-hash, snp:svsm, seves or sev\n"
	      "  --ovmf FILE          the OVMF image the guest boots\n"
	      "  --vcpus N            number of vCPUs (all modes but sev)\n"
	      "  --vcpu-type T        QEMU CPU model (EPYC-v4, EPYC-Milan, EPYC-Genoa, ...)\n"
	      "  --vcpu-sig V         or the CPUID signature itself\n"
	      "  --vcpu-family F --vcpu-model M --vcpu-stepping S\n"
	      "                       or family, model and stepping\n"
	      "  --vmm-type T         QEMU (default), ec2 or gce\n"
	      "  --kernel F --initrd F --append STR\n"
	      "                       direct boot: the SEV hashes table is measured\n"
	      "  --guest-features HEX SEV features of the VMSA (default 0x1)\n"
	      "  --snp-ovmf-hash HEX  start from this OVMF digest (snp:ovmf-hash output)\n"
	      "  --output-format F    hex (default), base64, or json (reference values)\n"
	      "  --dump-vmsa          write each vCPU's VMSA to vmsaN.bin (seves, snp, snp:svsm)\n"
	      "  --svsm FILE --vars-size N | --vars-file FILE\n"
	      "                       snp:svsm: the SVSM below OVMF and its variables\n"
	      "  -v, --verbose        name the mode with the digest\n"
	      "\n"
	      "TDX MRTD (--mode tdx):\n"
	      "  --ovmf CODE [--ovmf-vars VARS]\n"
	      "                       the TDVF image is VARS followed by CODE, as QEMU maps it\n"
	      "  --two-pass           all TDH.MEM.PAGE.ADDs of a section before its\n"
	      "                       TDH.MR.EXTENDs, as older KVM adds pages\n"
	      "  --kernel F --initrd F --append STR --event-log CCEL [--memory SIZE]\n"
	      "                       also RTMR0-3 of a direct boot: the kernel, command line\n"
	      "                       and initrd events predicted, every other event (firmware\n"
	      "                       configuration) from a reference log of the same\n"
	      "                       firmware; each event says where it came from. --memory\n"
	      "                       is the guest's (default 2G): QEMU places the initrd by it\n"
	      "\n"
	      "vTPM PCRs of a direct boot through OVMF on q35 (--mode tpm, SHA-256 bank):\n"
	      "  --kernel F [--initrd F] [--append STR] [--memory SIZE]\n"
	      "                       PCR 4 (the kernel as QEMU patches it for the initrd and\n"
	      "                       --memory, default 2G) and PCR 9 (the LoadOptions, with\n"
	      "                       \" initrd=initrd\" if there is an initrd, and the initrd);\n"
	      "                       no --initrd: none, no --append: an empty command line\n"
	      "  --event-log LOG      also PCR 0-9: the TCG2 log of a reference boot (the guest's\n"
	      "                       binary_bios_measurements) of the same firmware and machine\n"
	      "                       (memory, vCPUs, devices), its kernel and stub events\n"
	      "                       replaced\n"
	      "  --output-format F    hex (default) or json (reference values, tpm.pcrs.sha256)\n"
	      "\n"
	      "Event-log replay:\n"
	      "\n"
	      "Parses an event log, prints every event (register, type, digests, decoded\n"
	      "content of the common UEFI events) and replays it into register values per\n"
	      "digest bank.\n"
	      "\n"
	      "  LOG may be a TCG2 crypto-agile binary log (the TDX CCEL data, or a TPM's\n"
	      "  binary_bios_measurements) or TCG CEL-JSON (as cvm-agent writes it).\n"
	      "\n"
	      "Options:\n"
	      "  --format ccel|tcg2|cel-json  how to read LOG; by default JSON is CEL-JSON, a\n"
	      "                       binary log with SHA-384 as its only bank is a CCEL\n"
	      "                       (index 0 MRTD, 1-4 RTMR0-3) and any other a TPM log\n"
	      "  --quote QUOTE        compare the replayed RTMR0-3 with a TDX quote's (the\n"
	      "                       quote itself is checked by 'cvm verify')\n"
	      "  --json               print {\"format\", \"events\", \"registers\"} as JSON\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "authenticode prints the PE/COFF Authenticode SHA-256 and SHA-384 of an EFI\n"
	      "image (a kernel's EFI stub): the digest firmware measures when it starts it.\n"
	      "\n"
	      "Diagnosis (diff): two event logs (the first event whose register, type or\n"
	      "digest differs), two reference-values JSON documents (the first member that\n"
	      "differs), or a CCEL and a quote (the first RTMR that differs).\n"
	      "\n"
	      "Exit status:\n"
	      "  0  computed; the same (diff); replayed (and, with --quote, every RTMR matches)\n"
	      "  1  an RTMR, event or value differs; one line on stderr names the first\n"
	      "  2  usage error, unreadable file, or an image or log that does not parse\n",
	      f);
}

static cJSON *event_json(const struct evlog *log, const struct evlog_event *e)
{
	cJSON *o = cJSON_CreateObject(), *ds, *details;
	char reg[16], *b64 = NULL;

	if (!o)
		return NULL;
	evlog_register_name(log->format, e->index, reg, sizeof(reg));
	cJSON_AddNumberToObject(o, "recnum", (double)e->recnum);
	cJSON_AddNumberToObject(o, "index", e->index);
	cJSON_AddStringToObject(o, "register", reg);
	cJSON_AddNumberToObject(o, "type", e->type);
	cJSON_AddStringToObject(o, "type_name", evlog_type_name(e->type));
	ds = cJSON_AddArrayToObject(o, "digests");
	for (uint32_t i = 0; ds && i < e->ndigests; i++) {
		cJSON *d = cJSON_CreateObject();

		if (!d)
			break;
		cJSON_AddStringToObject(d, "alg", evlog_alg_name(e->digests[i].alg));
		json_add_hex(d, "digest", e->digests[i].d, e->digests[i].len);
		cJSON_AddItemToArray(ds, d);
	}
	if (e->data.p && base64_encode(e->data.p, e->data.len, BASE64_STD, &b64) == 0) {
		cJSON_AddStringToObject(o, "event", b64);
		free(b64);
	}
	details = evlog_event_details(e);
	if (details)
		cJSON_AddItemToObject(o, "details", details);
	return o;
}

static void print_text(const struct evlog *log, const struct evlog_bank *banks, size_t nbanks)
{
	for (size_t i = 0; i < log->n; i++) {
		const struct evlog_event *e = &log->events[i];
		cJSON *d = evlog_event_details(e);
		const cJSON *str = d ? cJSON_GetObjectItemCaseSensitive(d, "string") : NULL;
		const cJSON *var = d ? cJSON_GetObjectItemCaseSensitive(d, "variable_name") : NULL;
		char reg[16], hex[129];

		evlog_register_name(log->format, e->index, reg, sizeof(reg));
		printf("%4llu %-6s %-34s", (unsigned long long)e->recnum, reg,
		       evlog_type_name(e->type));
		if (str)
			printf(" %s", str->valuestring);
		else if (var)
			printf(" %s", var->valuestring);
		printf("\n");
		for (uint32_t j = 0; j < e->ndigests; j++) {
			hex_encode(e->digests[j].d, e->digests[j].len, hex);
			printf("     %-6s %s\n", evlog_alg_name(e->digests[j].alg), hex);
		}
		cJSON_Delete(d);
	}
	printf("\n");
	for (size_t b = 0; b < nbanks; b++)
		for (uint32_t r = 0; r < EVLOG_MAX_INDEX; r++) {
			char reg[16], hex[129];

			if (!banks[b].touched[r])
				continue;
			evlog_register_name(log->format, r, reg, sizeof(reg));
			hex_encode(banks[b].reg[r], banks[b].len, hex);
			printf("%-6s %-6s %s\n", reg, evlog_alg_name(banks[b].alg), hex);
		}
}

static cJSON *registers_json(const struct evlog *log, const struct evlog_bank *banks, size_t nbanks)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t b = 0; o && b < nbanks; b++) {
		cJSON *bank = cJSON_AddObjectToObject(o, evlog_alg_name(banks[b].alg));

		for (uint32_t r = 0; bank && r < EVLOG_MAX_INDEX; r++) {
			char reg[16];

			if (!banks[b].touched[r])
				continue;
			evlog_register_name(log->format, r, reg, sizeof(reg));
			json_add_hex(bank, reg, banks[b].reg[r], banks[b].len);
		}
	}
	return o;
}

/* The replayed RTMRs against a quote's; RTMRs no event touched must be zero. */
static int compare_quote(const char *path, const struct evlog *log, const struct evlog_bank *banks,
			 size_t nbanks)
{
	_cleanup_free_ uint8_t *buf = NULL;
	const struct evlog_bank *bank = NULL;
	struct tdx_quote q;
	struct verdict v;
	size_t len;
	int r;

	if (log->format != EVLOG_CCEL) {
		log_error("--quote needs a CCEL or RTMR log");
		return EXIT_USAGE;
	}
	for (size_t b = 0; b < nbanks; b++)
		if (banks[b].alg == TPM_ALG_SHA384)
			bank = &banks[b];
	if (!bank) {
		log_error("the log has no SHA-384 bank to compare with RTMRs");
		return EXIT_USAGE;
	}
	r = file_read(path, CVM_CAP_EVIDENCE, &buf, &len);
	if (r < 0) {
		log_error_errno(r, "%s", path);
		return EXIT_USAGE;
	}
	verdict_init(&v, PLATFORM_TDX);
	if (tdx_quote_parse(buf, len, &q, &v) < 0) {
		log_error("%s: not a TDX quote: %s", path, verdict_first_failure(&v)->detail);
		return EXIT_USAGE;
	}
	for (int i = 0; i < 4; i++) {
		if (CRYPTO_memcmp(bank->reg[i + 1], q.body.rtmr[i], 48) != 0) {
			fflush(stdout);
			log_error("%s: RTMR%d replayed from the log differs from the quote's", path,
				  i);
			return EXIT_REJECTED;
		}
	}
	printf("RTMR0-3 replayed from the log equal the quote's\n");
	return EXIT_OK;
}

static int replay_main(int argc, char **argv)
{
	enum { OPT_FORMAT = 256, OPT_QUOTE, OPT_JSON };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "quote", required_argument, NULL, OPT_QUOTE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	_cleanup_free_ uint8_t *buf = NULL;
	const char *format = NULL, *quote = NULL;
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct evlog log;
	size_t len, nbanks;
	bool json = false;
	char err[256];
	int c, r, rc = EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			format = optarg;
			break;
		case OPT_QUOTE:
			quote = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			help(stdout);
			return EXIT_OK;
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm measure --help'",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_error("expected one LOG file; see 'cvm measure --help'");
		return EXIT_USAGE;
	}
	if (format && strcmp(format, "ccel") && strcmp(format, "tcg2") &&
	    strcmp(format, "cel-json")) {
		log_error("--format must be ccel, tcg2 or cel-json");
		return EXIT_USAGE;
	}
	r = file_read(argv[optind], CVM_CAP_COLLATERAL, &buf, &len);
	if (r < 0) {
		log_error_errno(r, "%s", argv[optind]);
		return EXIT_USAGE;
	}
	{
		size_t i = 0;
		bool is_json;

		while (i < len &&
		       (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
			i++;
		is_json = format ? strcmp(format, "cel-json") == 0 : i < len && buf[i] == '[';
		if (is_json)
			r = evlog_parse_cel_json((const char *)buf, len, &log, err, sizeof(err));
		else
			r = evlog_parse_tcg2(buf, len,
					     format && !strcmp(format, "ccel") ? EVLOG_CCEL
									       : EVLOG_TCG2,
					     &log, err, sizeof(err));
	}
	if (r < 0) {
		log_error("%s: %s", argv[optind], r == -ENOMEM ? "out of memory" : err);
		return EXIT_USAGE;
	}
	if (!format && log.format == EVLOG_TCG2 && log.nalgs == 1 && log.algs[0] == TPM_ALG_SHA384)
		log.format = EVLOG_CCEL;
	r = evlog_replay(&log, banks, &nbanks);
	if (r < 0) {
		evlog_free(&log);
		log_error_errno(r, "replay");
		return EXIT_USAGE;
	}
	if (json) {
		cJSON *o = cJSON_CreateObject(), *events;
		char *s;

		cJSON_AddStringToObject(o, "format",
					log.format == EVLOG_CCEL   ? "ccel"
					: log.format == EVLOG_TCG2 ? "tcg2"
								   : "cel-json");
		events = cJSON_AddArrayToObject(o, "events");
		for (size_t i = 0; events && i < log.n; i++)
			cJSON_AddItemToArray(events, event_json(&log, &log.events[i]));
		cJSON_AddItemToObject(o, "registers", registers_json(&log, banks, nbanks));
		s = cJSON_Print(o);
		if (s)
			printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else {
		print_text(&log, banks, nbanks);
	}
	if (quote)
		rc = compare_quote(quote, &log, banks, nbanks);
	evlog_free(&log);
	return rc;
}

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

struct tdx_opts {
	const char *code, *vars, *kernel, *initrd, *append, *event_log, *output, *memory;
	bool two_pass;
};

/* "2G", "512M", "4096K" or bytes. */
static int parse_size(const char *s, uint64_t *out)
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

/*
 * The RTMR1 and RTMR2 events OVMF emits for a direct boot, in the order of
 * its real CCEL (tests/vectors/eventlog/ccel-ovmf.bin): the kernel image,
 * "Calling EFI Application from Boot Option", the LoadOptions and initrd
 * tags, the two ExitBootServices actions. Digests are filled in by the
 * caller; RTMR0 (firmware configuration) has no event here.
 */
static int tdx_direct_boot_log(struct evlog *log, bool load_options, bool initrd)
{
	static const char *const actions[] = { "Calling EFI Application from Boot Option",
					       "Exit Boot Services Invocation",
					       "Exit Boot Services Returned with Success" };
	/* TCG_PCClientTaggedEvent: ID, size, data (OVMF's tags and IDs). */
	static const uint8_t cmdline_tag[] = "\xed\x22\x3b\x8f\x1a\0\0\0LOADED_IMAGE::LoadOptions";
	static const uint8_t initrd_tag[] = "\xec\x22\x3b\x8f\x0d\0\0\0Linux initrd";
	size_t n = 0;

	memset(log, 0, sizeof(*log));
	log->format = EVLOG_CCEL;
	log->nalgs = 1;
	log->algs[0] = TPM_ALG_SHA384;
	log->sizes[0] = 48;
	log->events = calloc(8, sizeof(*log->events));
	if (!log->events)
		return -ENOMEM;
	log->events[n++] = (struct evlog_event){ .index = 2, .type = 0x80000003 };
	log->events[n++] = (struct evlog_event){
		.index = 2, .type = 0x80000007, .data = span_make(actions[0], strlen(actions[0]))
	};
	if (load_options)
		log->events[n++] = (struct evlog_event){
			.index = 3, .type = 0x6, .data = span_make(cmdline_tag, sizeof(cmdline_tag))
		};
	if (initrd)
		log->events[n++] = (struct evlog_event){
			.index = 3, .type = 0x6, .data = span_make(initrd_tag, sizeof(initrd_tag))
		};
	for (int i = 1; i < 3; i++)
		log->events[n++] =
			(struct evlog_event){ .index = 2,
					      .type = 0x80000007,
					      .data = span_make(actions[i], strlen(actions[i])) };
	for (size_t i = 0; i < n; i++) {
		log->events[i].recnum = i + 1;
		log->events[i].ndigests = 1;
		log->events[i].digests[0] =
			(struct evlog_digest){ .alg = TPM_ALG_SHA384, .len = 48 };
	}
	log->n = n;
	return 0;
}

/* The digests a direct boot's inputs give (SHA-384), for the events of a CCEL. */
struct tdx_inputs {
	uint8_t kernel[48], load_options[48], initrd[48];
	bool has_load_options;
};

/*
 * The LoadOptions carry " initrd=initrd" and the kernel's header the initrd's
 * size, so with a reference log whose boot had an initrd, --initrd is the
 * one that replaces it, and --kernel needs it.
 */
static int tdx_inputs_compute(const struct tdx_opts *o, uint64_t memory, const struct evlog *ref,
			      struct tdx_inputs *in, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *kernel = NULL;
	bool ref_initrd = false, ref_options = false, with_initrd;
	uint64_t initrd_size = 0;
	size_t klen;
	char why[200];
	int r;

	for (size_t i = 0; ref && i < ref->n; i++) {
		enum tdx_event_source src = tdx_event_source_of(&ref->events[i]);

		ref_initrd |= src == TDX_SRC_INITRD;
		ref_options |= src == TDX_SRC_CMDLINE;
	}
	if (ref && o->initrd && !ref_initrd)
		return set_error(
			err, errlen, -EINVAL,
			"%s: the reference boot had no initrd (no \"Linux initrd\" event); "
			"give the log of a boot with one",
			o->event_log);
	if (ref && o->kernel && ref_initrd && !o->initrd)
		return set_error(err, errlen, -EINVAL,
				 "--kernel: the reference boot had an initrd, which moves the "
				 "kernel's header; give --initrd");
	with_initrd = o->initrd || ref_initrd;
	if (o->initrd) {
		struct stat st;

		r = stat(o->initrd, &st) < 0
			    ? -errno
			    : file_digest(o->initrd, "SHA384", in->initrd, 48, NULL);
		if (r < 0)
			return set_error(err, errlen, r, "%s: %s", o->initrd, strerror(-r));
		initrd_size = (uint64_t)st.st_size;
		if (initrd_size == 0 || initrd_size > UINT32_MAX)
			return set_error(err, errlen, -EINVAL,
					 "%s: an initrd of %llu bytes is not passed to the kernel",
					 o->initrd, (unsigned long long)initrd_size);
	}
	if (o->kernel) {
		r = file_read(o->kernel, 1u << 30, &kernel, &klen);
		if (r < 0)
			return set_error(err, errlen, r, "%s: %s", o->kernel, strerror(-r));
		r = boot_kernel_digest(EVP_sha384(), kernel, klen, (uint32_t)initrd_size, memory,
				       QEMU_ACPI_DATA_SIZE, in->kernel, why, sizeof(why));
		if (r < 0)
			return set_error(err, errlen, r, "%s: %s", o->kernel,
					 r == -ENOMEM ? "out of memory" : why);
	}
	r = boot_load_options_digest(EVP_sha384(), o->append ? o->append : "", with_initrd,
				     in->load_options);
	if (r < 0)
		return set_error(err, errlen, r, "out of memory");
	in->has_load_options = r > 0;
	if (ref && o->append && in->has_load_options != ref_options)
		return set_error(err, errlen, -EINVAL,
				 "%s: the reference boot %s LoadOptions and this one %s (they are "
				 "measured when there is a command line or an initrd)",
				 o->event_log, ref_options ? "had" : "had no",
				 in->has_load_options ? "has" : "has none");
	return 0;
}

/*
 * RTMR0-3 of a direct boot: the reference log gives the events and what
 * cannot be predicted (firmware configuration: TD HOB, ACPI tables, CFV);
 * the kernel, command line and initrd events are predicted from the inputs.
 */
static int tdx_rtmrs(const struct tdx_opts *o, uint8_t rtmr[4][48], bool text)
{
	_cleanup_free_ uint8_t *logbuf = NULL;
	struct tdx_inputs in;
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	struct evlog log;
	uint64_t memory = 2ull << 30;
	size_t len, nbanks;
	char err[256];
	int r;

	if (!o->event_log && !o->kernel) {
		log_error("predicting RTMRs needs --kernel, or --event-log for a reference CCEL");
		return EXIT_USAGE;
	}
	if (o->memory && parse_size(o->memory, &memory) < 0) {
		log_error("--memory '%s': expected a size such as 2G or 4096M", o->memory);
		return EXIT_USAGE;
	}
	if (o->event_log) {
		r = file_read(o->event_log, CVM_CAP_COLLATERAL, &logbuf, &len);
		if (r < 0) {
			log_error_errno(r, "%s", o->event_log);
			return EXIT_USAGE;
		}
		r = evlog_parse_tcg2(logbuf, len, EVLOG_CCEL, &log, err, sizeof(err));
		if (r < 0 || log.nalgs != 1 || log.algs[0] != TPM_ALG_SHA384) {
			log_error("%s: %s", o->event_log,
				  r < 0 ? err : "not a CCEL (SHA-384 only)");
			if (r == 0)
				evlog_free(&log);
			return EXIT_USAGE;
		}
		if (tdx_inputs_compute(o, memory, &log, &in, err, sizeof(err)) < 0) {
			log_error("%s", err);
			evlog_free(&log);
			return EXIT_USAGE;
		}
	} else {
		if (tdx_inputs_compute(o, memory, NULL, &in, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		if (tdx_direct_boot_log(&log, in.has_load_options, o->initrd != NULL) < 0) {
			log_error("out of memory");
			return EXIT_USAGE;
		}
	}
	for (size_t i = 0; i < log.n; i++) {
		struct evlog_event *e = &log.events[i];
		enum tdx_event_source src = tdx_event_source_of(e);
		const uint8_t *pred = NULL;
		uint8_t computed[48];
		char reg[16], hex[97];

		if (src == TDX_SRC_KERNEL && o->kernel)
			pred = in.kernel;
		else if (src == TDX_SRC_CMDLINE && (o->append || !o->event_log))
			pred = in.load_options;
		else if (src == TDX_SRC_INITRD && o->initrd)
			pred = in.initrd;
		else if (src == TDX_SRC_COMPUTED) {
			SHA384(e->data.p, e->data.len, computed);
			pred = computed;
		} else
			src = TDX_SRC_LOG;
		evlog_register_name(EVLOG_CCEL, e->index, reg, sizeof(reg));
		if (text) {
			printf("%4llu %-6s %-34s %-10s", (unsigned long long)e->recnum, reg,
			       evlog_type_name(e->type), tdx_event_source_name(src));
			if (pred)
				printf(" %s", memcmp(pred, e->digests[0].d, 48)
						      ? "differs from the log"
						      : "as in the log");
			printf("\n");
			if (pred && memcmp(pred, e->digests[0].d, 48)) {
				hex_encode(pred, 48, hex);
				printf("     predicted %s\n", hex);
			}
		}
		if (pred)
			memcpy(e->digests[0].d, pred, 48);
	}
	r = evlog_replay(&log, banks, &nbanks);
	evlog_free(&log);
	if (r < 0) {
		log_error("out of memory");
		return EXIT_USAGE;
	}
	for (int i = 0; i < 4; i++)
		memcpy(rtmr[i], banks[0].reg[i + 1], 48);
	return EXIT_OK;
}

/* Without a reference log, RTMR0 (firmware configuration) is not predicted. */
static bool rtmr_known(const struct tdx_opts *o, int i)
{
	return o->event_log || i > 0;
}

/* TDX: MRTD of the TDVF image (OVMF_VARS followed by OVMF_CODE, as QEMU maps -bios). */
static int tdx_main(const struct tdx_opts *o)
{
	_cleanup_free_ uint8_t *c = NULL, *v = NULL, *image = NULL;
	size_t clen, vlen = 0;
	struct tdvf t;
	uint8_t mrtd[48], rtmr[4][48];
	char err[256], hex[97];
	bool json = !strcmp(o->output, "json");
	bool rtmrs = o->kernel || o->initrd || o->append || o->event_log;
	int r;

	if (strcmp(o->output, "hex") && !json) {
		log_error("--output-format must be hex or json with --mode tdx");
		return EXIT_USAGE;
	}
	r = file_read(o->code, 64u << 20, &c, &clen);
	if (r < 0) {
		log_error_errno(r, "%s", o->code);
		return EXIT_USAGE;
	}
	if (o->vars && (r = file_read(o->vars, 64u << 20, &v, &vlen)) < 0) {
		log_error_errno(r, "%s", o->vars);
		return EXIT_USAGE;
	}
	image = malloc(vlen + clen);
	if (!image) {
		log_error("out of memory");
		return EXIT_USAGE;
	}
	if (vlen)
		memcpy(image, v, vlen);
	memcpy(image + vlen, c, clen);
	if (tdvf_parse(image, vlen + clen, &t, err, sizeof(err)) < 0) {
		log_error("%s: %s%s", o->code, err,
			  o->vars ? "" : " (Debian's OVMF_CODE.fd needs --ovmf-vars OVMF_VARS.fd)");
		return EXIT_USAGE;
	}
	if (tdx_mrtd(&t, o->two_pass, mrtd) < 0) {
		log_error("out of memory");
		return EXIT_USAGE;
	}
	if (rtmrs && (r = tdx_rtmrs(o, rtmr, !json)) != EXIT_OK)
		return r;
	hex_encode(mrtd, 48, hex);
	if (json) {
		cJSON *doc = cJSON_CreateObject(), *tdx = cJSON_AddObjectToObject(doc, "tdx");
		char *s;

		json_add_hex(tdx, "mrtd", mrtd, 48);
		for (int i = 0; rtmrs && i < 4; i++) {
			char key[16];

			if (!rtmr_known(o, i))
				continue;
			snprintf(key, sizeof(key), "rtmr%d", i);
			json_add_hex(tdx, key, rtmr[i], 48);
		}
		s = cJSON_Print(doc);
		printf("%s\n", s ? s : "");
		free(s);
		cJSON_Delete(doc);
	} else if (!rtmrs) {
		printf("%s\n", hex);
	} else {
		printf("\nMRTD   %s\n", hex);
		for (int i = 0; i < 4; i++) {
			hex_encode(rtmr[i], 48, hex);
			printf("RTMR%d  %s\n", i,
			       rtmr_known(o, i) ? hex
						: "(firmware configuration: give --event-log)");
		}
	}
	return EXIT_OK;
}

struct tpm_opts {
	const char *kernel, *initrd, *append, *event_log, *output, *memory;
};

static void tpm_print(const struct tpm_opts *o, const uint8_t pcrs[10][32], const bool known[10])
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
static int tpm_with_log(const struct tpm_opts *o, const struct tpm_boot_digests *d,
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
static int tpm_main(const struct tpm_opts *o)
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
	if (o->memory && parse_size(o->memory, &memory) < 0) {
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

static int launch_main(int argc, char **argv)
{
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
		OPT_VARS,
		OPT_TWO_PASS,
		OPT_EVENT_LOG,
		OPT_MEMORY,
		OPT_SVSM,
		OPT_VARS_SIZE,
		OPT_VARS_FILE,
		OPT_DUMP_VMSA,
	};
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
		{ "ovmf-vars", required_argument, NULL, OPT_VARS },
		{ "two-pass", no_argument, NULL, OPT_TWO_PASS },
		{ "event-log", required_argument, NULL, OPT_EVENT_LOG },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "svsm", required_argument, NULL, OPT_SVSM },
		{ "vars-size", required_argument, NULL, OPT_VARS_SIZE },
		{ "vars-file", required_argument, NULL, OPT_VARS_FILE },
		{ "dump-vmsa", no_argument, NULL, OPT_DUMP_VMSA },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mode = NULL, *ovmf_path = NULL, *vcpu_type = NULL, *kernel = NULL,
		   *initrd = NULL, *append = NULL, *ovmf_hash = NULL, *output = "hex",
		   *vmm = "QEMU", *vars = NULL, *event_log = NULL, *memory = NULL,
		   *svsm_path = NULL, *vars_file = NULL;
	uint64_t vars_size = 0;
	bool has_vars_size = false;
	_cleanup_free_ uint8_t *svsm_image = NULL;
	struct ovmf svsm;
	uint64_t vcpus = 0, sig = 0, family = 0, model = 0, stepping = 0, x;
	bool has_vcpus = false, has_sig = false, has_family = false, has_model = false,
	     has_stepping = false, verbose = false, two_pass = false;
	struct sev_measure_params p = { .guest_features = 0x1 };
	_cleanup_free_ uint8_t *image = NULL;
	struct ovmf ovmf;
	uint8_t digest[48];
	size_t len, dlen;
	char err[256];
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		r = 0;
		switch (c) {
		case OPT_MODE:
			mode = optarg;
			break;
		case OPT_OVMF:
			ovmf_path = optarg;
			break;
		case OPT_VCPUS:
			r = parse_uint(optarg, 10, 4096, &vcpus);
			has_vcpus = true;
			break;
		case OPT_VCPU_TYPE:
			vcpu_type = optarg;
			break;
		case OPT_VCPU_SIG:
			r = parse_uint(optarg, 0, UINT32_MAX, &sig);
			has_sig = true;
			break;
		case OPT_FAMILY:
			r = parse_uint(optarg, 10, 255 + 15, &family);
			has_family = true;
			break;
		case OPT_MODEL:
			r = parse_uint(optarg, 10, 255, &model);
			has_model = true;
			break;
		case OPT_STEPPING:
			r = parse_uint(optarg, 10, 15, &stepping);
			has_stepping = true;
			break;
		case OPT_VMM:
			vmm = optarg;
			break;
		case OPT_KERNEL:
			kernel = optarg;
			break;
		case OPT_INITRD:
			initrd = optarg;
			break;
		case OPT_APPEND:
			append = optarg;
			break;
		case OPT_FEATURES:
			r = parse_uint(optarg, 0, UINT64_MAX, &x);
			p.guest_features = x;
			break;
		case OPT_OVMF_HASH:
			ovmf_hash = optarg;
			break;
		case OPT_OUTPUT:
			output = optarg;
			break;
		case OPT_VARS:
			vars = optarg;
			break;
		case OPT_TWO_PASS:
			two_pass = true;
			break;
		case OPT_EVENT_LOG:
			event_log = optarg;
			break;
		case OPT_MEMORY:
			memory = optarg;
			break;
		case OPT_SVSM:
			svsm_path = optarg;
			break;
		case OPT_VARS_SIZE:
			r = parse_uint(optarg, 10, 1u << 30, &vars_size);
			has_vars_size = true;
			break;
		case OPT_VARS_FILE:
			vars_file = optarg;
			break;
		case OPT_DUMP_VMSA:
			p.vmsa_cb = write_vmsa;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			help(stdout);
			return EXIT_OK;
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm measure --help'",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (r < 0) {
			log_error("%s: '%s' is not a valid number here", argv[optind - 2], optarg);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; see 'cvm measure --help'", argv[optind]);
		return EXIT_USAGE;
	}
	if (mode && !strcmp(mode, "tpm")) {
		struct tpm_opts t = { .kernel = kernel,
				      .initrd = initrd,
				      .append = append,
				      .event_log = event_log,
				      .output = output,
				      .memory = memory };

		if (ovmf_path || vars || two_pass || has_vcpus || vcpu_type || has_sig ||
		    has_family || has_model || has_stepping || ovmf_hash || svsm_path ||
		    vars_file || has_vars_size || p.vmsa_cb || verbose || strcmp(vmm, "QEMU") ||
		    p.guest_features != 0x1) {
			log_error("--mode tpm takes --kernel, --initrd, --append, --memory, "
				  "--event-log and --output-format only");
			return EXIT_USAGE;
		}
		return tpm_main(&t);
	}
	if (mode && !strcmp(mode, "tdx") && ovmf_path) {
		struct tdx_opts t = { .code = ovmf_path,
				      .vars = vars,
				      .kernel = kernel,
				      .initrd = initrd,
				      .append = append,
				      .event_log = event_log,
				      .output = output,
				      .memory = memory,
				      .two_pass = two_pass };

		return tdx_main(&t);
	}
	if (event_log || memory) {
		log_error("--event-log and --memory apply to --mode tdx and tpm");
		return EXIT_USAGE;
	}
	if (!mode || !ovmf_path) {
		log_error("--mode and --ovmf are required; see 'cvm measure --help'");
		return EXIT_USAGE;
	}
	if (vars || two_pass) {
		log_error("--ovmf-vars and --two-pass apply to --mode tdx");
		return EXIT_USAGE;
	}
	if (!strcmp(mode, "snp"))
		p.mode = SEV_MODE_SNP;
	else if (!strcmp(mode, "snp:ovmf-hash"))
		p.mode = SEV_MODE_SNP_OVMF_HASH;
	else if (!strcmp(mode, "seves"))
		p.mode = SEV_MODE_SEV_ES;
	else if (!strcmp(mode, "sev"))
		p.mode = SEV_MODE_SEV;
	else if (!strcmp(mode, "snp:svsm"))
		p.mode = SEV_MODE_SNP_SVSM;
	else {
		log_error("--mode must be snp, snp:ovmf-hash, snp:svsm, seves, sev or tdx");
		return EXIT_USAGE;
	}
	if (!strcmp(vmm, "QEMU"))
		p.vmm = VMM_QEMU;
	else if (!strcmp(vmm, "ec2"))
		p.vmm = VMM_EC2;
	else if (!strcmp(vmm, "gce"))
		p.vmm = VMM_GCE;
	else {
		log_error("unknown VMM type '%s' (QEMU, ec2, gce)", vmm);
		return EXIT_USAGE;
	}
	if (p.mode == SEV_MODE_SNP_SVSM) {
		struct stat st;

		if (p.vmm != VMM_QEMU) {
			log_error("SVSM mode is only implemented for QEMU");
			return EXIT_USAGE;
		}
		if (!svsm_path || (!vars_file && !has_vars_size)) {
			log_error("snp:svsm mode requires --svsm and --vars-size or --vars-file");
			return EXIT_USAGE;
		}
		if (vars_file) {
			if (stat(vars_file, &st) < 0) {
				log_error_errno(-errno, "%s", vars_file);
				return EXIT_USAGE;
			}
			vars_size = (uint64_t)st.st_size;
		}
		if (kernel) {
			log_error("snp:svsm mode does not measure a kernel");
			return EXIT_USAGE;
		}
	} else if (svsm_path || vars_file || has_vars_size) {
		log_error("--svsm, --vars-size and --vars-file apply to --mode snp:svsm");
		return EXIT_USAGE;
	}
	if (strcmp(output, "hex") && strcmp(output, "base64") && strcmp(output, "json")) {
		log_error("--output-format must be hex, base64 or json");
		return EXIT_USAGE;
	}
	if ((initrd || append) && !kernel) {
		log_error("--kernel required when using --%s", initrd ? "initrd" : "append");
		return EXIT_USAGE;
	}
	if (p.mode != SEV_MODE_SEV && p.mode != SEV_MODE_SNP_OVMF_HASH && !has_vcpus) {
		log_error("missing --vcpus N in guest mode '%s'", mode);
		return EXIT_USAGE;
	}
	if (p.vmsa_cb && (p.mode == SEV_MODE_SEV || p.mode == SEV_MODE_SNP_OVMF_HASH)) {
		log_error("--dump-vmsa is not available in the selected mode");
		return EXIT_USAGE;
	}
	if (ovmf_hash && p.mode != SEV_MODE_SNP) {
		log_error("--snp-ovmf-hash only works with --mode snp");
		return EXIT_USAGE;
	}
	p.vcpus = (unsigned)vcpus;
	if (p.mode == SEV_MODE_SEV || p.mode == SEV_MODE_SNP_OVMF_HASH) {
		p.vcpu_sig = 0;
	} else if (has_family) {
		if (!has_model || !has_stepping) {
			log_error("--vcpu-family needs --vcpu-model and --vcpu-stepping");
			return EXIT_USAGE;
		}
		p.vcpu_sig = sev_cpu_sig((unsigned)family, (unsigned)model, (unsigned)stepping);
	} else if (has_sig) {
		p.vcpu_sig = (uint32_t)sig;
	} else if (vcpu_type) {
		p.vcpu_sig = sev_cpu_sig_by_name(vcpu_type);
		if (!p.vcpu_sig) {
			log_error("unknown --vcpu-type '%s'", vcpu_type);
			return EXIT_USAGE;
		}
	} else if (p.vmm == VMM_QEMU) {
		log_error("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '%s'",
			  mode);
		return EXIT_USAGE;
	}
	if (ovmf_hash) {
		if (hex_decode_exact(ovmf_hash, p.ovmf_hash, 48) < 0) {
			log_error("--snp-ovmf-hash: expected 48 bytes of hex");
			return EXIT_USAGE;
		}
		p.has_ovmf_hash = true;
	}
	if (kernel) {
		static const char nul = 0;

		p.has_kernel = true;
		r = file_digest(kernel, "SHA256", p.kernel_sha256, 32, NULL);
		if (r < 0) {
			log_error_errno(r, "%s", kernel);
			return EXIT_USAGE;
		}
		if (initrd)
			r = file_digest(initrd, "SHA256", p.initrd_sha256, 32, NULL);
		else
			SHA256((const uint8_t *)"", 0, p.initrd_sha256);
		if (r < 0) {
			log_error_errno(r, "%s", initrd);
			return EXIT_USAGE;
		}
		/* The command line is measured with its terminating NUL. */
		if (append)
			SHA256((const uint8_t *)append, strlen(append) + 1, p.cmdline_sha256);
		else
			SHA256((const uint8_t *)&nul, 1, p.cmdline_sha256);
	}
	r = file_read(ovmf_path, 64u << 20, &image, &len);
	if (r < 0) {
		log_error_errno(r, "%s", ovmf_path);
		return EXIT_USAGE;
	}
	if (ovmf_parse(image, len, &ovmf, err, sizeof(err)) < 0) {
		log_error("%s: %s", ovmf_path, err);
		return EXIT_USAGE;
	}
	p.ovmf = &ovmf;
	if (p.mode == SEV_MODE_SNP_SVSM) {
		size_t slen;

		r = file_read(svsm_path, 64u << 20, &svsm_image, &slen);
		if (r < 0) {
			log_error_errno(r, "%s", svsm_path);
			return EXIT_USAGE;
		}
		if (ovmf_parse(svsm_image, slen, &svsm, err, sizeof(err)) < 0) {
			log_error("%s: %s", svsm_path, err);
			return EXIT_USAGE;
		}
		/* The SVSM ends where the OVMF variables begin, below OVMF. */
		if (ovmf.gpa < vars_size + slen) {
			log_error("%s: does not fit below OVMF and its variables", svsm_path);
			return EXIT_USAGE;
		}
		svsm.gpa = ovmf.gpa - vars_size - slen;
		p.svsm = &svsm;
	}
	r = sev_launch_digest(&p, digest, &dlen, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", ovmf_path, r == -ENOMEM ? "out of memory" : err);
		return EXIT_USAGE;
	}
	if (!strcmp(output, "json")) {
		cJSON *o = cJSON_CreateObject();
		bool snp_ref = p.mode == SEV_MODE_SNP || p.mode == SEV_MODE_SNP_SVSM;
		cJSON *snp = cJSON_AddObjectToObject(o, snp_ref ? "snp" : "launch");
		char *s;

		cJSON_AddStringToObject(snp, "mode", mode);
		json_add_hex(snp, p.mode == SEV_MODE_SNP_OVMF_HASH ? "ovmf_hash" : "measurement",
			     digest, dlen);
		/* The reference-values member is named measurement; mode is informative. */
		if (snp_ref)
			cJSON_DeleteItemFromObject(snp, "mode");
		s = cJSON_Print(o);
		printf("%s\n", s ? s : "");
		free(s);
		cJSON_Delete(o);
	} else {
		char *text = NULL;

		if (!strcmp(output, "base64"))
			r = base64_encode(digest, dlen, BASE64_STD, &text);
		else
			text = hex_encode_alloc(digest, dlen);
		if (!text) {
			log_error("out of memory");
			return EXIT_USAGE;
		}
		if (verbose)
			printf("Calculated %s guest measurement: %s\n",
			       p.mode == SEV_MODE_SNP || p.mode == SEV_MODE_SNP_OVMF_HASH
				       ? "SEV_SNP"
			       : p.mode == SEV_MODE_SEV_ES ? "SEV_ES"
							   : "SEV",
			       text);
		else
			printf("%s\n", text);
		free(text);
	}
	return EXIT_OK;
}

/* ---- diff ---- */

enum input_kind { INPUT_LOG, INPUT_JSON, INPUT_QUOTE };

struct input {
	const char *path;
	uint8_t *buf;
	size_t len;
	enum input_kind kind;
	struct evlog log;
	cJSON *json;
	struct tdx_quote quote;
};

static void input_free(struct input *in)
{
	evlog_free(&in->log);
	cJSON_Delete(in->json);
	free(in->buf);
}

/* A TDX quote, a JSON object (reference values), or an event log (binary or CEL-JSON). */
static int input_load(const char *path, struct input *in)
{
	char err[256];
	struct verdict v;
	size_t i = 0;
	int r;

	memset(in, 0, sizeof(*in));
	in->path = path;
	r = file_read(path, CVM_CAP_COLLATERAL, &in->buf, &in->len);
	if (r < 0)
		return log_error_errno(r, "%s", path);
	while (i < in->len && (in->buf[i] == ' ' || in->buf[i] == '\n' || in->buf[i] == '\t'))
		i++;
	if (evidence_detect(in->buf, in->len) == PLATFORM_TDX) {
		verdict_init(&v, PLATFORM_TDX);
		if (tdx_quote_parse(in->buf, in->len, &in->quote, &v) < 0) {
			log_error("%s: not a TDX quote: %s", path,
				  verdict_first_failure(&v)->detail);
			return -EBADMSG;
		}
		in->kind = INPUT_QUOTE;
		return 0;
	}
	if (i < in->len && in->buf[i] == '{') {
		if (json_parse((const char *)in->buf, in->len, &in->json) < 0) {
			log_error("%s: not valid JSON", path);
			return -EBADMSG;
		}
		in->kind = INPUT_JSON;
		return 0;
	}
	in->kind = INPUT_LOG;
	if (i < in->len && in->buf[i] == '[')
		r = evlog_parse_cel_json((const char *)in->buf, in->len, &in->log, err,
					 sizeof(err));
	else
		r = evlog_parse_tcg2(in->buf, in->len, EVLOG_TCG2, &in->log, err, sizeof(err));
	if (r < 0) {
		log_error("%s: %s", path, err);
		return r;
	}
	if (in->log.format == EVLOG_TCG2 && in->log.nalgs == 1 && in->log.algs[0] == TPM_ALG_SHA384)
		in->log.format = EVLOG_CCEL;
	return 0;
}

static void describe_event(const struct evlog *log, size_t i, char *out, size_t cap)
{
	const struct evlog_event *e = &log->events[i];
	cJSON *d = evlog_event_details(e);
	const cJSON *s = d ? cJSON_GetObjectItemCaseSensitive(d, "string") : NULL;
	const cJSON *n = d ? cJSON_GetObjectItemCaseSensitive(d, "variable_name") : NULL;
	char reg[16];

	evlog_register_name(log->format, e->index, reg, sizeof(reg));
	snprintf(out, cap, "event %llu (%s %s%s%.40s%s)", (unsigned long long)e->recnum, reg,
		 evlog_type_name(e->type), s || n ? " \"" : "",
		 s   ? s->valuestring
		 : n ? n->valuestring
		     : "",
		 s || n ? "\"" : "");
	cJSON_Delete(d);
}

static int diff_logs(struct input *a, struct input *b)
{
	size_t n = a->log.n < b->log.n ? a->log.n : b->log.n;
	char what[160], ha[129], hb[129];

	for (size_t i = 0; i < n; i++) {
		const struct evlog_event *x = &a->log.events[i], *y = &b->log.events[i];

		describe_event(&a->log, i, what, sizeof(what));
		if (x->index != y->index || x->type != y->type) {
			char other[160];

			describe_event(&b->log, i, other, sizeof(other));
			log_error("first difference at %s in %s: %s in %s", what, a->path, other,
				  b->path);
			return EXIT_REJECTED;
		}
		for (uint32_t j = 0; j < x->ndigests; j++)
			for (uint32_t k = 0; k < y->ndigests; k++) {
				if (x->digests[j].alg != y->digests[k].alg)
					continue;
				if (memcmp(x->digests[j].d, y->digests[k].d, x->digests[j].len)) {
					hex_encode(x->digests[j].d, x->digests[j].len, ha);
					hex_encode(y->digests[k].d, y->digests[k].len, hb);
					log_error("first difference at %s: %s %s in %s, %s in %s",
						  what, evlog_alg_name(x->digests[j].alg), ha,
						  a->path, hb, b->path);
					return EXIT_REJECTED;
				}
			}
	}
	if (a->log.n != b->log.n) {
		const struct input *longer = a->log.n > b->log.n ? a : b;

		describe_event(&longer->log, n, what, sizeof(what));
		log_error("%s has %zu more events, from %s", longer->path,
			  (a->log.n > b->log.n ? a->log.n : b->log.n) - n, what);
		return EXIT_REJECTED;
	}
	printf("%s and %s: the same %zu events\n", a->path, b->path, n);
	return EXIT_OK;
}

/* The first member, depth first in document order, whose values differ. */
static bool json_first_difference(const cJSON *a, const cJSON *b, char *path, size_t cap)
{
	const cJSON *m;
	size_t len = strlen(path);

	if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
		cJSON_ArrayForEach(m, a) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, m->string);

			snprintf(path + len, cap - len, "%s%s", len ? "." : "", m->string);
			if (!o || json_first_difference(m, o, path, cap))
				return true;
			path[len] = 0;
		}
		cJSON_ArrayForEach(m, b) {
			if (!cJSON_GetObjectItemCaseSensitive(a, m->string)) {
				snprintf(path + len, cap - len, "%s%s", len ? "." : "", m->string);
				return true;
			}
		}
		return false;
	}
	return !cJSON_Compare(a, b, true);
}

static int diff_json(struct input *a, struct input *b)
{
	char path[256] = "";

	if (!json_first_difference(a->json, b->json, path, sizeof(path))) {
		printf("%s and %s: the same values\n", a->path, b->path);
		return EXIT_OK;
	}
	{
		const cJSON *x = a->json, *y = b->json;
		char copy[256], *tok, *save = NULL;
		char *va = NULL, *vb = NULL;

		snprintf(copy, sizeof(copy), "%s", path);
		for (tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
			x = x ? cJSON_GetObjectItemCaseSensitive(x, tok) : NULL;
			y = y ? cJSON_GetObjectItemCaseSensitive(y, tok) : NULL;
		}
		va = x ? cJSON_PrintUnformatted(x) : NULL;
		vb = y ? cJSON_PrintUnformatted(y) : NULL;
		log_error("first difference at %s: %.60s in %s, %.60s in %s", path,
			  va ? va : "(absent)", a->path, vb ? vb : "(absent)", b->path);
		free(va);
		free(vb);
	}
	return EXIT_REJECTED;
}

static int diff_log_quote(struct input *log, struct input *quote)
{
	struct evlog_bank banks[EVLOG_MAX_ALGS];
	const struct evlog_bank *bank = NULL;
	size_t nbanks;

	if (log->log.format != EVLOG_CCEL) {
		log_error("%s: a quote compares with a CCEL or RTMR log", log->path);
		return EXIT_USAGE;
	}
	if (evlog_replay(&log->log, banks, &nbanks) < 0) {
		log_error("out of memory");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < nbanks; i++)
		if (banks[i].alg == TPM_ALG_SHA384)
			bank = &banks[i];
	for (int r = 0; bank && r < 4; r++) {
		if (memcmp(bank->reg[r + 1], quote->quote.body.rtmr[r], 48) != 0) {
			size_t n = 0;

			for (size_t i = 0; i < log->log.n; i++)
				n += log->log.events[i].index == (uint32_t)r + 1;
			log_error("RTMR%d differs: %s replays %zu events to a value %s does not "
				  "hold; diff the log against a reference log to find the event",
				  r, log->path, n, quote->path);
			return EXIT_REJECTED;
		}
	}
	if (!bank) {
		log_error("%s has no SHA-384 bank", log->path);
		return EXIT_USAGE;
	}
	printf("%s replays to the RTMRs of %s\n", log->path, quote->path);
	return EXIT_OK;
}

static int diff_main(int argc, char **argv)
{
	struct input a, b;
	int rc;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		help(stdout);
		return EXIT_OK;
	}
	if (argc != 3) {
		log_error("usage: cvm measure diff EXPECTED ACTUAL (logs, reference JSON, or a "
			  "log and a quote)");
		return EXIT_USAGE;
	}
	if (input_load(argv[1], &a) < 0) {
		input_free(&a);
		return EXIT_USAGE;
	}
	if (input_load(argv[2], &b) < 0) {
		input_free(&a);
		input_free(&b);
		return EXIT_USAGE;
	}
	if (a.kind == INPUT_LOG && b.kind == INPUT_LOG)
		rc = diff_logs(&a, &b);
	else if (a.kind == INPUT_JSON && b.kind == INPUT_JSON)
		rc = diff_json(&a, &b);
	else if (a.kind == INPUT_LOG && b.kind == INPUT_QUOTE)
		rc = diff_log_quote(&a, &b);
	else if (a.kind == INPUT_QUOTE && b.kind == INPUT_LOG)
		rc = diff_log_quote(&b, &a);
	else {
		log_error("cannot compare these two: give two logs, two JSON documents, or a log "
			  "and a quote");
		rc = EXIT_USAGE;
	}
	input_free(&a);
	input_free(&b);
	return rc;
}

/* The Authenticode digests of an EFI image: what firmware extends for it. */
static int authenticode_main(int argc, char **argv)
{
	static const char *const mds[] = { "SHA256", "SHA384" };
	_cleanup_free_ uint8_t *img = NULL;
	char err[256], hex[129];
	uint8_t d[64];
	size_t len, dlen;
	int r;

	if (argc != 2) {
		log_error("usage: cvm measure authenticode EFI-IMAGE");
		return EXIT_USAGE;
	}
	r = file_read(argv[1], 256u << 20, &img, &len);
	if (r < 0) {
		log_error_errno(r, "%s", argv[1]);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(mds); i++) {
		r = pe_authenticode(img, len, mds[i], d, &dlen, err, sizeof(err));
		if (r < 0) {
			log_error("%s: %s", argv[1], r == -ENOMEM ? "out of memory" : err);
			return EXIT_USAGE;
		}
		hex_encode(d, dlen, hex);
		printf("%s %s\n", i ? "sha384" : "sha256", hex);
	}
	return EXIT_OK;
}

int measure_main(int argc, char **argv)
{
	if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
		return launch_main(argc, argv);

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "replay") == 0)
		return replay_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "diff") == 0)
		return diff_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "authenticode") == 0)
		return authenticode_main(argc - 1, argv + 1);
	log_error("'%s' is not a measure command; see 'cvm measure --help'", argv[1]);
	return EXIT_USAGE;
}
