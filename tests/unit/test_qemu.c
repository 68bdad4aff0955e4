/* SPDX-License-Identifier: Apache-2.0 */
/*
 * QEMU launch arguments (host/qemu.c) and image descriptions: the exact
 * argument list of each platform for the repository's default image and a
 * signed order; plain is the command line tests/e2e/test_order.sh boots.
 * Then the image descriptions and launches that are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <secp256k1.h>

/* host/ is not in the test library: the unit under test is compiled in. */
#include "host/qemu.c"
#include "tests/unit/support/sim.h"

#define DIR "/srv/cvm/images/default"
#define SHA "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct order order;
static struct image image;
static const struct qemu_paths paths = {
	.order_disk = "/run/cvm/o1/order.img",
	.output = "/run/cvm/o1/output.img",
	.inputs = { "/run/cvm/o1/inputs/solution.img", "/run/cvm/o1/inputs/data.img" },
	.status = "/run/cvm/o1/status",
	.swtpm_socket = "/run/cvm/o1/swtpm.sock",
};

/* The repository's vm-images/default/image.json, as if it lay in DIR. */
static void load_default_image(struct image *img)
{
	char path[1024], err[256];
	size_t len;
	_cleanup_free_ uint8_t *text = sim_read(
		sim_path(path, sizeof(path), "CVM_TOP", "vm-images/default/image.json"), &len);

	if (image_parse((const char *)text, len, DIR, img, err, sizeof(err)) < 0)
		fail_msg("vm-images/default/image.json: %s", err);
}

static void fixed_pub(struct result_key *k)
{
	secp256k1_pubkey pk;
	size_t n = 33;

	assert_true(secp256k1_ec_pubkey_create(cvm_secp256k1(), &pk, k->sk));
	assert_true(secp256k1_ec_pubkey_serialize(cvm_secp256k1(), k->pub, &n, &pk,
						  SECP256K1_EC_COMPRESSED));
}

static int setup(void **state)
{
	static const char unsigned_order[] =
		"{\"id\": \"order-e2e-1\", \"image\": \"default\", \"vcpus\": 1, \"memory_mib\": "
		"1024,"
		" \"deadline_seconds\": 600,"
		" \"version\": 2, \"inputs\": ["
		"  {\"name\": \"solution\", \"role\": \"solution\","
		"   \"volume\": {\"url\": \"https://files.example.com/w.img\", \"size\": 8388608,"
		"    \"sha256\": \"" SHA "\", \"luks_header_sha256\": \"" SHA "\"},"
		"   \"broker\": {\"url\": \"https://127.0.0.1:40123\","
		"    \"resource\": \"default/workload/key\", \"spki_sha256\": \"" SHA "\"}},"
		"  {\"name\": \"data\", \"role\": \"data\","
		"   \"volume\": {\"url\": \"https://files.example.com/d.img\", \"size\": 4096,"
		"    \"sha256\": \"" SHA "\", \"luks_header_sha256\": \"" SHA "\"},"
		"   \"broker\": {\"url\": \"https://b.example.com\","
		"    \"resource\": \"data/volume/key\", \"spki_sha256\": \"" SHA "\"}}],"
		" \"result\": {\"upload_url\": \"https://files.example.com/r\"}}";
	struct result_key k = { 0 };
	_cleanup_free_ char *signed_text = NULL;
	char err[256];

	(void)state;
	k.sk = secret_alloc(32);
	assert_non_null(k.sk);
	memset(k.sk, 0x33, 32);
	fixed_pub(&k);
	assert_int_equal(order_sign(unsigned_order, strlen(unsigned_order), &k, &signed_text, err,
				    sizeof(err)),
			 0);
	result_key_wipe(&k);
	assert_int_equal(
		order_parse(signed_text, strlen(signed_text), NULL, &order, err, sizeof(err)), 0);
	load_default_image(&image);
	return 0;
}

static char *b64(const uint8_t *p, int n)
{
	static char out[2][128];
	static int i;

	i ^= 1;
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out[i], p, n), 4 * ((n + 2) / 3));
	return out[i];
}

static void assert_argv(char **got, const char *const *want, size_t n)
{
	size_t i;

	for (i = 0; i < n && got[i]; i++)
		if (strcmp(got[i], want[i]))
			fail_msg("argument %zu: \"%s\", expected \"%s\"", i, got[i], want[i]);
	if (i != n || got[n])
		fail_msg("%zu arguments or more, expected %zu", i, n);
}

static char **launch(const struct image *img, enum qemu_platform p, const struct qemu_paths *qp)
{
	char **argv = NULL, err[256];

	if (qemu_args(img, &order, p, qp, &argv, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return argv;
}

/* --tunnel: a hostfwd to the guest's terminator on the one network; nothing else in the address. */
static void test_tunnel_forward(void **state)
{
	struct qemu_paths qp = paths;
	char **argv, err[256];
	bool seen = false;

	(void)state;
	qp.tunnel = "127.0.0.1:18443";
	argv = launch(&image, QEMU_PLAIN, &qp);
	for (size_t i = 0; argv[i]; i++)
		if (!strcmp(argv[i], "-netdev")) {
			assert_non_null(strstr(argv[i + 1], ",hostfwd=tcp:127.0.0.1:18443-:8443"));
			assert_non_null(strstr(argv[i + 1], "restrict=on"));
			seen = true;
		}
	assert_true(seen);
	qemu_args_free(argv);
	qp.tunnel = "127.0.0.1:1,guestfwd=tcp:10.0.2.9:1-cmd:sh";
	argv = NULL;
	assert_true(qemu_args(&image, &order, QEMU_PLAIN, &qp, &argv, err, sizeof(err)) < 0);
	assert_null(argv);
}

/* ---- the exact lists ---- */

static void test_plain_is_the_e2e_command_line(void **state)
{
	static const char *const want[] = {
		"qemu-system-x86_64",
		"-accel",
		"tcg",
		"-cpu",
		"max",
		"-m",
		"1024",
		"-smp",
		"1",
		"-nographic",
		"-no-reboot",
		"-kernel",
		DIR "/vmlinuz",
		"-initrd",
		DIR "/initrd.img",
		"-append",
		"console=ttyS0 panic=-1 quiet acpi=noirq cryptomgr.notests=1 preempt=full",
		"-drive",
		"file=/run/cvm/o1/order.img,if=virtio,format=raw,readonly=on",
		"-drive",
		"file=/run/cvm/o1/output.img,if=virtio,format=raw",
		"-drive",
		"file=/run/cvm/o1/inputs/solution.img,if=virtio,format=raw,readonly=on",
		"-drive",
		"file=/run/cvm/o1/inputs/data.img,if=virtio,format=raw,readonly=on",
		"-device",
		"virtio-serial-pci",
		"-chardev",
		"file,id=status,path=/run/cvm/o1/status",
		"-device",
		"virtserialport,chardev=status,name=org.cvm.status",
		"-netdev",
		"user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:40123-cmd:socat - "
		"TCP:127.0.0.1:40123,guestfwd=tcp:10.0.2.101:443-cmd:socat - TCP:b.example.com:443",
		"-device",
		"virtio-net-pci,netdev=n0",
		"-chardev",
		"socket,id=chrtpm,path=/run/cvm/o1/swtpm.sock",
		"-tpmdev",
		"emulator,id=tpm0,chardev=chrtpm",
		"-device",
		"tpm-tis,tpmdev=tpm0",
	};
	char **argv = launch(&image, QEMU_PLAIN, &paths);

	(void)state;
	assert_argv(argv, want, ARRAY_SIZE(want));
	qemu_args_free(argv);
}

static void test_tdx_command_line(void **state)
{
	char object[512];
	const char *const want[] = {
		"qemu-system-x86_64",
		"-accel",
		"kvm",
		"-cpu",
		"host",
		"-m",
		"1024",
		"-smp",
		"1",
		"-nographic",
		"-no-reboot",
		"-object",
		object,
		"-machine",
		"q35,kernel-irqchip=split,confidential-guest-support=tdx0",
		"-bios",
		DIR "/OVMF.inteltdx.fd",
		"-kernel",
		DIR "/vmlinuz",
		"-initrd",
		DIR "/initrd.img",
		"-append",
		"console=ttyS0 panic=-1 quiet acpi=noirq cryptomgr.notests=1 preempt=full",
		"-drive",
		"file=/run/cvm/o1/order.img,if=none,id=order,format=raw,readonly=on",
		"-device",
		"virtio-blk-pci,drive=order,disable-legacy=on,iommu_platform=on",
		"-drive",
		"file=/run/cvm/o1/output.img,if=none,id=output,format=raw",
		"-device",
		"virtio-blk-pci,drive=output,disable-legacy=on,iommu_platform=on",
		"-drive",
		"file=/run/cvm/o1/inputs/solution.img,if=none,id=input0,format=raw,readonly=on",
		"-device",
		"virtio-blk-pci,drive=input0,disable-legacy=on,iommu_platform=on",
		"-drive",
		"file=/run/cvm/o1/inputs/data.img,if=none,id=input1,format=raw,readonly=on",
		"-device",
		"virtio-blk-pci,drive=input1,disable-legacy=on,iommu_platform=on",
		"-device",
		"virtio-serial-pci,disable-legacy=on,iommu_platform=on",
		"-chardev",
		"file,id=status,path=/run/cvm/o1/status",
		"-device",
		"virtserialport,chardev=status,name=org.cvm.status",
		"-netdev",
		"user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:40123-cmd:socat - "
		"TCP:127.0.0.1:40123,guestfwd=tcp:10.0.2.101:443-cmd:socat - TCP:b.example.com:443",
		"-device",
		"virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=",
	};
	char **argv;

	(void)state;
	snprintf(object, sizeof(object),
		 "{\"qom-type\":\"tdx-guest\",\"id\":\"tdx0\",\"sept-ve-disable\":true,"
		 "\"mrconfigid\":\"%s\",\"quote-generation-socket\":{\"type\":\"vsock\","
		 "\"cid\":\"2\",\"port\":\"4050\"}}",
		 b64(order.sha384, 48));
	argv = launch(&image, QEMU_TDX, &paths);
	assert_argv(argv, want, ARRAY_SIZE(want));
	qemu_args_free(argv);
}

static void test_snp_command_line(void **state)
{
	char object[512];
	const char *const want[] = {
		"qemu-system-x86_64",
		"-accel",
		"kvm",
		"-cpu",
		"EPYC-v4",
		"-m",
		"1024",
		"-smp",
		"1",
		"-nographic",
		"-no-reboot",
		"-object",
		"memory-backend-memfd,id=ram1,size=1024M,share=true,prealloc=false",
		"-object",
		object,
		"-machine",
		"q35,confidential-guest-support=sev0,memory-backend=ram1",
		"-bios",
		DIR "/OVMF.amdsev.fd",
		"-kernel",
		DIR "/vmlinuz",
		"-initrd",
		DIR "/initrd.img",
		"-append",
		"console=ttyS0 panic=-1 quiet acpi=noirq cryptomgr.notests=1 preempt=full",
		"-drive",
		"file=/run/cvm/o1/order.img,if=none,id=order,format=raw,readonly=on",
		"-device",
		"virtio-blk-pci,drive=order,disable-legacy=on,iommu_platform=on",
		"-drive",
		"file=/run/cvm/o1/output.img,if=none,id=output,format=raw",
		"-device",
		"virtio-blk-pci,drive=output,disable-legacy=on,iommu_platform=on",
		"-drive",
		"file=/run/cvm/o1/inputs/solution.img,if=none,id=input0,format=raw,readonly=on",
		"-device",
		"virtio-blk-pci,drive=input0,disable-legacy=on,iommu_platform=on",
		"-drive",
		"file=/run/cvm/o1/inputs/data.img,if=none,id=input1,format=raw,readonly=on",
		"-device",
		"virtio-blk-pci,drive=input1,disable-legacy=on,iommu_platform=on",
		"-device",
		"virtio-serial-pci,disable-legacy=on,iommu_platform=on",
		"-chardev",
		"file,id=status,path=/run/cvm/o1/status",
		"-device",
		"virtserialport,chardev=status,name=org.cvm.status",
		"-netdev",
		"user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:40123-cmd:socat - "
		"TCP:127.0.0.1:40123,guestfwd=tcp:10.0.2.101:443-cmd:socat - TCP:b.example.com:443",
		"-device",
		"virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,romfile=",
	};
	char **argv;

	(void)state;
	snprintf(object, sizeof(object),
		 "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on,host-data=%"
		 "s",
		 b64(order.sha256, 32));
	argv = launch(&image, QEMU_SNP, &paths);
	assert_argv(argv, want, ARRAY_SIZE(want));
	qemu_args_free(argv);
}

/* The launch values are the order's digests, the ones its signature covers. */
static void test_launch_binds_the_signed_order(void **state)
{
	struct order other = order;
	char **a, **b;

	(void)state;
	other.sha256[0] ^= 1;
	other.sha384[0] ^= 1;
	a = launch(&image, QEMU_SNP, &paths);
	assert_int_equal(qemu_args(&image, &other, QEMU_SNP, &paths, &b, NULL, 0), 0);
	assert_string_not_equal(a[14], b[14]);
	assert_non_null(strstr(a[14], b64(order.sha256, 32)));
	qemu_args_free(a);
	qemu_args_free(b);
	a = launch(&image, QEMU_TDX, &paths);
	assert_int_equal(qemu_args(&image, &other, QEMU_TDX, &paths, &b, NULL, 0), 0);
	assert_string_not_equal(a[12], b[12]);
	assert_non_null(strstr(a[12], b64(order.sha384, 48)));
	qemu_args_free(a);
	qemu_args_free(b);
}

static void test_order_sets_memory_and_vcpus(void **state)
{
	struct order big = order;
	char **argv = NULL;

	(void)state;
	big.vcpus = 8;
	big.memory_mib = 16384;
	assert_int_equal(qemu_args(&image, &big, QEMU_SNP, &paths, &argv, NULL, 0), 0);
	assert_string_equal(argv[6], "16384");
	assert_string_equal(argv[8], "8");
	assert_string_equal(argv[12],
			    "memory-backend-memfd,id=ram1,size=16384M,share=true,prealloc=false");
	qemu_args_free(argv);
}

static void test_plain_on_kvm_and_other_choices(void **state)
{
	static const char text[] =
		"{\"name\": \"dev\", \"kernel\": \"/boot/vmlinuz-6.1.0-56-amd64\","
		" \"initrd\": \"initrd.img\", \"cmdline\": \"console=ttyS0 cvm.log=debug\","
		" \"platforms\": {\"plain\": {\"accel\": \"kvm\", \"firmware\": "
		"\"/usr/share/ovmf/OVMF.fd\", \"sim_launch\": \"sim,launch.json\"}}}";
	static const char *const want[] = {
		"/opt/qemu/bin/qemu-system-x86_64",
		"-accel",
		"kvm",
		"-cpu",
		"host",
		"-m",
		"1024",
		"-smp",
		"1",
		"-nographic",
		"-no-reboot",
		"-bios",
		"/usr/share/ovmf/OVMF.fd",
		"-kernel",
		"/boot/vmlinuz-6.1.0-56-amd64",
		"-initrd",
		"/srv/dev/initrd.img",
		"-append",
		"console=ttyS0 cvm.log=debug",
		/* the sim's launch registers: relative to the image, one option value */
		"-fw_cfg",
		"name=opt/org.cvm/sim-launch,file=/srv/dev/sim,,launch.json",
		"-drive",
		"file=/tmp/a,,b/order.img,if=virtio,format=raw,readonly=on",
		"-drive",
		"file=/tmp/a,,b/o.img,if=virtio,format=raw",
		"-drive",
		"file=/tmp/a,,b/s.img,if=virtio,format=raw,readonly=on",
		"-drive",
		"file=/tmp/a,,b/d.img,if=virtio,format=raw,readonly=on",
		"-device",
		"virtio-serial-pci",
		"-chardev",
		"file,id=status,path=/tmp/a,,b/status",
		"-device",
		"virtserialport,chardev=status,name=org.cvm.status",
	};
	const struct qemu_paths qp = {
		.qemu = "/opt/qemu/bin/qemu-system-x86_64",
		.order_disk = "/tmp/a,b/order.img",
		.output = "/tmp/a,b/o.img",
		.inputs = { "/tmp/a,b/s.img", "/tmp/a,b/d.img" },
		.status = "/tmp/a,b/status",
	};
	struct image img;
	char err[256], **argv;

	(void)state;
	assert_int_equal(image_parse(text, strlen(text), "/srv/dev", &img, err, sizeof(err)), 0);
	assert_string_equal(img.name, "dev");
	assert_false(img.platform[QEMU_TDX].supported);
	assert_string_equal(img.platform[QEMU_PLAIN].sim_launch, "/srv/dev/sim,launch.json");
	argv = launch(&img, QEMU_PLAIN, &qp);
	/* no broker_forward: no network at all; no vTPM */
	assert_argv(argv, want, ARRAY_SIZE(want));
	qemu_args_free(argv);
}

/* ---- refusals ---- */

static void test_refuses_launches_the_image_cannot_make(void **state)
{
	static const char text[] =
		"{\"name\": \"dev\", \"kernel\": \"k\", \"initrd\": \"i\","
		" \"cmdline\": \"c\", \"platforms\": {\"plain\": {\"vtpm\": true}}}";
	struct qemu_paths no_tpm = paths, no_status = paths;
	struct image img;
	char err[256], **argv = (char **)1;

	(void)state;
	assert_int_equal(image_parse(text, strlen(text), NULL, &img, err, sizeof(err)), 0);
	assert_string_equal(img.kernel, "k");
	assert_int_equal(qemu_args(&img, &order, QEMU_SNP, &paths, &argv, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "E_LAUNCH: image dev has no snp platform");
	assert_null(argv);
	no_tpm.swtpm_socket = NULL;
	assert_int_equal(qemu_args(&img, &order, QEMU_PLAIN, &no_tpm, &argv, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "E_LAUNCH: image dev wants a vTPM on plain: no swtpm socket");
	no_status.status = NULL;
	assert_int_equal(qemu_args(&img, &order, QEMU_PLAIN, &no_status, &argv, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "paths are needed"));
	assert_int_equal(qemu_args(&img, &order, QEMU_PLATFORMS, &paths, &argv, err, sizeof(err)),
			 -EINVAL);
}

static void test_refuses_bad_image_descriptions(void **state)
{
	static const struct {
		const char *platforms, *extra, *want;
	} c[] = {
		{ "{}", "", "platforms: missing, empty" },
		{ "[]", "", "platforms: missing, empty" },
		{ "{\"sev\": {}}", "", "platforms: unknown member" },
		{ "{\"plain\": []}", "", "platforms.plain: not an object" },
		{ "{\"plain\": {\"smp\": 2}}", "", "plain: unknown member" },
		{ "{\"plain\": {\"smp\": 2}}", "", "platforms.plain: unknown member \"smp\"" },
		{ "{\"plain\": {\"qgs_port\": 4050}}", "", "plain: unknown member" },
		{ "{\"plain\": {\"accel\": \"hvf\"}}", "", "accel: tcg or kvm" },
		{ "{\"plain\": {\"vtpm\": 1}}", "", "vtpm: not true or false" },
		{ "{\"plain\": {\"cpu\": \"max,+sgx\"}}", "", "cpu: not a QEMU CPU model name" },
		{ "{\"plain\": {\"cpu\": \"\"}}", "", "cpu: length 0" },
		{ "{\"tdx\": {\"accel\": \"tcg\", \"firmware\": \"f\"}}", "",
		  "tdx: unknown member" },
		{ "{\"tdx\": {}}", "", "firmware: missing" },
		{ "{\"tdx\": {\"firmware\": \"f\", \"qgs_port\": 0}}", "",
		  "qgs_port: not a whole" },
		{ "{\"tdx\": {\"firmware\": \"f\", \"qgs_port\": \"4050\"}}", "", "qgs_port: not" },
		{ "{\"snp\": {\"firmware\": \"f\", \"qgs_port\": 4050}}", "",
		  "snp: unknown member" },
		{ "{\"snp\": {\"firmware\": 7}}", "", "firmware: missing or not a string" },
		{ "{\"tdx\": {\"firmware\": \"f\", \"sim_launch\": \"l.json\"}}", "",
		  "platforms.tdx.sim_launch: plain only" },
		{ "{\"snp\": {\"firmware\": \"f\", \"sim_launch\": \"l.json\"}}", "",
		  "platforms.snp.sim_launch: plain only" },
		{ "{\"plain\": {\"sim_launch\": \"\"}}", "", "sim_launch: length 0" },
		{ "{\"plain\": {\"sim_launch\": true}}", "", "sim_launch: missing or not a" },
		{ "{\"plain\": {}}", ", \"memory\": 1", "the image: unknown member" },
		{ "{\"plain\": {}}", ", \"broker_forward\": \"10.0.2.100:8443\"",
		  "broker_forward: not an object" },
		{ "{\"plain\": {}}", ", \"broker_forward\": {\"address\": \"10.0.2.300\"}",
		  "broker_forward.address: not IPv4" },
		{ "{\"plain\": {}}", ", \"broker_forward\": {\"address\": \"broker\"}",
		  "broker_forward.address: not IPv4" },
		{ "{\"plain\": {}}", ", \"broker_forward\": {}", "broker_forward.address" },
		/* the ports are the order's brokers' own */
		{ "{\"plain\": {}}",
		  ", \"broker_forward\": {\"address\": \"10.0.2.100\", \"port\": 8443}",
		  "broker_forward: unknown member" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char text[512], err[256] = "";
		struct image img;
		int r;

		snprintf(
			text, sizeof(text),
			"{\"name\": \"x\", \"kernel\": \"k\", \"initrd\": \"i\", \"cmdline\": \"c\""
			"%s, \"platforms\": %s}",
			c[i].extra, c[i].platforms);
		r = image_parse(text, strlen(text), "/d", &img, err, sizeof(err));
		if (r != -EBADMSG || !strstr(err, c[i].want) || strncmp(err, "E_IMAGE: ", 9))
			fail_msg("%s: got %d \"%s\", want \"%s\"", text, r, err, c[i].want);
		assert_true(is_zero(&img, sizeof(img)));
	}
}

static void test_refuses_missing_or_unprintable_image_fields(void **state)
{
	static const struct {
		const char *text, *want;
	} c[] = {
		{ "[]", "E_IMAGE: not a JSON object" },
		{ "{\"kernel\": \"k\", \"initrd\": \"i\", \"cmdline\": \"c\", \"platforms\": "
		  "{\"plain\": {}}}",
		  "name: missing" },
		{ "{\"name\": \"x\", \"initrd\": \"i\", \"cmdline\": \"c\", \"platforms\": "
		  "{\"plain\": {}}}",
		  "kernel: missing" },
		{ "{\"name\": \"x\", \"kernel\": \"k\", \"cmdline\": \"c\", \"platforms\": "
		  "{\"plain\": {}}}",
		  "initrd: missing" },
		{ "{\"name\": \"x\", \"kernel\": \"k\", \"initrd\": \"i\", \"platforms\": "
		  "{\"plain\": {}}}",
		  "cmdline: missing" },
		{ "{\"name\": \"x\", \"kernel\": \"k\", \"initrd\": \"i\", \"cmdline\": \"a\\nb\", "
		  "\"platforms\": {\"plain\": {}}}",
		  "cmdline: not printable ASCII" },
		{ "{\"name\": \"x\", \"kernel\": \"k\\u0001\", \"initrd\": \"i\", \"cmdline\": "
		  "\"c\", "
		  "\"platforms\": {\"plain\": {}}}",
		  "kernel: not printable ASCII" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char err[256] = "";
		struct image img;
		int r = image_parse(c[i].text, strlen(c[i].text), "/d", &img, err, sizeof(err));

		if (r != -EBADMSG || !strstr(err, c[i].want))
			fail_msg("%s: got %d \"%s\", want \"%s\"", c[i].text, r, err, c[i].want);
	}
}

static void test_image_load_takes_paths_from_the_files_directory(void **state)
{
	char dir[600], path[700], err[256];
	struct image img;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/qemu-image", sim_env("CVM_TEST_TMP"));
	snprintf(path, sizeof(path), "mkdir -p %s", dir);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/image.json", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("{\"name\": \"x\", \"kernel\": \"vmlinuz\", \"initrd\": \"/abs/initrd\","
	      " \"cmdline\": \"c\", \"platforms\": {\"snp\": {\"firmware\": \"OVMF.amdsev.fd\"}}}",
	      f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(image_load(path, &img, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/vmlinuz", dir);
	assert_string_equal(img.kernel, path);
	assert_string_equal(img.initrd, "/abs/initrd");
	snprintf(path, sizeof(path), "%s/OVMF.amdsev.fd", dir);
	assert_string_equal(img.platform[QEMU_SNP].firmware, path);
	assert_string_equal(img.platform[QEMU_SNP].cpu, "EPYC-v4");
	assert_true(img.platform[QEMU_SNP].kvm);
	snprintf(path, sizeof(path), "%s/none.json", dir);
	assert_int_equal(image_load(path, &img, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "E_IMAGE: "));
}

static void test_platform_names(void **state)
{
	enum qemu_platform p;

	(void)state;
	assert_int_equal(qemu_platform_parse("tdx", &p), 0);
	assert_int_equal(p, QEMU_TDX);
	assert_int_equal(qemu_platform_parse("snp", &p), 0);
	assert_int_equal(p, QEMU_SNP);
	assert_int_equal(qemu_platform_parse("plain", &p), 0);
	assert_int_equal(p, QEMU_PLAIN);
	assert_int_equal(qemu_platform_parse("sev", &p), -EINVAL);
	assert_int_equal(qemu_platform_parse("TDX", &p), -EINVAL);
	assert_string_equal(qemu_platform_name(QEMU_SNP), "snp");
	assert_string_equal(qemu_platform_name(QEMU_PLATFORMS), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_is_the_e2e_command_line),
		cmocka_unit_test(test_tunnel_forward),
		cmocka_unit_test(test_tdx_command_line),
		cmocka_unit_test(test_snp_command_line),
		cmocka_unit_test(test_launch_binds_the_signed_order),
		cmocka_unit_test(test_order_sets_memory_and_vcpus),
		cmocka_unit_test(test_plain_on_kvm_and_other_choices),
		cmocka_unit_test(test_refuses_launches_the_image_cannot_make),
		cmocka_unit_test(test_refuses_bad_image_descriptions),
		cmocka_unit_test(test_refuses_missing_or_unprintable_image_fields),
		cmocka_unit_test(test_image_load_takes_paths_from_the_files_directory),
		cmocka_unit_test(test_platform_names),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
