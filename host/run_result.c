/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm run: the result. The committed bundle is copied off the output disk
 * (hostile: the guest wrote it), checked to be this order's and signed,
 * kept in the work directory and uploaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "host/run.h"
#include "lib/lib.h"

static void evp_md_ctx_freep(EVP_MD_CTX **c)
{
	EVP_MD_CTX_free(*c);
}

/* Copies the bundle's region of the output disk to a file of its own, hashing it. */
static int copy_bundle(int fd, const struct result_source *src, const char *to, uint8_t sha[32],
		       char *err, size_t errlen)
{
	_cleanup_(evp_md_ctx_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_free_ uint8_t *buf = malloc(1u << 20);
	int out, rc = 0;

	if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return set_error(err, errlen, -ENOMEM, "E_RESULT_COPY: out of memory");
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return set_error(err, errlen, -errno, "E_RESULT_COPY: %s: %s", to, strerror(errno));
	for (uint64_t done = 0; rc == 0 && done < src->size;) {
		size_t want = src->size - done < (1u << 20) ? (size_t)(src->size - done) : 1u << 20;
		ssize_t n = pread(fd, buf, want, (off_t)(src->offset + done));

		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else if ((rc = fd_write_all(out, buf, (size_t)n)) == 0 &&
			 EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			rc = -EIO;
		done += n > 0 ? (uint64_t)n : 0;
	}
	if (rc == 0 && (fsync(out) < 0 || EVP_DigestFinal_ex(md, sha, NULL) != 1))
		rc = -EIO;
	close(out);
	return rc < 0 ? set_error(err, errlen, rc, "E_RESULT_COPY: %s: %s", to, strerror(-rc)) : 0;
}

/* The bundle's framing and signature (no key needed), and that it is this order's. */
int check_bundle(struct run *r, const char *path, char *err, size_t errlen)
{
	struct result_info info = { 0 };
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = set_error(err, errlen, -errno, "E_RESULT_COPY: %s: %s", path, strerror(errno));
	} else {
		const struct result_source src = { .fd = fd, .size = (uint64_t)st.st_size };

		rc = result_verify(&src, &info, err, errlen);
		if (rc == 0 && strcmp(info.order_id, r->o->id))
			rc = set_error(err, errlen, -EBADMSG,
				       "E_RESULT_ORDER: the bundle is for order %s", info.order_id);
		r->partial = info.partial;
		r->job_exit = info.exit_code;
		r->bundle_size = (uint64_t)st.st_size;
	}
	result_info_free(&info);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The committed bundle of the output disk, checked, as DIR/result.cvmr. */
int take_result(struct run *r, char *err, size_t errlen)
{
	struct result_source src;
	int fd = open(r->p.output, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return set_error(err, errlen, -errno, "E_NO_RESULT: %s: %s", r->p.output,
				 strerror(errno));
	rc = outdisk_open(fd, &src, err, errlen);
	if (rc == 0)
		rc = copy_bundle(fd, &src, r->p.bundle_part, r->bundle_sha256, err, errlen);
	close(fd);
	if (rc == 0)
		rc = check_bundle(r, r->p.bundle_part, err, errlen);
	if (rc == 0 && rename(r->p.bundle_part, r->p.bundle) < 0)
		rc = set_error(err, errlen, -errno, "E_RESULT_COPY: %s: %s", r->p.bundle,
			       strerror(errno));
	unlink(r->p.bundle_part);
	r->have_bundle = rc == 0;
	return rc;
}

/* Why there is no result: cvm run's own reason, else the agent's last code, else the disk's. */
void no_result(struct run *r, const char *disk_err)
{
	const struct status_follow *f = &r->st;

	if (f->fail_code[0] && !strcmp(f->fail_code, "E_OUTPUT_FULL"))
		run_fail(r,
			 "%s: the agent's %s phase failed: the bundle does not fit on the %" PRIu64
			 "-byte output disk (--output-size)",
			 f->fail_code, f->fail_phase, r->ro->output_size);
	else if (f->fail_code[0])
		run_fail(r, "%s: the agent's %s phase failed%s%s", f->fail_code, f->fail_phase,
			 f->fail_detail[0] ? ": " : "", f->fail_detail);
	else if (f->last_code[0])
		run_fail(r, "%s: reported by the agent", f->last_code);
	else if (r->qemu_ended && !f->poweroff && !f->n)
		run_fail(r, "%s (no status line from the agent; see %s)", disk_err, r->p.console);
	else
		run_fail(r, "%s", disk_err);
}

void show_result(const struct run *r)
{
	char hex[65];

	hex_encode(r->bundle_sha256, 32, hex);
	say(r, "result %s: %llu bytes, SHA-256 %s%s", r->p.bundle,
	    (unsigned long long)r->bundle_size, hex,
	    r->partial ? " (marked partial by the agent)" : "");
}

void upload(struct run *r)
{
	char err[480], shown[FETCH_URL_SHOWN_MAX];
	const int64_t t = mono_ms();

	r->upload_tried = true;
	fetch_url_shown(r->o->upload_url, shown, sizeof(shown));
	if (upload_file(r->o->upload_url, r->p.bundle, 1 + r->ro->upload_retries, BACKOFF_MS,
			&r->up, err, sizeof(err)) < 0)
		run_fail(r, "%s (%u attempts; the result is kept in %s)", err, r->up.attempts,
			 r->p.bundle);
	else
		say(r, "uploaded to %s (HTTP %ld, %u attempt%s)", shown, r->up.http_status,
		    r->up.attempts, r->up.attempts == 1 ? "" : "s");
	r->upload_ms = mono_ms() - t;
}
