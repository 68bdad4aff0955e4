/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm run ORDER.json --print-qemu: checks an order as the provider's
 * controller does (signature, limits, the image it names) and prints the
 * QEMU command line that would launch it on a platform, shell-quoted.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "lib/lib.h"

static void usage(FILE *f)
{
	fputs("Usage: cvm run ORDER.json --print-qemu [options]\n"
	      "\n"
	      "Checks a signed order (docs/order.md) against the provider's limits and\n"
	      "the image it names, and prints the QEMU command line that launches it on\n"
	      "the platform, one shell-quoted line. It does not launch it.\n"
	      "\n"
	      "  --print-qemu          print the command line (required)\n"
	      "  --platform P          plain (default), tdx or snp\n"
	      "  --images DIR          where images live: DIR/NAME/image.json (default\n"
	      "                        vm-images)\n"
	      "  --workdir DIR         the order's files: workload.img, output.img, status,\n"
	      "                        swtpm.sock (default .)\n"
	      "  --qemu PATH           the QEMU binary (default qemu-system-x86_64)\n"
	      "  --limits FILE         the provider's limits, as for 'cvm order check'\n"
	      "\n"
	      "Exit status: 0 printed, 1 refused (the order, or the image cannot launch\n"
	      "it on the platform), 2 usage, file or image description error.\n",
	      f);
}

/* Words of [A-Za-z0-9] and ",._+:@%/=-" go as they are; others in single quotes. */
static void print_word(const char *s)
{
	if (*s &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+:@%/=-") ==
		    strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

struct run_opts {
	const char *order, *images, *workdir, *qemu, *limits;
	enum qemu_platform platform;
	bool print;
};

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "print-qemu", no_argument, NULL, 'P' },
		{ "platform", required_argument, NULL, 'p' },
		{ "images", required_argument, NULL, 'i' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "qemu", required_argument, NULL, 'q' },
		{ "limits", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct run_opts){ .images = "vm-images", .workdir = ".", .platform = QEMU_PLAIN };
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			o->print = true;
			break;
		case 'p':
			if (qemu_platform_parse(optarg, &o->platform) < 0)
				return log_error("--platform: plain, tdx or snp"), -EINVAL;
			break;
		case 'i':
			o->images = optarg;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 'q':
			o->qemu = optarg;
			break;
		case 'l':
			o->limits = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return log_error("see 'cvm run --help'"), -EINVAL;
		}
	}
	if (argc - optind != 1)
		return log_error("needs one ORDER.json; see 'cvm run --help'"), -EINVAL;
	o->order = argv[optind];
	if (!o->print)
		return log_error("--print-qemu is needed: this command prints the QEMU command "
				 "line of an order, it does not launch it"),
		       -EINVAL;
	return 0;
}

/* The order, checked against the limits: EXIT_OK, or the exit status of the failure. */
static int load_order(const struct run_opts *ro, struct order *o)
{
	struct order_limits lim = ORDER_LIMITS_MAX;
	_cleanup_free_ uint8_t *text = NULL, *ltext = NULL;
	char err[320];
	size_t len;
	int r;

	if (ro->limits) {
		if ((r = file_read(ro->limits, CVM_CAP_JSON, &ltext, &len)) < 0)
			return log_error_errno(r, "%s", ro->limits), EXIT_USAGE;
		if (order_limits_parse((const char *)ltext, len, &lim, err, sizeof(err)) < 0)
			return log_error("%s: %s", ro->limits, err), EXIT_USAGE;
	}
	if ((r = file_read(ro->order, CVM_CAP_JSON, &text, &len)) < 0)
		return log_error_errno(r, "%s", ro->order), EXIT_USAGE;
	if (order_parse((const char *)text, len, &lim, o, err, sizeof(err)) < 0)
		return log_error("%s: %s", ro->order, err), EXIT_REJECTED;
	return EXIT_OK;
}

static int print_qemu(const struct run_opts *ro, const struct order *o, const struct image *img)
{
	char workload[4096], output[4096], status[4096], sock[4096], err[320], **argv = NULL;
	const struct qemu_paths paths = {
		.qemu = ro->qemu,
		.workload = workload,
		.output = output,
		.status = status,
		.swtpm_socket = sock,
	};

	snprintf(workload, sizeof(workload), "%s/workload.img", ro->workdir);
	snprintf(output, sizeof(output), "%s/output.img", ro->workdir);
	snprintf(status, sizeof(status), "%s/status", ro->workdir);
	snprintf(sock, sizeof(sock), "%s/swtpm.sock", ro->workdir);
	if (qemu_args(img, o, ro->platform, &paths, &argv, err, sizeof(err)) < 0) {
		log_error("%s: %s", ro->order, err);
		return EXIT_REJECTED;
	}
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			putchar(' ');
		print_word(argv[i]);
	}
	putchar('\n');
	qemu_args_free(argv);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

int run_main(int argc, char **argv)
{
	struct run_opts ro;
	struct order o;
	struct image img;
	char path[4096], err[320];
	int r = parse_opts(argc, argv, &ro);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if ((r = load_order(&ro, &o)) != EXIT_OK)
		return r;
	/* the order's image name is [a-z0-9][a-z0-9._-]*: no way out of the images directory */
	snprintf(path, sizeof(path), "%s/%s/image.json", ro.images, o.image);
	r = image_load(path, &img, err, sizeof(err));
	if (r == -ENOENT) {
		log_error("%s: E_ORDER_IMAGE: image %s is not one of this provider's (no %s)",
			  ro.order, o.image, path);
		return EXIT_REJECTED;
	}
	if (r < 0 || strcmp(img.name, o.image)) {
		log_error("%s: %s", path, r < 0 ? err : "E_IMAGE: name is not its directory's");
		return EXIT_USAGE;
	}
	return print_qemu(&ro, &o, &img);
}
