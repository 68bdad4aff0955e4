/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a container image's parts as cvm pack --oci reads them
 * (host/oci.c). The first byte picks the part, the rest is its bytes:
 *   0  a layer (any tar, compressed or not): applied into a fresh root,
 *      whiteouts included; nothing may appear beside the root;
 *   1  the image config: the job manifest made of it must be one the agent
 *      accepts (job_manifest_parse), with "rootfs": true;
 *   2  index.json: picking the manifest must not crash (its blobs are absent).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/job.h"
#include "host/oci.c"

static char base[64], root[96], part[96];

static void setup(void)
{
	char layout[128];

	if (base[0])
		return;
	snprintf(base, sizeof(base), "/tmp/fuzz-oci-XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(part, sizeof(part), "%s/part", base);
	snprintf(layout, sizeof(layout), "%s/blobs", base);
	if (mkdir(layout, 0700) < 0)
		abort();
}

/* Entries of base: "blobs", "part", "root" and nothing else, ever. */
static void check_beside(void)
{
	DIR *d = opendir(base);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "root") && strcmp(e->d_name, "part") &&
		    strcmp(e->d_name, "blobs"))
			abort();
	if (d)
		closedir(d);
}

static void put_part(const uint8_t *data, size_t size)
{
	FILE *f = fopen(part, "we");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	/* no image directory: pick_manifest's blobs are not there to open */
	struct oci o = { .image = base, .imagefd = -1, .err = err, .errlen = sizeof(err) };

	if (size < 1)
		return 0;
	setup();
	put_part(data + 1, size - 1);
	if (data[0] % 3 == 0) {
		int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || remove_at(fd, "root") < 0 || mkdir(root, 0755) < 0)
			abort();
		close(fd);
		o.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (o.rootfd < 0)
			abort();
		apply_layer(&o, part, 1);
		close(o.rootfd);
		check_beside();
	} else if (data[0] % 3 == 1) {
		cJSON *m = NULL;
		struct job_manifest jm;

		o.rootfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (config_manifest(&o, part, NULL, &m) == 0) {
			char *t = cJSON_PrintUnformatted(m);

			/* what pack writes, the agent must take, or pack refuses it (checked) */
			if (t && job_manifest_parse(t, strlen(t), &jm, err, sizeof(err)) == 0) {
				if (!jm.rootfs)
					abort();
				job_manifest_free(&jm);
			}
			free(t);
		}
		cJSON_Delete(m);
		close(o.rootfd);
	} else {
		cJSON *index = NULL, *man = NULL;

		if (json_parse((const char *)data + 1, size - 1, &index) == 0)
			pick_manifest(&o, index, 0, &man);
		cJSON_Delete(index);
		cJSON_Delete(man);
	}
	return 0;
}
