/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm measure, inside host/: the dispatcher and help (measure.c), launch
 * digests (measure_launch.c: SEV and the vTPM; measure_tdx.c: TDX), event-log
 * replay (measure_replay.c) and diagnosis (measure_diff.c). Every function
 * here returns a cvm exit code (EXIT_OK, EXIT_REJECTED, EXIT_USAGE) and has
 * logged why when it is not EXIT_OK.
 */
#ifndef CVM_HOST_MEASURE_H
#define CVM_HOST_MEASURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The whole 'cvm measure --help' text. */
void measure_help(FILE *f);

/* cvm measure --mode ...: argv[0] is "measure". */
int measure_launch_main(int argc, char **argv);
/* cvm measure replay LOG ...: argv[0] is "replay". */
int measure_replay_main(int argc, char **argv);
/* cvm measure diff EXPECTED ACTUAL: argv[0] is "diff". */
int measure_diff_main(int argc, char **argv);

/* "2G", "512M", "4096K" or bytes: 0, -EINVAL or -ERANGE. */
int measure_parse_size(const char *s, uint64_t *out);

/* --mode tdx: the TDVF image (--ovmf CODE, --ovmf-vars VARS) and a direct boot's inputs. */
struct tdx_opts {
	const char *code, *vars, *kernel, *initrd, *append, *event_log, *output, *memory;
	bool two_pass;
};

/* MRTD, and RTMR0-3 when a direct boot's inputs or a reference CCEL are given. */
int measure_tdx(const struct tdx_opts *o);

#endif
