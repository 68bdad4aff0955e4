/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's unlock path as far as it runs without device-mapper, on the
 * host: volume.key parsed as the broker releases it, the volume's header
 * area read once, validated and kept in a sealed memfd (volume_open), and
 * the key tried against that in-memory header by libcryptsetup
 * (volume_unlock without a name).
 *   volume_check VOLUME.img VOLUME.key
 * Prints "unlocked" and exits 0, or the one-line error and exits 1; 2 for
 * usage or an unreadable key file.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent/agent.h"
#include "lib/lib.h"

int main(int argc, char **argv)
{
	_cleanup_free_ uint8_t *text = NULL;
	struct luks2_allow allow;
	struct volume_key k;
	struct volume v;
	char err[256] = "";
	size_t len = 0;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: volume_check VOLUME.img VOLUME.key\n");
		return 2;
	}
	if (file_read(argv[2], 64 * 1024, &text, &len) < 0) {
		fprintf(stderr, "volume_check: %s: unreadable\n", argv[2]);
		return 2;
	}
	r = volume_key_parse((const char *)text, len, &k, err, sizeof(err));
	OPENSSL_cleanse(text, len);
	if (r == 0)
		r = volume_open(argv[1], (luks2_allow_defaults(&allow), &allow), &v, err,
				sizeof(err));
	if (r == 0) {
		r = volume_unlock(&v, NULL, k.pass, sizeof(k.pass), err, sizeof(err));
		volume_close(&v);
	}
	OPENSSL_cleanse(&k, sizeof(k));
	if (r < 0) {
		fprintf(stderr, "volume_check: %s\n", err);
		return 1;
	}
	printf("unlocked\n");
	return 0;
}
