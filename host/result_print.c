/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm result open | inspect: what the checks found, as text or JSON
 * (docs/result-cli.md). Text from the bundle is printed only in the forms
 * the checks allow, file names with their control bytes replaced.
 */
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "host/result_cmd.h"
#include "lib/lib.h"

/* ---- output ---- */

/* A name from the result, safe to print: control bytes, and bytes of invalid UTF-8, as '?'. */
static void printable(const char *in, char *out, size_t cap)
{
	bool utf8 = utf8_valid((const uint8_t *)in, strlen(in));
	size_t i;

	for (i = 0; in[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)in[i];

		out[i] = c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80) ? '?' : (char)c;
	}
	out[i] = 0;
}

static const char *job_text(const struct result_info *in, char *buf, size_t cap)
{
	char sig[32] = "no signal";

	if (in->signal)
		snprintf(sig, sizeof(sig), "signal %d", in->signal);
	if (in->exit_code >= 0)
		snprintf(buf, cap, "exit code %d, %s, %s", in->exit_code, sig,
			 in->timed_out ? "TIMED OUT" : "not timed out");
	else
		snprintf(buf, cap, "no exit code, %s, %s", sig,
			 in->timed_out ? "TIMED OUT" : "not timed out");
	return buf;
}

static void print_verdict(const struct verdict *v)
{
	for (size_t i = 0; i < v->n; i++)
		printf("         %-4s %-20s %s\n", v->results[i].ok ? "ok" : "FAIL",
		       check_name(v->results[i].check), v->results[i].detail);
}

static void print_stage(const struct run *r, enum stage s)
{
	static const char *const mark[] = { "", "ok", "--", "FAIL" };

	if (r->state[s] == STAGE_NOT_RUN)
		return;
	printf("  %-4s %-12s %s\n", mark[r->state[s]], result_stages[s].name, r->detail[s]);
	if (s == ST_EVIDENCE && r->have_v)
		print_verdict(&r->v);
	if (s == ST_REFERENCE && r->have_vref)
		print_verdict(&r->vref);
	if (s == ST_RUNTIME_LOG && r->have_log && r->pl->runtime_reg)
		runtime_log_print(stdout, &r->log, r->tee, "         ");
}

static void print_header(const struct run *r)
{
	const struct result_info *in = &r->in;
	char hex[67], job[96];

	printf("order:            %s\n", in->order_id);
	hex_encode(in->order_sha256, 32, hex);
	printf("order digest:     %s (SHA-256 of the signed form)\n", hex);
	printf("evidence:         %s\n", in->tee);
	for (size_t i = 0; i < in->ninputs; i++) {
		hex_encode(in->inputs[i].luks_header_sha256, 32, hex);
		printf("input %-12s %s (LUKS header SHA-256)\n", in->inputs[i].name, hex);
	}
	hex_encode(in->job_manifest_sha256, 32, hex);
	printf("job manifest:     %s (SHA-256)\n", hex);
	hex_encode(in->signing_pub, 33, hex);
	printf("signing key:      %s\n", hex);
	hex_encode(in->recipient_key_id, 32, hex);
	printf("recipient key id: %s\n", hex);
	printf("job:              %s\n", job_text(in, job, sizeof(job)));
	if (in->partial)
		printf("\n*** PARTIAL RESULT: the job's output was cut short (deadline or size "
		       "limit); what it holds is incomplete ***\n\n");
}

static void print_files(const struct run *r)
{
	const size_t shown = r->nfiles < 100 ? r->nfiles : 100;

	printf("files in %s:\n", r->o.out);
	for (size_t i = 0; i < shown; i++) {
		char name[4096];

		printable(r->files[i].path, name, sizeof(name));
		if (r->files[i].dir)
			printf("  %s/\n", name);
		else
			printf("  %-48s %llu bytes\n", name, (unsigned long long)r->files[i].size);
	}
	if (shown < r->nfiles)
		printf("  ... and %zu more\n", r->nfiles - shown);
}

void result_print_text(const struct run *r, bool ok)
{
	printf("%s: %s\n", r->o.input, r->disk ? "output disk" : "result bundle");
	for (int s = 0; s < ST__MAX; s++)
		print_stage(r, (enum stage)s);
	if (r->have_info)
		print_header(r);
	if (ok && r->o.open)
		print_files(r);
	if (ok)
		printf("%s: %s%s%s\n", r->o.input,
		       r->o.open ? "verified and opened" : "verified (not decrypted)",
		       r->o.reference ? ""
				      : "; measurements NOT compared (image not pinned: "
					"--accept-unpinned-image)",
		       r->have_info && r->in.partial ? "; PARTIAL result" : "");
	else if (!r->usage)
		printf("%s: refused\n", r->o.input);
}

static cJSON *checks_json(const struct run *r)
{
	static const char *const state[] = { "not run", "ok", "not checked", "failed" };
	cJSON *a = cJSON_CreateArray();

	for (int s = 0; a && s < (r->o.open ? ST__MAX : ST_DECRYPT); s++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(a, o))
			break;
		cJSON_AddStringToObject(o, "name", result_stages[s].name);
		cJSON_AddStringToObject(o, "state", state[r->state[s]]);
		cJSON_AddBoolToObject(o, "ok", r->state[s] == STAGE_OK);
		cJSON_AddStringToObject(o, "detail", r->detail[s]);
	}
	return a;
}

static cJSON *events_json(const struct run *r)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && r->have_log && i < r->log.n; i++) {
		const struct runtime_event *e = &r->log.events[i];
		cJSON *o = runtime_event_to_json(e);

		if (!o || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			break;
		}
		cJSON_AddBoolToObject(o, "bound", runtime_event_binds(e, r->tee));
	}
	return a;
}

static cJSON *files_json(const struct run *r)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < r->nfiles; i++) {
		cJSON *o = cJSON_CreateObject();
		char name[4096];

		if (!o || !cJSON_AddItemToArray(a, o))
			break;
		printable(r->files[i].path, name, sizeof(name));
		cJSON_AddStringToObject(o, "path", name);
		cJSON_AddStringToObject(o, "type", r->files[i].dir ? "directory" : "file");
		if (!r->files[i].dir)
			cJSON_AddNumberToObject(o, "size", (double)r->files[i].size);
	}
	return a;
}

void result_print_json(const struct run *r, bool ok)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	_cleanup_free_ char *s = NULL;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "input", r->o.input);
	cJSON_AddStringToObject(o, "source", r->disk ? "output disk" : "bundle");
	cJSON_AddBoolToObject(o, "verified", ok);
	if (ok)
		cJSON_AddNullToObject(o, "error");
	else
		cJSON_AddStringToObject(o, "error", r->error);
	cJSON_AddItemToObject(o, "checks", checks_json(r));
	cJSON_AddBoolToObject(o, "measurements_compared", r->state[ST_REFERENCE] == STAGE_OK);
	cJSON_AddBoolToObject(o, "order_checked", r->have_order && ok);
	if (r->have_info) {
		cJSON_AddItemToObject(o, "header", cJSON_Duplicate(r->in.header, 1));
		cJSON_AddBoolToObject(o, "partial", r->in.partial);
	}
	cJSON_AddItemToObject(o, "evidence_checks", r->have_v ? verdict_to_json(&r->v) : NULL);
	if (r->have_vref)
		cJSON_AddItemToObject(o, "reference_checks", verdict_to_json(&r->vref));
	cJSON_AddItemToObject(o, "runtime_events", events_json(r));
	if (r->o.open && ok) {
		cJSON_AddStringToObject(o, "output", r->o.out);
		cJSON_AddItemToObject(o, "files", files_json(r));
	}
	s = cJSON_Print(o);
	if (s)
		printf("%s\n", s);
}
