/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unlock path on the host: volumes made by `cvm pack` (and attacked with
 * cryptsetup and by rewriting their metadata) are opened, validated and
 * their key checked from the in-memory header copy, as the guest does
 * before activation. Every attack is refused before any key is used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/agent.h"
#include "lib/lib.h"
#include "tests/unit/support/sim.h"

static char dir[512], cvm[512];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static cJSON *key_json(const char *name)
{
	char path[600];
	size_t len;
	uint8_t *t;
	cJSON *j = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	t = sim_read(path, &len);
	assert_int_equal(json_parse((char *)t, len, &j), 0);
	free(t);
	return j;
}

static size_t volume_key(const char *name, uint8_t pass[32])
{
	cJSON *j = key_json(name);

	assert_int_equal(json_get_hex(j, "volume_key", pass, 32), 0);
	cJSON_Delete(j);
	return 32;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/volume", sim_env("CVM_TEST_TMP"));
	snprintf(cvm, sizeof(cvm), "%s", sim_env("CVM_BIN"));
	sh("rm -rf %s && mkdir -p %s/wl && echo job > %s/wl/job && head -c 100000 /dev/zero > "
	   "%s/wl/zero",
	   dir, dir, dir, dir);
	sh("%s pack %s/wl -o %s/good.img --key-out %s/good.key >/dev/null", cvm, dir, dir, dir);
	sh("%s pack %s/wl -o %s/other.img --key-out %s/other.key >/dev/null", cvm, dir, dir, dir);
	return 0;
}

static int open_err(const char *img, char *err, size_t errlen, struct volume *v)
{
	struct luks2_allow allow;
	char path[600];

	luks2_allow_defaults(&allow);
	snprintf(path, sizeof(path), "%s/%s", dir, img);
	return volume_open(path, &allow, v, err, errlen);
}

static void expect_refused(const char *img, const char *code)
{
	struct volume v;
	char err[256] = "";
	/* a header cut short says so apart: a reader of a prefix may read on */
	int want = strcmp(code, "E_LUKS_TRUNCATED") ? -EBADMSG : -ENODATA;

	assert_int_equal(open_err(img, err, sizeof(err), &v), want);
	if (strncmp(err, code, strlen(code)))
		fail_msg("%s: got '%s', expected %s", img, err, code);
}

static void test_good_volume(void **state)
{
	struct volume v;
	uint8_t pass[32], want[32], wrong[32] = { 0 };
	char err[256];
	cJSON *k = key_json("good.key");

	(void)state;
	assert_int_equal(open_err("good.img", err, sizeof(err), &v), 0);
	assert_int_equal(json_get_hex(k, "luks_header_sha256", want, 32), 0);
	assert_memory_equal(v.hdr.sha256, want, 32);
	assert_int_equal(v.hdr.data_offset, 290816); /* cvm pack's header area */
	assert_string_equal(v.hdr.cipher, "aes-xts-plain64");
	{
		/* the two metadata copies alone: cut short, and how far to read on */
		struct luks2_header h;
		struct luks2_allow allow;
		uint8_t head[32768];
		char path[600];
		FILE *f;

		snprintf(path, sizeof(path), "%s/good.img", dir);
		f = fopen(path, "rb");
		assert_non_null(f);
		assert_int_equal(fread(head, 1, sizeof(head), f), sizeof(head));
		fclose(f);
		luks2_allow_defaults(&allow);
		assert_int_equal(luks2_header_validate(head, sizeof(head), v.size, &allow, &h, err,
						       sizeof(err)),
				 -ENODATA);
		assert_int_equal(h.data_offset, 290816);
		/* the first copy alone: how far is not known yet */
		assert_int_equal(
			luks2_header_validate(head, 20000, v.size, &allow, &h, err, sizeof(err)),
			-ENODATA);
		assert_int_equal(h.data_offset, 0);
	}
	volume_key("good.key", pass);
	assert_int_equal(volume_unlock(&v, NULL, pass, 32, err, sizeof(err)), 0);
	assert_int_equal(volume_unlock(&v, NULL, wrong, 32, err, sizeof(err)), -EACCES);
	assert_string_equal(err, "E_KEY: the released key does not open the volume");
	volume_close(&v);
	cJSON_Delete(k);
}

/*
 * cryptsetup's own layout: a header area of 16 MiB, past the first read of
 * the metadata copies; read on, validated whole, its digest over all of it.
 */
static void test_large_header_area(void **state)
{
	struct volume v;
	uint8_t pass[32] = { 7 }, want[32];
	char err[256], path[600];
	uint8_t *img;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/pass16", dir);
	sim_write(path, pass, sizeof(pass));
	sh("truncate -s 20M %s/big.img && cryptsetup luksFormat --batch-mode --type luks2 "
	   "--cipher aes-xts-plain64 --key-size 512 --sector-size 4096 --pbkdf pbkdf2 "
	   "--pbkdf-force-iterations 1000 --key-file %s/pass16 %s/big.img",
	   dir, dir, dir);
	assert_int_equal(open_err("big.img", err, sizeof(err), &v), 0);
	assert_int_equal(v.hdr.data_offset, 16u << 20);
	snprintf(path, sizeof(path), "%s/big.img", dir);
	f = fopen(path, "rb");
	img = malloc(16u << 20);
	assert_non_null(f);
	assert_non_null(img);
	assert_int_equal(fread(img, 1, 16u << 20, f), 16u << 20);
	fclose(f);
	assert_int_equal(EVP_Digest(img, 16u << 20, want, NULL, EVP_sha256(), NULL), 1);
	assert_memory_equal(v.hdr.sha256, want, 32);
	assert_int_equal(volume_unlock(&v, NULL, pass, 32, err, sizeof(err)), 0);
	volume_close(&v);
	free(img);
	/* cut inside its keyslots: the segment lies past the device */
	sh("head -c 8388608 %s/big.img > %s/bigcut.img", dir, dir);
	expect_refused("bigcut.img", "E_VOLUME_TRUNCATED");
}

/* The disk's header is replaced after the check: the in-memory copy is what unlocks. */
static void test_no_check_then_open_race(void **state)
{
	struct volume v;
	uint8_t pass[32], other[32];
	char err[256];

	(void)state;
	sh("cp %s/good.img %s/race.img", dir, dir);
	assert_int_equal(open_err("race.img", err, sizeof(err), &v), 0);
	sh("dd if=%s/other.img of=%s/race.img bs=1M count=1 conv=notrunc 2>/dev/null", dir, dir);
	volume_key("good.key", pass);
	volume_key("other.key", other);
	assert_int_equal(volume_unlock(&v, NULL, pass, 32, err, sizeof(err)), 0);
	assert_int_equal(volume_unlock(&v, NULL, other, 32, err, sizeof(err)), -EACCES);
	volume_close(&v);
}

/* A swapped volume with a valid header of its own: valid, but its digest is not the policy's. */
static void test_swapped_volume(void **state)
{
	struct volume v;
	uint8_t want[32], pass[32];
	char err[256];
	cJSON *k = key_json("good.key");

	(void)state;
	assert_int_equal(open_err("other.img", err, sizeof(err), &v), 0);
	assert_int_equal(json_get_hex(k, "luks_header_sha256", want, 32), 0);
	assert_memory_not_equal(v.hdr.sha256, want, 32);
	volume_key("good.key", pass);
	assert_int_equal(volume_unlock(&v, NULL, pass, 32, err, sizeof(err)), -EACCES);
	volume_close(&v);
	cJSON_Delete(k);
}

/* Rewrites the JSON metadata of one or both copies (edit: a sed expression), fixing checksums. */
static void rewrite(const char *src, const char *dst, const char *py_edit, int copies)
{
	sh("cp %s/%s %s/%s && /usr/bin/python3 - %s/%s %d <<'EOP'\n"
	   "import hashlib, json, sys\n"
	   "f = open(sys.argv[1], 'r+b'); d = bytearray(f.read(1 << 20)); n = int(sys.argv[2])\n"
	   "size = int.from_bytes(d[8:16], 'big')\n"
	   "for c in range(n):\n"
	   "    o = c * size\n"
	   "    j = json.loads(bytes(d[o + 4096:o + size]).rstrip(b'\\0'))\n"
	   "    %s\n"
	   "    t = json.dumps(j, separators=(',', ':')).encode()\n"
	   "    d[o + 4096:o + size] = t + bytes(size - 4096 - len(t))\n"
	   "    d[o + 448:o + 512] = bytes(64)\n"
	   "    d[o + 448:o + 480] = hashlib.sha256(bytes(d[o:o + size])).digest()\n"
	   "f.seek(0); f.write(d); f.close()\n"
	   "EOP",
	   dir, src, dir, dst, dir, dst, copies, py_edit);
}

static void test_attacks_refused(void **state)
{
	(void)state;
	/*
	 * a second keyslot, the digest naming both (cvm pack's keyslots area
	 * holds one: cryptsetup luksAddKey finds no room for another)
	 */
	rewrite("good.img", "two.img",
		"j['keyslots']['1'] = dict(j['keyslots']['0']); "
		"j['digests']['0']['keyslots'] = ['0', '1']",
		2);
	expect_refused("two.img", "E_LUKS_KEYSLOTS");
	/* a token */
	sh("cp %s/good.img %s/token.img && echo '{\"type\":\"luks2-keyring\",\"keyslots\":[\"0\"],"
	   "\"key_description\":\"x\"}' > %s/tok.json && cryptsetup token import --json-file "
	   "%s/tok.json %s/token.img",
	   dir, dir, dir, dir, dir);
	expect_refused("token.img", "E_LUKS_TOKENS");
	/* cipher_null (CVE-2025-59054): the segment rewritten, checksums made good */
	rewrite("good.img", "null2.img", "j['segments']['0']['encryption'] = 'cipher_null-ecb'", 2);
	expect_refused("null2.img", "E_LUKS_CIPHER");
	/* a keyslot area aimed at the data */
	rewrite("good.img", "area.img", "j['keyslots']['0']['area']['offset'] = '1048576'", 2);
	expect_refused("area.img", "E_LUKS_KEYSLOT_AREA");
	/* a segment starting inside the keyslots area */
	rewrite("good.img", "overlap.img", "j['segments']['0']['offset'] = '262144'", 2);
	expect_refused("overlap.img", "E_LUKS_OVERLAP");
	/* header copies that disagree */
	rewrite("good.img", "copies.img",
		"j['segments']['0']['sector_size'] = 4096 if c else 4096; "
		"j['config']['keyslots_size'] = '1015808' if c == 0 else '987136'",
		2);
	expect_refused("copies.img", "E_LUKS_COPIES");
	/* integrity, reencryption requirements, another sector size, argon2 */
	rewrite("good.img", "integ.img",
		"j['segments']['0']['integrity'] = {'type': 'hmac(sha256)', 'journal_encryption': "
		"'none', 'journal_integrity': 'none'}",
		2);
	expect_refused("integ.img", "E_LUKS_INTEGRITY");
	rewrite("good.img", "reenc.img",
		"j['config']['requirements'] = {'mandatory': ['online-reencrypt-v2']}", 2);
	expect_refused("reenc.img", "E_LUKS_CONFIG");
	rewrite("good.img", "sector.img", "j['segments']['0']['sector_size'] = 512", 2);
	expect_refused("sector.img", "E_LUKS_SECTOR");
	rewrite("good.img", "argon.img",
		"j['keyslots']['0']['kdf'] = {'type': 'argon2id', 'time': 4, 'memory': 4194304, "
		"'cpus': 4, 'salt': 'AAAA'}",
		2);
	expect_refused("argon.img", "E_LUKS_KDF");
	/* arithmetic: a keyslots area of 2^64 - 32768 bytes whose keyslot sits on the data */
	rewrite("good.img", "kss.img",
		"j['config']['keyslots_size'] = str(2**64 - 32768); "
		"j['keyslots']['0']['area']['offset'] = '1048576'; "
		"j['keyslots']['0']['area']['size'] = str(2**64 - 1048576)",
		2);
	expect_refused("kss.img", "E_LUKS_CONFIG");
	/* a segment size that wraps past 2^64 back inside the device */
	rewrite("good.img", "segwrap.img", "j['segments']['0']['size'] = str(2**64 - 1044480)", 2);
	expect_refused("segwrap.img", "E_LUKS_SEGMENT");
	/* PBKDF2 iterations fractional, beyond any integer type, or a string */
	rewrite("good.img", "iterfrac.img", "j['keyslots']['0']['kdf']['iterations'] = 1000.5", 2);
	expect_refused("iterfrac.img", "E_LUKS_KDF");
	rewrite("good.img", "iterhuge.img", "j['keyslots']['0']['kdf']['iterations'] = 1e300", 2);
	expect_refused("iterhuge.img", "E_LUKS_KDF");
	rewrite("good.img", "iterstr.img", "j['keyslots']['0']['kdf']['iterations'] = '1000'", 2);
	expect_refused("iterstr.img", "E_LUKS_KDF");
	/* the keyslot area encrypted with a smaller key than the keyslot's (cryptsetup uses it) */
	rewrite("good.img", "areakey.img", "j['keyslots']['0']['area']['key_size'] = 32", 2);
	expect_refused("areakey.img", "E_LUKS_KEYSLOT");
	/* a checksum that does not match (one byte of JSON changed, checksum kept) */
	sh("cp %s/good.img %s/sum.img && printf ' ' | dd of=%s/sum.img bs=1 seek=4200 conv=notrunc "
	   "2>/dev/null",
	   dir, dir, dir);
	expect_refused("sum.img", "E_LUKS_CHECKSUM");
	/* truncated device, and one of zero length */
	sh("head -c 20000 %s/good.img > %s/trunchdr.img && : > %s/empty.img", dir, dir, dir);
	expect_refused("trunchdr.img", "E_LUKS_TRUNCATED");
	sh("head -c 200000 %s/good.img > %s/trunc.img", dir, dir); /* inside the keyslots area */
	expect_refused("trunc.img", "E_VOLUME_TRUNCATED");
	sh("head -c 290816 %s/good.img > %s/nodata.img", dir, dir);
	expect_refused("nodata.img", "E_VOLUME_TRUNCATED");
	expect_refused("empty.img", "E_VOLUME_EMPTY");
	/* not LUKS at all */
	sh("head -c 2097152 /dev/zero > %s/zero.img", dir);
	expect_refused("zero.img", "E_LUKS_MAGIC");
	sh("rm -f %s/pass %s/pass2", dir, dir);
}

/* The released volume.key: parsed strictly; a key for another header is not tried. */
static void test_volume_key(void **state)
{
	char path[600], err[256];
	size_t len;
	uint8_t *text;
	struct volume_key k;
	struct volume v;

	(void)state;
	snprintf(path, sizeof(path), "%s/good.key", dir);
	text = sim_read(path, &len);
	assert_int_equal(volume_key_parse((char *)text, len, &k, err, sizeof(err)), 0);
	assert_int_equal(k.hash_offset, k.data_blocks * 4096);
	assert_int_equal(open_err("other.img", err, sizeof(err), &v), 0);
	assert_int_equal(volume_activate(&v, &k, "cvm-test", "/nonexistent", err, sizeof(err)),
			 -EACCES);
	assert_string_equal(err, "E_KEY: the released key is for another volume header");
	volume_close(&v);
	assert_int_equal(volume_key_parse("{\"version\":2}", 13, &k, err, sizeof(err)), -EBADMSG);
	/* data_blocks * 4096 wrapping to a small hash_offset */
	{
		static const char wrap[] =
			"{\"version\":1,\"volume_key\":\"0000000000000000000000000000000000000000"
			"000000000000000000000000\",\"luks_header_sha256\":"
			"\"00000000000000000000000"
			"00000000000000000000000000000000000000000\",\"verity\":{\"root_hash\":\"00"
			"00000000000000000000000000000000000000000000000000000000000000\",\"salt\":"
			"\"0"
			"000000000000000000000000000000000000000000000000000000000000000\","
			"\"hash_algorithm\":\"sha256\",\"data_block_size\":4096,\"hash_block_"
			"size\":"
			"4096,\"data_blocks\":\"0x10000000000001\",\"hash_offset\":4096}}";

		assert_int_equal(volume_key_parse(wrap, strlen(wrap), &k, err, sizeof(err)),
				 -EBADMSG);
	}
	text[len / 2] = 'x';
	assert_int_equal(volume_key_parse((char *)text, len, &k, err, sizeof(err)), -EBADMSG);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_header_area),
		cmocka_unit_test(test_good_volume),
		cmocka_unit_test(test_no_check_then_open_race),
		cmocka_unit_test(test_swapped_volume),
		cmocka_unit_test(test_attacks_refused),
		cmocka_unit_test(test_volume_key),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
