/* SPDX-License-Identifier: Apache-2.0 */
/* host: the cvm command-line front end, one file per verb. */
#ifndef CVM_HOST_H
#define CVM_HOST_H

/* Exit codes shared by every verb. */
enum {
	EXIT_OK = 0,
	EXIT_REJECTED = 1, /* input read, and refused */
	EXIT_USAGE = 2,	   /* bad arguments or unreadable file */
};

int verify_main(int argc, char **argv);
int measure_main(int argc, char **argv);
int initrd_main(int argc, char **argv);
int kbs_main(int argc, char **argv);
int kbs_client_main(int argc, char **argv);
int pack_main(int argc, char **argv);

#endif
