/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image descriptions (vm-images/NAME/image.json) and the QEMU command line
 * that launches an order on a platform (docs/order.md, "Launch"):
 *
 * plain  TCG or KVM, no TEE: what tests/e2e/test_order.sh runs. For tests
 *        only, it can hand the test agent's sim TEE the launch registers to
 *        report (a file, as fw_cfg opt/org.cvm/sim-launch): they cannot be
 *        in the initrd, which they measure.
 * tdx    Intel TDX as upstream QEMU has it (10.1 on): a tdx-guest object
 *        with MRCONFIGID = SHA-384 of the order's signed form, split
 *        irqchip, TDVF (OVMF) by -bios. QEMU docs: system/i386/tdx.rst,
 *        https://www.qemu.org/docs/master/system/i386/tdx.html, and the
 *        TdxGuestProperties of qapi/qom.json.
 * snp    AMD SEV-SNP (QEMU 9.1 on): a sev-snp-guest object with
 *        kernel-hashes=on (the kernel, initrd and command line are in the
 *        launch digest) and HOST_DATA = SHA-256 of the order's signed form,
 *        guest memory from memfd, OVMF (AmdSev build) by -bios. QEMU docs:
 *        system/i386/amd-memory-encryption.rst,
 *        https://www.qemu.org/docs/master/system/i386/amd-memory-encryption.html,
 *        and the SevSnpGuestProperties of qapi/qom.json.
 *
 * The guest's disks, status port, network and vTPM are the same on every
 * platform; on tdx and snp the virtio devices are modern-only with
 * VIRTIO_F_ACCESS_PLATFORM (iommu_platform=on), which Linux requires of
 * devices in a confidential guest, and the NIC has no option ROM.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "lib/json_schema.h"
#include "lib/lib.h"
#include "measurement/tunnel.h"

#define E_IMAGE "E_IMAGE: "
#define E_LAUNCH "E_LAUNCH: "

/* A launch shape's name is the qemu of the platform row that launches so. */
int qemu_platform_parse(const char *name, enum qemu_platform *p)
{
	for (size_t i = 0; platform_at(i); i++) {
		const struct platform *pl = platform_at(i);

		if (pl->qemu && !strcmp(name, pl->qemu)) {
			*p = pl->qemu_shape;
			return 0;
		}
	}
	return -EINVAL;
}

const char *qemu_platform_name(enum qemu_platform p)
{
	const struct platform *pl = platform_by_qemu_shape(p);

	return pl ? pl->qemu : "?";
}

/* ---- image.json ---- */

static const struct json_words image_words = {
	.unknown = "{in}: unknown member \"{name}\"",
	.missing = "{path}: missing or not a string",
	.not_string = "{path}: missing or not a string",
	.not_int = "{path}: not a whole number in {min}..{max}",
	.range = "{path}: not a whole number in {min}..{max}",
};

static const struct json_doc image_doc = {
	.code = E_IMAGE,
	.root = "the image",
	.error = -EBADMSG,
	.words = &image_words,
};

/* Printable ASCII of 1 to size - 1 bytes: no control byte reaches QEMU's command line. */
#define TEXT(T, f, req) \
	.type = JSON_STRING, .flags = JSON_PRINTABLE | (req), JSON_FIELD(T, f), .min = 1

/* A QEMU CPU model name: one option value, so no ',' or '='. */
static bool cpu_valid(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool ipv4_valid(const char *s)
{
	unsigned a, b, c, d;
	char tail;

	return sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) == 4 && a < 256 && b < 256 &&
	       c < 256 && d < 256 && strspn(s, "0123456789.") == strlen(s);
}

/* plain's "accel": "tcg" (the default) or "kvm". */
static int read_accel(struct json_reader *rd, const cJSON *v, void *field)
{
	const char *s;
	int r = json_reader_string(rd, v, 1, 7, &s);

	if (r < 0)
		return r;
	if (strcmp(s, "tcg") && strcmp(s, "kvm"))
		return json_reader_fail(rd, "", "tcg or kvm");
	*(bool *)field = !strcmp(s, "kvm");
	return 0;
}

/* A TEE measures its launch itself: only the development platform takes the sim's. */
static int refuse_sim_launch(struct json_reader *rd, const cJSON *v, void *field)
{
	(void)v, (void)field;
	return json_reader_fail(rd, "", "plain only (tests)");
}

/* The -cpu default, when the image names none, and the name's check. */
static int check_cpu(struct json_reader *rd, struct image_platform *ip, const char *def)
{
	if (!ip->cpu[0])
		snprintf(ip->cpu, sizeof(ip->cpu), "%s", def);
	return cpu_valid(ip->cpu) ? 0 : json_reader_fail(rd, ".cpu", "not a QEMU CPU model name");
}

static int check_plain(struct json_reader *rd, void *base)
{
	struct image_platform *ip = base;

	return check_cpu(rd, ip, ip->kvm ? "host" : "max");
}

static int check_tdx(struct json_reader *rd, void *base)
{
	((struct image_platform *)base)->kvm = true;
	return check_cpu(rd, base, "host");
}

static int check_snp(struct json_reader *rd, void *base)
{
	((struct image_platform *)base)->kvm = true;
	return check_cpu(rd, base, "EPYC-v4");
}

#define IP struct image_platform
#define CPU                             \
	{                               \
		"cpu", TEXT(IP, cpu, 0) \
	}
#define VTPM                                                    \
	{                                                       \
		"vtpm", .type = JSON_BOOL, JSON_FIELD(IP, vtpm) \
	}
#define FIRMWARE(req)                               \
	{                                           \
		"firmware", TEXT(IP, firmware, req) \
	}
#define SIM_LAUNCH_REFUSED                                                   \
	{                                                                    \
		"sim_launch", .type = JSON_CUSTOM, .read = refuse_sim_launch \
	}

/* accel is plain's alone (tdx and snp are KVM), qgs_port is tdx's */
static const struct json_member plain_members[] = {
	{ "accel", .type = JSON_CUSTOM, JSON_FIELD(IP, kvm), .read = read_accel },
	CPU,
	VTPM,
	FIRMWARE(0),
	{ "sim_launch", TEXT(IP, sim_launch, 0) },
};
static const struct json_member tdx_members[] = {
	CPU,
	VTPM,
	FIRMWARE(JSON_REQUIRED),
	{ "qgs_port", .type = JSON_INT, JSON_FIELD(IP, qgs_port), .min = 1, .max = 0xffffffffu },
	SIM_LAUNCH_REFUSED,
};
static const struct json_member snp_members[] = {
	CPU,
	VTPM,
	FIRMWARE(JSON_REQUIRED),
	SIM_LAUNCH_REFUSED,
};
#undef IP

static const struct json_schema platform_schema[QEMU_PLATFORMS] = {
	[QEMU_PLAIN] = { plain_members, ARRAY_SIZE(plain_members), check_plain },
	[QEMU_TDX] = { tdx_members, ARRAY_SIZE(tdx_members), check_tdx },
	[QEMU_SNP] = { snp_members, ARRAY_SIZE(snp_members), check_snp },
};

/* image.json's names of the launch shapes: the qemu of the platform rows */
#define PLATFORM(p, name)                                                                        \
	{                                                                                        \
		name, .type = JSON_OBJECT, .flags = JSON_HAS,                                    \
		      .off = offsetof(struct image, platform[p]), .object = &platform_schema[p], \
		      .has = offsetof(struct image, platform[p].supported)                       \
	}

static const struct json_member platforms_members[QEMU_PLATFORMS] = {
	PLATFORM(QEMU_PLAIN, "plain"),
	PLATFORM(QEMU_TDX, "tdx"),
	PLATFORM(QEMU_SNP, "snp"),
};
static const struct json_schema platforms_schema = JSON_SCHEMA(platforms_members);

static int read_platforms(struct json_reader *rd, const cJSON *v, void *field)
{
	if (!cJSON_IsObject(v) || !v->child)
		return json_reader_fail(rd, "", "missing, empty or not an object");
	return json_reader_object(rd, NULL, v, &platforms_schema, field);
}

static int check_forward(struct json_reader *rd, void *base)
{
	return ipv4_valid(((struct image *)base)->broker_address)
		       ? 0
		       : json_reader_fail(rd, ".address", "not IPv4");
}

static const struct json_member forward_members[] = {
	{ "address", TEXT(struct image, broker_address, JSON_REQUIRED) },
};
static const struct json_schema forward_schema = { forward_members, ARRAY_SIZE(forward_members),
						   check_forward };

static const struct json_words platforms_words = {
	.missing = "{path}: missing, empty or not an object",
};

#define REQUIRED_TEXT(f) TEXT(struct image, f, JSON_REQUIRED)
static const struct json_member image_members[] = {
	{ "name", REQUIRED_TEXT(name) },
	{ "kernel", REQUIRED_TEXT(kernel) },
	{ "initrd", REQUIRED_TEXT(initrd) },
	{ "cmdline", REQUIRED_TEXT(cmdline) },
	{ "broker_forward", .type = JSON_OBJECT, .object = &forward_schema },
	{ "platforms", .type = JSON_CUSTOM, .flags = JSON_REQUIRED, .read = read_platforms,
	  .words = &platforms_words },
};
static const struct json_schema image_schema = JSON_SCHEMA(image_members);

/* A file of the image: absolute, or relative to the image's directory. */
static int resolve(char *path, const char *what, const char *dir, char *err, size_t errlen)
{
	char joined[IMAGE_PATH_MAX];
	int n;

	if (!path[0] || path[0] == '/' || !dir)
		return 0;
	n = snprintf(joined, sizeof(joined), "%s/%s", dir, path);
	if (n < 0 || n >= IMAGE_PATH_MAX)
		return set_error(err, errlen, -EBADMSG, E_IMAGE "%s: path too long", what);
	memcpy(path, joined, (size_t)n + 1);
	return 0;
}

static int resolve_paths(struct image *img, const char *dir, char *err, size_t errlen)
{
	int r = 0;

	if ((r = resolve(img->kernel, "kernel", dir, err, errlen)) < 0 ||
	    (r = resolve(img->initrd, "initrd", dir, err, errlen)) < 0)
		return r;
	for (int p = 0; r == 0 && p < QEMU_PLATFORMS; p++)
		if ((r = resolve(img->platform[p].firmware, "firmware", dir, err, errlen)) == 0)
			r = resolve(img->platform[p].sim_launch, "sim_launch", dir, err, errlen);
	return r;
}

int image_parse(const char *text, size_t len, const char *dir, struct image *img, char *err,
		size_t errlen)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	int r;

	memset(img, 0, sizeof(*img));
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		r = set_error(err, errlen, -EBADMSG, E_IMAGE "not a JSON object");
	else if ((r = json_schema_read(root, &image_schema, img, &image_doc, err, errlen)) == 0)
		r = resolve_paths(img, dir, err, errlen);
	if (r < 0)
		memset(img, 0, sizeof(*img));
	return r;
}

int image_load(const char *path, struct image *img, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *text = NULL;
	_cleanup_free_ char *copy = strdup(path);
	size_t len;
	int r;

	if (!copy)
		return set_error(err, errlen, -ENOMEM, E_IMAGE "out of memory");
	r = file_read(path, CVM_CAP_JSON, &text, &len);
	if (r < 0)
		return set_error(err, errlen, r, E_IMAGE "%s: %s", path, strerror(-r));
	return image_parse((const char *)text, len, dirname(copy), img, err, errlen);
}

/* ---- the command line ---- */

struct args {
	char **v;
	size_t n, cap;
	int err;
};

static void add(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct args *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->err)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			a->err = -ENOMEM;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		a->err = -ENOMEM;
	else
		a->v[a->n++] = s, a->v[a->n] = NULL;
	va_end(ap);
}

/* QEMU's option syntax ends a value at ',' unless it is doubled. */
static char *opt_value(const char *s)
{
	size_t n = strlen(s) + 1;
	char *out, *o;

	for (const char *c = s; *c; c++)
		n += *c == ',';
	out = o = malloc(n);
	if (!out)
		return NULL;
	for (; *s; s++) {
		*o++ = *s;
		if (*s == ',')
			*o++ = ',';
	}
	*o = 0;
	return out;
}

/* A virtio device's properties on a confidential platform (see the top of this file). */
static const char *cc_props(enum qemu_platform p)
{
	return p == QEMU_PLAIN ? "" : ",disable-legacy=on,iommu_platform=on";
}

static void add_tdx(struct args *a, const struct image_platform *ip, const struct order *o)
{
	_cleanup_(cJSON_Deletep) cJSON *obj = cJSON_CreateObject();
	_cleanup_free_ char *id = NULL, *text = NULL;
	char port[16];

	/* QEMU takes MRCONFIGID as the base64 of its 48 bytes */
	if (!obj || base64_encode(o->sha384, 48, BASE64_STD, &id) < 0 ||
	    !cJSON_AddStringToObject(obj, "qom-type", "tdx-guest") ||
	    !cJSON_AddStringToObject(obj, "id", "tdx0") ||
	    /* Linux refuses to run in a TD whose EPT violations reach it as #VE */
	    !cJSON_AddTrueToObject(obj, "sept-ve-disable") ||
	    !cJSON_AddStringToObject(obj, "mrconfigid", id)) {
		a->err = -ENOMEM;
		return;
	}
	if (ip->qgs_port) {
		/* a SocketAddress: only QEMU's JSON form of -object can hold it */
		cJSON *q = cJSON_AddObjectToObject(obj, "quote-generation-socket");

		snprintf(port, sizeof(port), "%u", ip->qgs_port);
		if (!q || !cJSON_AddStringToObject(q, "type", "vsock") ||
		    !cJSON_AddStringToObject(q, "cid", "2") ||
		    !cJSON_AddStringToObject(q, "port", port)) {
			a->err = -ENOMEM;
			return;
		}
	}
	if (!(text = cJSON_PrintUnformatted(obj))) {
		a->err = -ENOMEM;
		return;
	}
	add(a, "-object");
	add(a, "%s", text);
	add(a, "-machine");
	add(a, "q35,kernel-irqchip=split,confidential-guest-support=tdx0");
}

static void add_snp(struct args *a, const struct order *o)
{
	_cleanup_free_ char *hd = NULL;

	/* HOST_DATA is 32 bytes, base64 on QEMU's command line */
	if (base64_encode(o->sha256, 32, BASE64_STD, &hd) < 0) {
		a->err = -ENOMEM;
		return;
	}
	/* SEV-SNP guest memory is private memory that QEMU backs by a memfd */
	add(a, "-object");
	add(a, "memory-backend-memfd,id=ram1,size=%lluM,share=true,prealloc=false",
	    (unsigned long long)o->memory_mib);
	/* cbitpos 51 and one reduced physical address bit: CPUID 0x8000001F of EPYC 7003/9004 */
	add(a, "-object");
	add(a, "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on,host-data=%s",
	    hd);
	add(a, "-machine");
	add(a, "q35,confidential-guest-support=sev0,memory-backend=ram1");
}

/* One disk: on plain if=virtio, else a virtio-blk-pci device with the platform's properties. */
static void add_disk(struct args *a, enum qemu_platform p, const char *id, const char *file,
		     bool readonly)
{
	const char *ro = readonly ? ",readonly=on" : "";

	add(a, "-drive");
	if (p == QEMU_PLAIN) {
		add(a, "file=%s,if=virtio,format=raw%s", file, ro);
		return;
	}
	add(a, "file=%s,if=none,id=%s,format=raw%s", file, id, ro);
	add(a, "-device");
	add(a, "virtio-blk-pci,drive=%s%s", id, cc_props(p));
}

/* In the guest's order: the order disk (vda), the output disk (vdb), the inputs (vdc...). */
static void add_disks(struct args *a, enum qemu_platform p, const char *const *esc, size_t ninputs)
{
	add_disk(a, p, "order", esc[0], true);
	add_disk(a, p, "output", esc[1], false);
	for (size_t i = 0; i < ninputs; i++) {
		char id[32];

		snprintf(id, sizeof(id), "input%zu", i);
		add_disk(a, p, id, esc[4 + i], true);
	}
}

/* base + k as a dotted IPv4 address; false past the base's /24. */
static bool forward_address(const char *base, unsigned k, char out[16])
{
	unsigned b[4];

	if (sscanf(base, "%3u.%3u.%3u.%3u", &b[0], &b[1], &b[2], &b[3]) != 4 || b[3] + k > 254)
		return false;
	snprintf(out, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3] + k);
	return true;
}

/*
 * Status port, and the only ways out of the guest: one guestfwd per broker
 * of the order, the k-th at broker_address + k, to that broker's host and
 * port (order_parse accepted both: a DNS name or IPv4 address and digits,
 * nothing a shell or QEMU reads). restrict=on: the guest reaches nothing
 * else. The cmd: form runs one socat per guest connection (docs/agent.md).
 */
static void add_channels(struct args *a, const struct image *img, enum qemu_platform p,
			 const char *status, const struct order *o, const char *tunnel)
{
	char net[4096], addr[16];
	size_t n;

	add(a, "-device");
	add(a, "virtio-serial-pci%s", cc_props(p));
	add(a, "-chardev");
	add(a, "file,id=status,path=%s", status);
	add(a, "-device");
	add(a, "virtserialport,chardev=status,name=org.cvm.status");
	if (!img->broker_address[0])
		return;
	n = (size_t)snprintf(net, sizeof(net), "user,id=n0,restrict=on");
	for (unsigned k = 0; k < o->nbrokers; k++) {
		const struct order_broker *b = order_broker_at(o, k);

		if (!b || !forward_address(img->broker_address, k, addr)) {
			a->err = -ERANGE;
			return;
		}
		n += (size_t)snprintf(net + n, sizeof(net) - n,
				      ",guestfwd=tcp:%s:%u-cmd:socat - TCP:%s:%u", addr, b->port,
				      b->host, b->port);
		if (n >= sizeof(net)) {
			a->err = -E2BIG;
			return;
		}
	}
	/* the way in: the host's address to the guest's terminator, ciphertext only */
	if (tunnel && (!tunnel[0] || strspn(tunnel, "0123456789.:") != strlen(tunnel))) {
		a->err = -EINVAL;
		return;
	}
	if (tunnel)
		n += (size_t)snprintf(net + n, sizeof(net) - n, ",hostfwd=tcp:%s-:%u", tunnel,
				      TUNNEL_GUEST_PORT);
	if (n >= sizeof(net)) {
		a->err = -E2BIG;
		return;
	}
	add(a, "-netdev");
	add(a, "%s", net);
	add(a, "-device");
	add(a, "virtio-net-pci,netdev=n0%s",
	    p == QEMU_PLAIN ? "" : ",disable-legacy=on,iommu_platform=on,romfile=");
}

static void add_vtpm(struct args *a, const char *sock)
{
	add(a, "-chardev");
	add(a, "socket,id=chrtpm,path=%s", sock);
	add(a, "-tpmdev");
	add(a, "emulator,id=tpm0,chardev=chrtpm");
	add(a, "-device");
	add(a, "tpm-tis,tpmdev=tpm0");
}

/* The sim TEE's launch registers, where the guest's sysfs shows them (docs/agent.md). */
static void add_sim_launch(struct args *a, const char *path)
{
	_cleanup_free_ char *esc = opt_value(path);

	if (!esc) {
		a->err = -ENOMEM;
		return;
	}
	add(a, "-fw_cfg");
	add(a, "name=opt/org.cvm/sim-launch,file=%s", esc);
}

static int check_launch(const struct image *img, enum qemu_platform p,
			const struct qemu_paths *paths, char *err, size_t errlen)
{
	const struct image_platform *ip;

	if ((unsigned)p >= QEMU_PLATFORMS)
		return set_error(err, errlen, -EINVAL, E_LAUNCH "no such platform");
	ip = &img->platform[p];
	if (!ip->supported)
		return set_error(err, errlen, -EINVAL, E_LAUNCH "image %s has no %s platform",
				 img->name, qemu_platform_name(p));
	if (!paths->order_disk || !paths->output || !paths->status)
		return set_error(err, errlen, -EINVAL,
				 E_LAUNCH "the order disk, output and status paths are needed");
	if (ip->vtpm && !paths->swtpm_socket)
		return set_error(err, errlen, -EINVAL,
				 E_LAUNCH "image %s wants a vTPM on %s: no swtpm socket", img->name,
				 qemu_platform_name(p));
	return 0;
}

/* Paths in a launch: 0 order disk, 1 output, 2 status, 3 swtpm socket, 4 sim launch, 5... inputs. */
#define ESC_INPUT 5
#define ESC_MAX (ESC_INPUT + ORDER_INPUTS_MAX)

static void add_all(struct args *a, const struct image *img, const struct order *o,
		    enum qemu_platform p, const struct qemu_paths *paths, const char *const *esc)
{
	const struct image_platform *ip = &img->platform[p];
	const char *disks[4 + ORDER_INPUTS_MAX] = { esc[0], esc[1] };

	add(a, "%s", paths->qemu ? paths->qemu : "qemu-system-x86_64");
	add(a, "-accel");
	add(a, "%s", ip->kvm ? "kvm" : "tcg");
	add(a, "-cpu");
	add(a, "%s", ip->cpu);
	add(a, "-m");
	add(a, "%llu", (unsigned long long)o->memory_mib);
	add(a, "-smp");
	add(a, "%llu", (unsigned long long)o->vcpus);
	/* a TD or SNP guest cannot be reset: a reboot ends QEMU, as on plain */
	add(a, "-nographic");
	add(a, "-no-reboot");
	if (p == QEMU_TDX)
		add_tdx(a, ip, o);
	else if (p == QEMU_SNP)
		add_snp(a, o);
	if (ip->firmware[0]) {
		add(a, "-bios");
		add(a, "%s", ip->firmware);
	}
	add(a, "-kernel");
	add(a, "%s", img->kernel);
	add(a, "-initrd");
	add(a, "%s", img->initrd);
	add(a, "-append");
	add(a, "%s", img->cmdline);
	if (ip->sim_launch[0])
		add_sim_launch(a, paths->sim_launch ? paths->sim_launch : ip->sim_launch);
	for (size_t i = 0; i < o->ninputs; i++)
		disks[4 + i] = esc[ESC_INPUT + i];
	add_disks(a, p, disks, o->ninputs);
	add_channels(a, img, p, esc[2], o, paths->tunnel);
	if (ip->vtpm)
		add_vtpm(a, esc[3]);
}

int qemu_args(const struct image *img, const struct order *o, enum qemu_platform p,
	      const struct qemu_paths *paths, char ***argv, char *err, size_t errlen)
{
	const char *raw[ESC_MAX] = { paths->order_disk, paths->output, paths->status,
				     paths->swtpm_socket, paths->sim_launch };
	char *esc[ESC_MAX] = { NULL };
	struct args a = { 0 };
	int r;

	*argv = NULL;
	if ((r = check_launch(img, p, paths, err, errlen)) < 0)
		return r;
	for (size_t i = 0; i < o->ninputs; i++) {
		if (!paths->inputs[i])
			return set_error(err, errlen, -EINVAL, E_LAUNCH "input %s has no path",
					 o->inputs[i].name);
		raw[ESC_INPUT + i] = paths->inputs[i];
	}
	if (img->broker_address[0] && o->nbrokers &&
	    !forward_address(img->broker_address, o->nbrokers - 1, (char[16]){ 0 }))
		return set_error(err, errlen, -ERANGE,
				 E_LAUNCH "%u brokers do not fit after broker_forward.address %s",
				 o->nbrokers, img->broker_address);
	for (int i = 0; i < ESC_MAX; i++)
		if (raw[i] && !(esc[i] = opt_value(raw[i])))
			a.err = -ENOMEM;
	if (!a.err)
		add_all(&a, img, o, p, paths, (const char *const *)esc);
	for (int i = 0; i < ESC_MAX; i++)
		free(esc[i]);
	if (a.err) {
		qemu_args_free(a.v);
		return set_error(err, errlen, a.err, E_LAUNCH "%s",
				 a.err == -ENOMEM ? "out of memory"
						  : "the command line is too long");
	}
	*argv = a.v;
	return 0;
}

void qemu_args_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}
