/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container image (an OCI image layout, or the tarball of docker save or
 * podman save) unpacked into a root filesystem for a rootfs job (host/oci.c).
 */
#ifndef CVM_HOST_OCI_H
#define CVM_HOST_OCI_H

#include <cJSON.h>

/*
 * Applies the image's layers at layout (a directory: an OCI layout with
 * index.json, or docker's manifest.json) into root (an empty directory),
 * whiteouts included; makes the directories a rootfs job needs (/proc,
 * /dev, /tmp, /inputs, /output); and returns in *manifest the job manifest
 * of its config (docs/job.md, "rootfs": true). user ("uid[:gid]" or names
 * of the image's /etc/passwd and /etc/group), when not NULL, replaces the
 * config's User; a job the image runs as root runs as 1000:1000. Device
 * nodes are not made (counted in *devices_skipped). 0, or < 0 with one line
 * in err.
 */
int oci_unpack(const char *layout, const char *root, const char *user, cJSON **manifest,
	       unsigned *devices_skipped, char *err, size_t errlen);

/* Extracts a tarball (docker save, podman save, a tarred layout) into dir, safely. */
int oci_extract_tarball(const char *tarball, const char *dir, char *err, size_t errlen);

#endif
