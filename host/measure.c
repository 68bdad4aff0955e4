/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm measure: launch measurements and event logs. This file dispatches to
 * the subcommands (host/measure.h) and holds the help text and authenticode.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/cvm.h"
#include "host/measure.h"
#include "lib/lib.h"
#include "measurement/measurement.h"

void measure_help(FILE *f)
{
	fputs("Usage: cvm measure --mode snp|snp:ovmf-hash|seves|sev|tdx --ovmf FILE [options]\n"
	      "       cvm measure --mode tpm --kernel F [--initrd F] [--append STR] [options]\n"
	      "       cvm measure replay LOG [options]\n"
	      "       cvm measure diff EXPECTED ACTUAL\n"
	      "       cvm measure authenticode EFI-IMAGE\n"
	      "\n"
	      "Launch digests (flag-compatible with sev-snp-measure):\n"
	      "  --mode MODE          snp, snp:ovmf-hash, snp:svsm, seves or sev\n"
	      "  --ovmf FILE          the OVMF image the guest boots\n"
	      "  --vcpus N            number of vCPUs (all modes but sev)\n"
	      "  --vcpu-type T        QEMU CPU model (EPYC-v4, EPYC-Milan, EPYC-Genoa, ...)\n"
	      "  --vcpu-sig V         or the CPUID signature itself\n"
	      "  --vcpu-family F --vcpu-model M --vcpu-stepping S\n"
	      "                       or family, model and stepping\n"
	      "  --vmm-type T         QEMU (default), ec2 or gce\n"
	      "  --kernel F --initrd F --append STR\n"
	      "                       direct boot: the SEV hashes table is measured\n"
	      "  --guest-features HEX SEV features of the VMSA (default 0x1)\n"
	      "  --snp-ovmf-hash HEX  start from this OVMF digest (snp:ovmf-hash output)\n"
	      "  --output-format F    hex (default), base64, or json (reference values)\n"
	      "  --json               the same as --output-format json\n"
	      "  --image DIR          with --mode snp, tdx or tpm: the launch as the image\n"
	      "                       vm-images/NAME describes it, for what the options leave\n"
	      "                       unsaid: kernel, firmware (TDX variables, SNP vCPU type)\n"
	      "                       from its build.json, the command line from its\n"
	      "                       image.json, the memory or vCPUs of its one launch shape\n"
	      "                       (--memory or --vcpus when it offers several); --initrd\n"
	      "                       is the one cvm image build made (OUT/initrd.img)\n"
	      "  --dump-vmsa          write each vCPU's VMSA to vmsaN.bin (seves, snp, snp:svsm)\n"
	      "  --svsm FILE --vars-size N | --vars-file FILE\n"
	      "                       snp:svsm: the SVSM below OVMF and its variables\n"
	      "  -v, --verbose        name the mode with the digest\n"
	      "\n"
	      "TDX MRTD (--mode tdx):\n"
	      "  --ovmf CODE [--ovmf-vars VARS]\n"
	      "                       the TDVF image is VARS followed by CODE, as QEMU maps it\n"
	      "  --two-pass           all TDH.MEM.PAGE.ADDs of a section before its\n"
	      "                       TDH.MR.EXTENDs, as older KVM adds pages\n"
	      "  --kernel F --initrd F --append STR --event-log CCEL [--memory SIZE]\n"
	      "                       also RTMR0-2 of a direct boot: the kernel, command line\n"
	      "                       and initrd events predicted, every other event (firmware\n"
	      "                       configuration) from a reference log of the same\n"
	      "                       firmware; each event says where it came from. --memory\n"
	      "                       is the guest's (default 2G): QEMU places the initrd by it\n"
	      "\n"
	      "vTPM PCRs of a direct boot through OVMF on q35 (--mode tpm, SHA-256 bank):\n"
	      "  --kernel F [--initrd F] [--append STR] [--memory SIZE]\n"
	      "                       PCR 4 (the kernel as QEMU patches it for the initrd and\n"
	      "                       --memory, default 2G) and PCR 9 (the LoadOptions, with\n"
	      "                       \" initrd=initrd\" if there is an initrd, and the initrd);\n"
	      "                       no --initrd: none, no --append: an empty command line\n"
	      "  --event-log LOG      also PCR 0-9: the TCG2 log of a reference boot (the guest's\n"
	      "                       binary_bios_measurements) of the same firmware and machine\n"
	      "                       (memory, vCPUs, devices), its kernel and stub events\n"
	      "                       replaced\n"
	      "  --output-format F    hex (default) or json (reference values, tpm.pcrs.sha256)\n"
	      "\n"
	      "Event-log replay:\n"
	      "\n"
	      "Parses an event log, prints every event (register, type, digests, decoded\n"
	      "content of the common UEFI events) and replays it into register values per\n"
	      "digest bank.\n"
	      "\n"
	      "  LOG may be a TCG2 crypto-agile binary log (the TDX CCEL data, or a TPM's\n"
	      "  binary_bios_measurements) or TCG CEL-JSON (as cvm-agent writes it).\n"
	      "\n"
	      "Options:\n"
	      "  --format ccel|tcg2|cel-json  how to read LOG; by default JSON is CEL-JSON, a\n"
	      "                       binary log with SHA-384 as its only bank is a CCEL\n"
	      "                       (index 0 MRTD, 1-4 RTMR0-3) and any other a TPM log\n"
	      "  --quote QUOTE        compare the replayed RTMR0-3 with a TDX quote's (the\n"
	      "                       quote itself is checked by 'cvm verify')\n"
	      "  --json               print {\"format\", \"events\", \"registers\"} as JSON\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "authenticode prints the PE/COFF Authenticode SHA-256 and SHA-384 of an EFI\n"
	      "image (a kernel's EFI stub): the digest firmware measures when it starts it.\n"
	      "\n"
	      "Diagnosis (diff): two event logs (the first event whose register, type or\n"
	      "digest differs), two reference-values JSON documents (the first member that\n"
	      "differs), or a CCEL and a quote (the first RTMR that differs).\n"
	      "\n"
	      "Exit status:\n"
	      "  0  computed; the same (diff); replayed (and, with --quote, every RTMR matches)\n"
	      "  1  an RTMR, event or value differs; one line on stderr names the first\n"
	      "  2  usage error, unreadable file, or an image or log that does not parse\n",
	      f);
}

/* The Authenticode digests of an EFI image: what firmware extends for it. */
static int authenticode_main(int argc, char **argv)
{
	static const char *const mds[] = { "SHA256", "SHA384" };
	_cleanup_free_ uint8_t *img = NULL;
	char err[256], hex[129];
	uint8_t d[64];
	size_t len, dlen;
	int r;

	if (argc != 2) {
		log_error("usage: cvm measure authenticode EFI-IMAGE");
		return EXIT_USAGE;
	}
	r = file_read(argv[1], 256u << 20, &img, &len);
	if (r < 0) {
		log_error_errno(r, "%s", argv[1]);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(mds); i++) {
		r = pe_authenticode(img, len, mds[i], d, &dlen, err, sizeof(err));
		if (r < 0) {
			log_error("%s: %s", argv[1], r == -ENOMEM ? "out of memory" : err);
			return EXIT_USAGE;
		}
		hex_encode(d, dlen, hex);
		printf("%s %s\n", i ? "sha384" : "sha256", hex);
	}
	return EXIT_OK;
}

int measure_main(int argc, char **argv)
{
	static const struct subcommand cmds[] = { { "replay", measure_replay_main },
						  { "diff", measure_diff_main },
						  { "authenticode", authenticode_main } };

	if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
		return measure_launch_main(argc, argv);

	return subcommand_run(argc, argv, "measure", cmds, ARRAY_SIZE(cmds), measure_help);
}
