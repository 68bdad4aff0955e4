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
#include "lib/lib.h"

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

static int image_members(const cJSON *o, const char *where, const char *const *names, size_t n,
			 char *err, size_t errlen)
{
	return json_unknown_member(o, names, n)
		       ? set_error(err, errlen, -EBADMSG, E_IMAGE "%s: unknown member", where)
		       : 0;
}

/* Printable ASCII of 1 to cap - 1 bytes: no control byte reaches QEMU's command line. */
static int get_text(const cJSON *o, const char *key, bool required, char *out, size_t cap,
		    char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t n;

	if (!m && !required)
		return 0;
	if (!cJSON_IsString(m))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "%s: missing or not a string", key);
	n = strlen(m->valuestring);
	if (n == 0 || n >= cap)
		return set_error(err, errlen, -EBADMSG, E_IMAGE "%s: length %zu not in 1..%zu", key,
				 n, cap - 1);
	for (size_t i = 0; i < n; i++)
		if (m->valuestring[i] < 0x20 || m->valuestring[i] > 0x7e)
			return set_error(err, errlen, -EBADMSG, E_IMAGE "%s: not printable ASCII",
					 key);
	memcpy(out, m->valuestring, n + 1);
	return 0;
}

/* A file of the image: absolute, or relative to the image's directory. */
static int get_path(const cJSON *o, const char *key, bool required, const char *dir, char *out,
		    char *err, size_t errlen)
{
	char rel[IMAGE_PATH_MAX];
	int r;

	rel[0] = 0;
	if ((r = get_text(o, key, required, rel, sizeof(rel), err, errlen)) < 0 || !rel[0])
		return r;
	if (rel[0] == '/' || !dir)
		r = snprintf(out, IMAGE_PATH_MAX, "%s", rel);
	else
		r = snprintf(out, IMAGE_PATH_MAX, "%s/%s", dir, rel);
	if (r < 0 || r >= IMAGE_PATH_MAX)
		return set_error(err, errlen, -EBADMSG, E_IMAGE "%s: path too long", key);
	return 0;
}

static int get_uint(const cJSON *o, const char *key, uint64_t min, uint64_t max, uint64_t *out,
		    char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);
	double d = m ? m->valuedouble : -1;

	if (!m)
		return 0;
	if (!cJSON_IsNumber(m) || !(d >= (double)min && d <= (double)max) ||
	    d != (double)(uint64_t)d)
		return set_error(err, errlen, -EBADMSG,
				 E_IMAGE "%s: not a whole number in %llu..%llu", key,
				 (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)d;
	return 0;
}

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

static int parse_platform(const cJSON *m, enum qemu_platform p, const char *dir,
			  struct image_platform *ip, char *err, size_t errlen)
{
	/* accel is plain's alone (tdx and snp are KVM), qgs_port is tdx's */
	static const char *const names[QEMU_PLATFORMS][6] = {
		[QEMU_PLAIN] = { "accel", "cpu", "vtpm", "firmware", "sim_launch" },
		[QEMU_TDX] = { "cpu", "vtpm", "firmware", "qgs_port" },
		[QEMU_SNP] = { "cpu", "vtpm", "firmware" },
	};
	static const char *const defaults[QEMU_PLATFORMS] = { "max", "host", "EPYC-v4" };
	const cJSON *v;
	char accel[8] = "";
	uint64_t port = 0;
	int r;

	if (!cJSON_IsObject(m))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "platforms.%s: not an object",
				 qemu_platform_name(p));
	/* a TEE measures its launch itself: only the development platform takes the sim's */
	if (p != QEMU_PLAIN && cJSON_GetObjectItemCaseSensitive(m, "sim_launch"))
		return set_error(err, errlen, -EBADMSG,
				 E_IMAGE "platforms.%s.sim_launch: plain only (tests)",
				 qemu_platform_name(p));
	r = image_members(m, qemu_platform_name(p), names[p], ARRAY_SIZE(names[p]), err, errlen);
	if (r < 0)
		return r;
	ip->supported = true;
	ip->kvm = p != QEMU_PLAIN;
	if ((r = get_text(m, "accel", false, accel, sizeof(accel), err, errlen)) < 0)
		return r;
	if (accel[0] && strcmp(accel, "tcg") && strcmp(accel, "kvm"))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "accel: tcg or kvm");
	if (!strcmp(accel, "kvm"))
		ip->kvm = true;
	snprintf(ip->cpu, sizeof(ip->cpu), "%s", ip->kvm && p == QEMU_PLAIN ? "host" : defaults[p]);
	if ((r = get_text(m, "cpu", false, ip->cpu, sizeof(ip->cpu), err, errlen)) < 0)
		return r;
	if (!cpu_valid(ip->cpu))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "cpu: not a QEMU CPU model name");
	v = cJSON_GetObjectItemCaseSensitive(m, "vtpm");
	if (v && !cJSON_IsBool(v))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "vtpm: not true or false");
	ip->vtpm = cJSON_IsTrue(v);
	if ((r = get_path(m, "firmware", p != QEMU_PLAIN, dir, ip->firmware, err, errlen)) < 0 ||
	    (r = get_path(m, "sim_launch", false, dir, ip->sim_launch, err, errlen)) < 0 ||
	    (r = get_uint(m, "qgs_port", 1, 0xffffffffu, &port, err, errlen)) < 0)
		return r;
	ip->qgs_port = (uint32_t)port;
	return 0;
}

static int parse_broker_forward(const cJSON *root, struct image *img, char *err, size_t errlen)
{
	static const char *const names[] = { "address", "port" };
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "broker_forward");
	uint64_t port = 0;
	int r;

	if (!f)
		return 0;
	if (!cJSON_IsObject(f))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "broker_forward: not an object");
	if ((r = image_members(f, "broker_forward", names, ARRAY_SIZE(names), err, errlen)) < 0 ||
	    (r = get_text(f, "address", true, img->broker_address, sizeof(img->broker_address), err,
			  errlen)) < 0)
		return r;
	if (!ipv4_valid(img->broker_address))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "broker_forward.address: not IPv4");
	if (!cJSON_GetObjectItemCaseSensitive(f, "port"))
		return set_error(err, errlen, -EBADMSG, E_IMAGE "broker_forward.port is missing");
	if ((r = get_uint(f, "port", 1, 65535, &port, err, errlen)) < 0)
		return r;
	img->broker_port = (uint16_t)port;
	return 0;
}

static int parse_platforms(const cJSON *root, const char *dir, struct image *img, char *err,
			   size_t errlen)
{
	const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "platforms");
	const char *shapes[QEMU_PLATFORMS];
	int r;

	if (!cJSON_IsObject(ps) || !ps->child)
		return set_error(err, errlen, -EBADMSG,
				 E_IMAGE "platforms: missing, empty or not an object");
	for (int p = 0; p < QEMU_PLATFORMS; p++)
		shapes[p] = qemu_platform_name((enum qemu_platform)p);
	if ((r = image_members(ps, "platforms", shapes, QEMU_PLATFORMS, err, errlen)) < 0)
		return r;
	for (int p = 0; p < QEMU_PLATFORMS; p++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(ps, qemu_platform_name(p));

		if (m && (r = parse_platform(m, (enum qemu_platform)p, dir, &img->platform[p], err,
					     errlen)) < 0)
			return r;
	}
	return 0;
}

int image_parse(const char *text, size_t len, const char *dir, struct image *img, char *err,
		size_t errlen)
{
	static const char *const names[] = { "name",	"kernel",	  "initrd",
					     "cmdline", "broker_forward", "platforms" };
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	int r;

	memset(img, 0, sizeof(*img));
	if (json_parse(text, len, &root) < 0 || !cJSON_IsObject(root))
		r = set_error(err, errlen, -EBADMSG, E_IMAGE "not a JSON object");
	else if ((r = image_members(root, "the image", names, ARRAY_SIZE(names), err, errlen)) <
			 0 ||
		 (r = get_text(root, "name", true, img->name, sizeof(img->name), err, errlen)) <
			 0 ||
		 (r = get_path(root, "kernel", true, dir, img->kernel, err, errlen)) < 0 ||
		 (r = get_path(root, "initrd", true, dir, img->initrd, err, errlen)) < 0 ||
		 (r = get_text(root, "cmdline", true, img->cmdline, sizeof(img->cmdline), err,
			       errlen)) < 0 ||
		 (r = parse_broker_forward(root, img, err, errlen)) < 0)
		;
	else
		r = parse_platforms(root, dir, img, err, errlen);
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

static void add_disks(struct args *a, enum qemu_platform p, const char *workload,
		      const char *output)
{
	if (p == QEMU_PLAIN) {
		add(a, "-drive");
		add(a, "file=%s,if=virtio,format=raw,readonly=on", workload);
		add(a, "-drive");
		add(a, "file=%s,if=virtio,format=raw", output);
		return;
	}
	add(a, "-drive");
	add(a, "file=%s,if=none,id=workload,format=raw,readonly=on", workload);
	add(a, "-device");
	add(a, "virtio-blk-pci,drive=workload%s", cc_props(p));
	add(a, "-drive");
	add(a, "file=%s,if=none,id=output,format=raw", output);
	add(a, "-device");
	add(a, "virtio-blk-pci,drive=output%s", cc_props(p));
}

/* Status port, and the one way out of the guest: a guestfwd to the broker. */
static void add_channels(struct args *a, const struct image *img, enum qemu_platform p,
			 const char *status, const char *broker_host, uint16_t broker_port)
{
	add(a, "-device");
	add(a, "virtio-serial-pci%s", cc_props(p));
	add(a, "-chardev");
	add(a, "file,id=status,path=%s", status);
	add(a, "-device");
	add(a, "virtserialport,chardev=status,name=org.cvm.status");
	if (!img->broker_address[0])
		return;
	/*
	 * restrict=on: the guest reaches nothing but the forward. The cmd:
	 * form runs one socat per guest connection (docs/agent.md).
	 */
	add(a, "-netdev");
	add(a, "user,id=n0,restrict=on,guestfwd=tcp:%s:%u-cmd:socat - TCP:%s:%u",
	    img->broker_address, img->broker_port, broker_host, broker_port);
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
	if (!paths->workload || !paths->output || !paths->status)
		return set_error(err, errlen, -EINVAL,
				 E_LAUNCH "the workload, output and status paths are needed");
	if (ip->vtpm && !paths->swtpm_socket)
		return set_error(err, errlen, -EINVAL,
				 E_LAUNCH "image %s wants a vTPM on %s: no swtpm socket", img->name,
				 qemu_platform_name(p));
	return 0;
}

static void add_all(struct args *a, const struct image *img, const struct order *o,
		    enum qemu_platform p, const struct qemu_paths *paths, const char *const esc[4],
		    const char *broker_host, uint16_t broker_port)
{
	const struct image_platform *ip = &img->platform[p];

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
		add_sim_launch(a, ip->sim_launch);
	add_disks(a, p, esc[0], esc[1]);
	add_channels(a, img, p, esc[2], broker_host, broker_port);
	if (ip->vtpm)
		add_vtpm(a, esc[3]);
}

int qemu_args(const struct image *img, const struct order *o, enum qemu_platform p,
	      const struct qemu_paths *paths, char ***argv, char *err, size_t errlen)
{
	const char *raw[4] = { paths->workload, paths->output, paths->status, paths->swtpm_socket };
	char *esc[4] = { NULL, NULL, NULL, NULL };
	char host[ORDER_URL_MAX + 1] = "";
	struct args a = { 0 };
	uint16_t port = 0;
	int r;

	*argv = NULL;
	if ((r = check_launch(img, p, paths, err, errlen)) < 0)
		return r;
	/* order_parse accepted the URL: a DNS name or IPv4 address, nothing a shell or QEMU reads */
	if (img->broker_address[0] &&
	    order_url_host_port(o->broker_url, host, sizeof(host), &port) < 0)
		return set_error(err, errlen, -EINVAL, E_LAUNCH "the order's broker URL");
	for (int i = 0; i < 4; i++)
		if (raw[i] && !(esc[i] = opt_value(raw[i])))
			a.err = -ENOMEM;
	if (!a.err)
		add_all(&a, img, o, p, paths, (const char *const *)esc, host, port);
	for (int i = 0; i < 4; i++)
		free(esc[i]);
	if (a.err) {
		qemu_args_free(a.v);
		return set_error(err, errlen, a.err, E_LAUNCH "out of memory");
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
