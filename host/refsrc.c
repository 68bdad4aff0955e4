/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --reference for cvm verify and cvm result open: reference values, or an
 * image builder's signed manifest (checked against --builder) with the
 * values it leaves to the verifier in --pins.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/cvm.h"
#include "measurement/measurement.h"

void refsrc_free(struct refsrc *rs)
{
	if (rs->is_manifest)
		manifest_free(&rs->m);
	rs->is_manifest = false;
}

int refsrc_load(const char *path, const char *builder_hex, const char *sig_path,
		const char *pins_path, struct refsrc *rs, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL, *sig = NULL, *pins = NULL;
	char defsig[4096], why[256], hex[65];
	uint8_t builder[33];
	size_t len, slen, plen;
	int r;

	memset(rs, 0, sizeof(*rs));
	reference_defaults(&rs->ref);
	if ((r = file_read(path, CVM_CAP_JSON, &text, &len)) < 0)
		return set_error(err, errlen, -ENOENT, "%s: %s", path, strerror(-r));
	if (!manifest_text_is_manifest((char *)text, len)) {
		if (builder_hex || sig_path || pins_path)
			return set_error(
				err, errlen, -EINVAL,
				"%s: --builder, --signature and --pins go with a manifest, "
				"and this is reference values",
				path);
		if (reference_parse((char *)text, len, &rs->ref, why, sizeof(why)) < 0)
			return set_error(err, errlen, -EINVAL, "%s: %s", path, why);
		snprintf(rs->label, sizeof(rs->label), "%s", path);
		return 0;
	}
	if (!builder_hex)
		return set_error(err, errlen, -EINVAL,
				 "%s is an image manifest: give --builder PUBKEY (the image "
				 "builder's key) to check its signature",
				 path);
	if (result_pub_from_hex(builder_hex, builder) < 0)
		return set_error(
			err, errlen, -EINVAL,
			"--builder: not a compressed secp256k1 public key (66 hex digits)");
	if (!sig_path) {
		size_t n = strlen(path);

		if (n > 5 && !strcmp(path + n - 5, ".json"))
			n -= 5;
		snprintf(defsig, sizeof(defsig), "%.*s.sig", (int)n, path);
		sig_path = defsig;
	}
	if ((r = file_read(sig_path, CVM_CAP_JSON, &sig, &slen)) < 0)
		return set_error(err, errlen, -ENOENT, "%s: %s (the manifest's signature)",
				 sig_path, strerror(-r));
	if (pins_path) {
		if ((r = file_read(pins_path, CVM_CAP_JSON, &pins, &plen)) < 0)
			return set_error(err, errlen, -ENOENT, "%s: %s", pins_path, strerror(-r));
		if (reference_parse((char *)pins, plen, &rs->ref, why, sizeof(why)) < 0)
			return set_error(err, errlen, -EINVAL, "%s: %s", pins_path, why);
	}
	if (manifest_parse((char *)text, len, &rs->m, why, sizeof(why)) < 0)
		return set_error(err, errlen, -EBADMSG, "%s: %s", path, why);
	rs->is_manifest = true;
	if (manifest_check_signature(&rs->m, (char *)sig, slen, builder, NULL, why, sizeof(why)) <
	    0) {
		refsrc_free(rs);
		return set_error(err, errlen, -EKEYREJECTED, "%s: %s", sig_path, why);
	}
	hex_encode(rs->m.sha256, 32, hex);
	snprintf(rs->label, sizeof(rs->label), "image %s %s (manifest %.16s)", rs->m.name,
		 rs->m.version, hex);
	return 0;
}

int refsrc_candidates(const struct refsrc *rs, enum cvm_platform p, struct reference **out,
		      size_t *n, char *err, size_t errlen)
{
	if (rs->is_manifest)
		return manifest_candidates(&rs->m, p, &rs->ref, out, n, err, errlen);
	*out = malloc(sizeof(**out));
	if (!*out)
		return -ENOMEM;
	**out = rs->ref;
	*n = 1;
	return 0;
}
