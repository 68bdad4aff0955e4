/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a process that holds keys does so that none of its memory leaves it
 * by a core dump, and so that copies of secrets made on the way (JSON
 * trees, parser buffers) are wiped before they are freed.
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

#include "lib/lib.h"

int harden_no_dump(char *err, size_t errlen)
{
	const struct rlimit zero = { 0, 0 };

	/*
	 * Not dumpable: no core (whatever core_pattern says, a pipe included),
	 * no ptrace attach by another process of the same uid, /proc/self
	 * files owned by root. RLIMIT_CORE 0 (soft and hard) also covers the
	 * children this process starts, whose dumpable flag exec resets.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return set_error(err, errlen, -errno, "E_HARDEN: PR_SET_DUMPABLE: %s",
				 strerror(errno));
	if (setrlimit(RLIMIT_CORE, &zero) < 0)
		return set_error(err, errlen, -errno, "E_HARDEN: RLIMIT_CORE: %s", strerror(errno));
	return 0;
}

static void json_wipe(cJSON *v)
{
	for (; v; v = v->next) {
		if (v->valuestring)
			OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
		if (v->string && !(v->type & cJSON_StringIsConst))
			OPENSSL_cleanse(v->string, strlen(v->string));
		v->valuedouble = 0;
		v->valueint = 0;
		json_wipe(v->child);
	}
}

void json_delete_wiped(cJSON *v)
{
	if (!v)
		return;
	/* the root's siblings are not its own: wipe its members, then its own strings */
	json_wipe(v->child);
	if (v->valuestring)
		OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
	cJSON_Delete(v);
}

void wipe_freep(char **p)
{
	if (!*p)
		return;
	OPENSSL_cleanse(*p, strlen(*p));
	free(*p);
}

void cvm_erase(struct cvm_eraser *e)
{
	OPENSSL_cleanse(e->p, e->n);
}

void wiped_buf_free(struct wiped_buf *b)
{
	if (!b->p)
		return;
	OPENSSL_cleanse(b->p, b->n);
	free(b->p);
	b->p = NULL;
	b->n = 0;
}
