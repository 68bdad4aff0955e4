/* SPDX-License-Identifier: Apache-2.0 */
/* cvm run: the summary of a run, one JSON object on stdout (docs/order.md §8). */
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "host/run.h"
#include "lib/lib.h"

static void add_str_or_null(cJSON *o, const char *key, const char *s)
{
	if (s && s[0])
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static void summary_status(cJSON *s, const struct status_follow *f)
{
	cJSON *a = cJSON_AddArrayToObject(s, "phases");

	for (size_t i = 0; i < f->n; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "phase", f->seen[i].phase);
		cJSON_AddBoolToObject(e, "ok", f->seen[i].ok);
		if (f->seen[i].code[0])
			cJSON_AddStringToObject(e, "code", f->seen[i].code);
		if (!cJSON_AddItemToArray(a, e))
			cJSON_Delete(e);
	}
	add_str_or_null(s, "last_code", f->last_code);
	cJSON_AddBoolToObject(s, "poweroff", f->poweroff);
	cJSON_AddNumberToObject(s, "status_lines_refused", f->bad);
}

static void summary_qemu(cJSON *s, const struct run *r)
{
	cJSON *q;

	if (!r->launched) {
		cJSON_AddNullToObject(s, "qemu");
		return;
	}
	q = cJSON_AddObjectToObject(s, "qemu");
	if (WIFEXITED(r->qemu_wstatus))
		cJSON_AddNumberToObject(q, "exit_status", WEXITSTATUS(r->qemu_wstatus));
	else if (WIFSIGNALED(r->qemu_wstatus))
		cJSON_AddNumberToObject(q, "signal", WTERMSIG(r->qemu_wstatus));
	add_str_or_null(q, "stopped_by", r->stopped_by);
	cJSON_AddStringToObject(q, "console", r->p.console);
}

static void summary_files(cJSON *s, const struct run *r)
{
	cJSON *in = cJSON_AddArrayToObject(s, "inputs"), *b, *u;
	char hex[65], shown[FETCH_URL_SHOWN_MAX];

	for (size_t i = 0; i < r->o->ninputs; i++) {
		cJSON *w = cJSON_CreateObject();

		cJSON_AddItemToArray(in, w);
		cJSON_AddStringToObject(w, "name", r->o->inputs[i].name);
		cJSON_AddStringToObject(w, "path", r->p.input[i]);
		cJSON_AddNumberToObject(w, "bytes", (double)r->o->inputs[i].size);
		cJSON_AddBoolToObject(w, "cached", r->fetch[i].cached);
		cJSON_AddNumberToObject(w, "resumed_at", (double)r->fetch[i].resumed_at);
		cJSON_AddNumberToObject(w, "attempts", r->fetch[i].attempts);
	}
	if (!r->have_bundle) {
		cJSON_AddNullToObject(s, "bundle");
	} else {
		b = cJSON_AddObjectToObject(s, "bundle");
		hex_encode(r->bundle_sha256, 32, hex);
		cJSON_AddStringToObject(b, "path", r->p.bundle);
		cJSON_AddNumberToObject(b, "bytes", (double)r->bundle_size);
		cJSON_AddStringToObject(b, "sha256", hex);
		cJSON_AddBoolToObject(b, "partial", r->partial);
		cJSON_AddNumberToObject(b, "job_exit_code", r->job_exit);
		cJSON_AddBoolToObject(b, "from_earlier_run", r->kept);
	}
	if (!r->upload_tried) {
		cJSON_AddNullToObject(s, "upload");
		return;
	}
	u = cJSON_AddObjectToObject(s, "upload");
	fetch_url_shown(r->o->upload_url, shown, sizeof(shown));
	cJSON_AddStringToObject(u, "url", shown);
	cJSON_AddBoolToObject(u, "ok", r->up.ok);
	cJSON_AddNumberToObject(u, "attempts", r->up.attempts);
	cJSON_AddNumberToObject(u, "http_status", (double)r->up.http_status);
}

void summary_print(const struct run *r)
{
	_cleanup_(cJSON_Deletep) cJSON *s = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *t;
	char when[32];
	struct tm tm;

	char osha[65];

	hex_encode(r->o->sha256, 32, osha);
	cJSON_AddStringToObject(s, "order_id", r->o->id);
	cJSON_AddStringToObject(s, "order_sha256", osha);
	cJSON_AddStringToObject(s, "platform", qemu_platform_name(r->ro->platform));
	cJSON_AddNumberToObject(s, "exit", r->exit);
	add_str_or_null(s, "code", r->code);
	summary_status(s, &r->st);
	if (r->ro->tunnel) {
		cJSON *tu = cJSON_AddObjectToObject(s, "tunnel");

		cJSON_AddStringToObject(tu, "address", r->ro->tunnel);
		add_str_or_null(tu, "cert_sha256", r->st.tunnel_cert[0] ? r->st.tunnel_cert : NULL);
	} else {
		cJSON_AddNullToObject(s, "tunnel");
	}
	summary_qemu(s, r);
	summary_files(s, r);
	t = cJSON_AddObjectToObject(s, "times");
	gmtime_r(&r->started, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(t, "started", when);
	cJSON_AddNumberToObject(t, "fetch_ms", (double)r->fetch_ms);
	cJSON_AddNumberToObject(t, "vm_ms", (double)r->vm_ms);
	cJSON_AddNumberToObject(t, "upload_ms", (double)r->upload_ms);
	cJSON_AddNumberToObject(t, "total_ms", (double)(mono_ms() - r->t0));
	if (!(text = cJSON_PrintUnformatted(s)) || printf("%s\n", text) < 0 || fflush(stdout)) {
		log_error("standard output: the summary cannot be written");
		return;
	}
}
