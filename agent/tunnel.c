/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tunnel's key and attested certificate, made in the guest
 * (measurement/tunnel.h, docs/tunnel.md). The key never leaves the guest:
 * it stays in the agent's memory, and the certificate binds it.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "measurement/platform.h"
#include "measurement/tunnel.h"

int agent_tunnel_cert(struct tee *t, int64_t not_before, uint32_t lifetime, EVP_PKEY **key,
		      uint8_t **der, size_t *len, uint8_t spki_sha256[32], char *err, size_t errlen)
{
	const struct platform *pl = platform_by_kbs_tee(t->kbs_tee);
	struct kbs_evidence e = { 0 };
	unsigned char *spki = NULL;
	cJSON *primary = NULL;
	uint8_t rd[64];
	int n, r;

	*key = NULL;
	*der = NULL;
	*len = 0;
	if (!pl)
		return set_error(err, errlen, -ENOTSUP, "E_TUNNEL: the tee %s has no platform",
				 t->kbs_tee);
	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	n = *key ? i2d_PUBKEY(*key, &spki) : -1;
	if (n <= 0) {
		r = set_error(err, errlen, -ENOMEM, "E_TUNNEL: cannot make the tunnel's key");
		goto out;
	}
	if ((r = tunnel_cert_report_data(spki, (size_t)n, rd)) < 0 ||
	    (r = EVP_Digest(spki, (size_t)n, spki_sha256, NULL, EVP_sha256(), NULL) == 1
			 ? 0
			 : -EIO) < 0) {
		set_error(err, errlen, r, "E_TUNNEL: cannot hash the tunnel's key");
		goto out;
	}
	if ((r = t->evidence(t, rd, &primary, err, errlen)) < 0)
		goto out;
	/* taken apart as a client will: a raw TDX quote also goes under dstack's OID */
	if ((r = kbs_evidence_parse(pl->id, primary, &e, err, errlen)) < 0)
		goto out;
	r = tunnel_cert_make(*key, t->kbs_tee, primary, pl->id == PLATFORM_TDX ? e.raw : NULL,
			     e.raw_len, not_before, lifetime, der, len, err, errlen);
out:
	kbs_evidence_free(&e);
	cJSON_Delete(primary);
	OPENSSL_free(spki);
	if (r < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	return r;
}
