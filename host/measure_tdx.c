/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm measure --mode tdx: MRTD of a TDVF image and, for a direct boot,
 * RTMR0-3 predicted from its inputs and a reference CCEL.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include "host/cvm.h"
#include "host/measure.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

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
 * The events to replay, into *log (whose events may point into *logbuf):
 * the reference CCEL's, or without one those OVMF emits for a direct boot.
 * EXIT_OK or EXIT_USAGE.
 */
static int tdx_events_load(const struct tdx_opts *o, uint64_t memory, uint8_t **logbuf,
			   struct evlog *log, struct tdx_inputs *in)
{
	size_t len;
	char err[256];
	int r;

	if (!o->event_log) {
		if (tdx_inputs_compute(o, memory, NULL, in, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		if (tdx_direct_boot_log(log, in->has_load_options, o->initrd != NULL) < 0) {
			log_error("out of memory");
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	r = file_read(o->event_log, CVM_CAP_COLLATERAL, logbuf, &len);
	if (r < 0) {
		log_error_errno(r, "%s", o->event_log);
		return EXIT_USAGE;
	}
	r = evlog_parse_tcg2(*logbuf, len, EVLOG_CCEL, log, err, sizeof(err));
	if (r < 0 || log->nalgs != 1 || log->algs[0] != TPM_ALG_SHA384) {
		log_error("%s: %s", o->event_log, r < 0 ? err : "not a CCEL (SHA-384 only)");
		if (r == 0)
			evlog_free(log);
		return EXIT_USAGE;
	}
	if (tdx_inputs_compute(o, memory, log, in, err, sizeof(err)) < 0) {
		log_error("%s", err);
		evlog_free(log);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* One line per event: where its digest comes from, and whether the prediction is the log's. */
static void tdx_event_print(const struct evlog_event *e, enum tdx_event_source src,
			    const uint8_t *pred)
{
	char reg[16], hex[97];

	evlog_register_name(EVLOG_CCEL, e->index, reg, sizeof(reg));
	printf("%4llu %-6s %-34s %-10s", (unsigned long long)e->recnum, reg,
	       evlog_type_name(e->type), tdx_event_source_name(src));
	if (pred)
		printf(" %s", memcmp(pred, e->digests[0].d, 48) ? "differs from the log"
								: "as in the log");
	printf("\n");
	if (pred && memcmp(pred, e->digests[0].d, 48)) {
		hex_encode(pred, 48, hex);
		printf("     predicted %s\n", hex);
	}
}

/* Replaces the digest of every event the inputs predict; with text, prints each event. */
static void tdx_events_predict(const struct tdx_opts *o, const struct tdx_inputs *in,
			       struct evlog *log, bool text)
{
	for (size_t i = 0; i < log->n; i++) {
		struct evlog_event *e = &log->events[i];
		enum tdx_event_source src = tdx_event_source_of(e);
		const uint8_t *pred = NULL;
		uint8_t computed[48];

		if (src == TDX_SRC_KERNEL && o->kernel)
			pred = in->kernel;
		else if (src == TDX_SRC_CMDLINE && (o->append || !o->event_log))
			pred = in->load_options;
		else if (src == TDX_SRC_INITRD && o->initrd)
			pred = in->initrd;
		else if (src == TDX_SRC_COMPUTED) {
			SHA384(e->data.p, e->data.len, computed);
			pred = computed;
		} else
			src = TDX_SRC_LOG;
		if (text)
			tdx_event_print(e, src, pred);
		if (pred)
			memcpy(e->digests[0].d, pred, 48);
	}
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
	size_t nbanks;
	int r;

	if (!o->event_log && !o->kernel) {
		log_error("predicting RTMRs needs --kernel, or --event-log for a reference CCEL");
		return EXIT_USAGE;
	}
	if (o->memory && measure_parse_size(o->memory, &memory) < 0) {
		log_error("--memory '%s': expected a size such as 2G or 4096M", o->memory);
		return EXIT_USAGE;
	}
	if (tdx_events_load(o, memory, &logbuf, &log, &in) != EXIT_OK)
		return EXIT_USAGE;
	tdx_events_predict(o, &in, &log, text);
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

/*
 * Without a reference log, RTMR0 (firmware configuration) is not predicted.
 * RTMR3 never is: it is runtime, extended by the agent with each order's
 * events (docs/measurements.md), and a reference value for it would refuse
 * every guest.
 */
static bool rtmr_known(const struct tdx_opts *o, int i)
{
	return i != 3 && (o->event_log || i > 0);
}

/* TDX: MRTD of the TDVF image (OVMF_VARS followed by OVMF_CODE, as QEMU maps -bios). */
int measure_tdx(const struct tdx_opts *o)
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
			       : i == 3 ? "(runtime: the agent's events, not a reference value)"
					: "(firmware configuration: give --event-log)");
		}
	}
	return EXIT_OK;
}
