/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "host/market.h"
#include "lib/lib.h"

/* cvm order: its chain subcommands (host/market_cli.c, with their own help) or the rest. */
static int order_verb(int argc, char **argv)
{
	static const char *const chain[] = { "place",  "confirm",    "refund",	   "settle",
					     "status", "typed-data", "check-typed" };

	for (size_t i = 0; argc > 1 && i < ARRAY_SIZE(chain); i++)
		if (!strcmp(argv[1], chain[i]))
			return market_order_main(argc - 1, argv + 1);
	return order_main(argc, argv);
}

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *description;
	bool keys; /* holds keys: never dumps core (host_no_dump) */
} verbs[] = {
	{ "verify", verify_main,
	  "verify an SEV-SNP report or TDX quote against vendor roots and "
	  "reference values",
	  false },
	{ "measure", measure_main,
	  "predict launch measurements (SNP, TDX MRTD), replay and compare event logs", false },
	{ "initrd", initrd_main, "build, list and compare reproducible initramfs images", false },
	{ "image", image_main, "build a launch image and its signed manifest, or check one",
	  false },
	{ "pack", pack_main, "pack a workload directory into a LUKS2 + dm-verity volume", true },
	{ "kbs", kbs_main, "run a key broker (Trustee KBS protocol) and manage its store", true },
	{ "collateral", collateral_main, "fetch and verify TDX collateral (Intel PCS or a PCCS)",
	  false },
	{ "kbs-client", kbs_client_main,
	  "attest to a key broker and fetch a resource (Trustee KBS protocol)", true },
	{ "keygen", keygen_main, "make the secp256k1 key pair that results are sealed to", true },
	{ "result", result_main, "verify a sealed result bundle and open it, or inspect it", true },
	{ "order", order_verb, "sign an order, or check one against a provider's limits", true },
	{ "run", run_main, "run an order in QEMU; keep and upload its sealed result", false },
	{ "chain", chain_main, "deploy the Market contract; addresses, balances, withdrawals",
	  true },
	{ "offer", offer_main, "register an offer (compute, solution, data) on the chain", true },
	{ "connect", connect_main, "open a service order's attested tunnel, checked first", true },
	{ "fetch", fetch_main, "one HTTP request through a service order's attested tunnel",
	  false },
	{ "provider", provider_main,
	  "the provider's daemon: run the chain's orders, post their results", true },
};

int host_no_dump(void)
{
	char err[256];

	if (harden_no_dump(err, sizeof(err)) == 0)
		return 0;
	log_error("%s", err);
	return EXIT_USAGE;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: cvm <command> [options]\n\n"
		   "Trusted tooling for confidential VMs (Intel TDX, AMD SEV-SNP).\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].description);
	fprintf(f, "\n'cvm <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (strcmp(argv[1], verbs[i].name) == 0) {
			static char prog[32];

			snprintf(prog, sizeof(prog), "cvm %s", verbs[i].name);
			log_set_prog(prog);
			if (verbs[i].keys && host_no_dump() != 0)
				return EXIT_USAGE;
			return verbs[i].main(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "cvm: '%s' is not a command; see 'cvm --help'\n", argv[1]);
	return EXIT_USAGE;
}

int subcommand_run(int argc, char **argv, const char *verb, const struct subcommand *cmds, size_t n,
		   void (*help)(FILE *f))
{
	char names[160] = "";
	size_t o = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].main(argc - 1, argv + 1);
	for (size_t i = 0; i < n && o < sizeof(names); i++)
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
				      cmds[i].name);
	log_error("'%s' is not %s %s command (%s); see 'cvm %s --help'", argv[1],
		  strchr("aeiou", verb[0]) ? "an" : "a", verb, names, verb);
	return EXIT_USAGE;
}
