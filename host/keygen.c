/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm keygen: the customer's secp256k1 key pair, to which results are sealed
 * (docs/result.md §6). The private key goes to a new file (PKCS#8 PEM, mode
 * 0600); the compressed public key is printed for the order's
 * result_recipient.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/cvm.h"
#include "lib/lib.h"

static void usage(FILE *f)
{
	fputs("Usage: cvm keygen -o KEY\n"
	      "\n"
	      "Makes a secp256k1 key pair. The private key goes to the file KEY, and only\n"
	      "there: unencrypted PKCS#8 PEM, mode 0600, on this machine (keep it; no cvm\n"
	      "command sends it anywhere); an existing file is never overwritten. The\n"
	      "compressed public key (66 hex digits) is printed on standard output; save\n"
	      "it, it is what others are given:\n"
	      "  - a customer's: the order's customer_pubkey (cvm order sign adds it), to\n"
	      "    which results are sealed; 'cvm result open --key KEY' opens them;\n"
	      "  - an image builder's: cvm image build --key KEY signs the manifest, and\n"
	      "    brokers and verifiers pin the public key (image.builder, --builder).\n"
	      "\n"
	      "  -o, --output KEY  the new key file\n"
	      "  -h, --help        this text\n"
	      "\n"
	      "Exit status: 0 made, 2 usage error, KEY exists, or it cannot be written.\n",
	      f);
}

/*
 * Claims the name with O_EXCL first, so that an existing key is never
 * replaced; result_key_save then puts the key there atomically.
 */
static int write_new_key(const struct result_key *k, const char *path)
{
	char err[512];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			log_error("%s already exists; a key is never overwritten", path);
		else
			log_error_errno(-errno, "%s", path);
		return -1;
	}
	close(fd);
	if (result_key_save(k, path, err, sizeof(err)) < 0) {
		unlink(path);
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/* 0 to go on with *out set, 1 when --help was answered, <0 on a usage error (logged). */
static int parse_opts(int argc, char **argv, const char **out)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*out = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			*out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			log_error("unknown or incomplete option '%s'; see 'cvm keygen --help'",
				  argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (!*out || optind != argc) {
		log_error("expected -o KEY and nothing else; see 'cvm keygen --help'");
		return -EINVAL;
	}
	if (!strcmp(*out, "-")) {
		log_error("-o -: a private key goes to a file of mode 0600, never to standard "
			  "output");
		return -EINVAL;
	}
	return 0;
}

/* Makes the key pair, writes the private key to out, prints the public key. */
static int keygen(const char *out)
{
	_cleanup_(result_key_wipe) struct result_key k = { 0 };
	char err[256], hex[67];
	int rc;

	if (result_key_generate(&k, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	rc = write_new_key(&k, out) < 0 ? EXIT_USAGE : EXIT_OK;
	result_key_pub_hex(&k, hex);
	if (rc == EXIT_OK && (printf("%s\n", hex) < 0 || fflush(stdout) != 0)) {
		log_error_errno(-EIO, "standard output");
		rc = EXIT_USAGE;
	}
	return rc;
}

int keygen_main(int argc, char **argv)
{
	const char *out;
	int r = parse_opts(argc, argv, &out);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	return keygen(out);
}
