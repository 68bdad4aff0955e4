/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP: a report's claims against the reference values, once its
 * signature and chain have been verified (snp_verify.c): the guest policy,
 * the minimum TCB, the measurement and the other pinned fields.
 */
#include <stdio.h>
#include <string.h>

#include "measurement/measurement.h"
#include "measurement/snp_internal.h"

/* "a b c" of the named bits set in x, or "none". */
static void bit_names(const char *(*name)(size_t, uint64_t *), uint64_t x, char *out, size_t cap)
{
	const char *n;
	uint64_t bit;
	size_t len = 0;

	out[0] = 0;
	for (size_t i = 0; (n = name(i, &bit)) && len < cap; i++)
		if (x & bit)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", n);
	if (!out[0])
		snprintf(out, cap, "none");
}

/* SINGLE_SOCKET, the ABI version and the feature bits the reference requires. */
static int check_policy_required(const struct snp_report *r, const struct snp_reference *ref,
				 struct verdict *v)
{
	unsigned major = (unsigned)(r->policy >> 8) & 0xff, minor = (unsigned)r->policy & 0xff;
	uint64_t missing;
	char names[160];

	if (ref->require_single_socket && !(r->policy & SNP_POLICY_SINGLE_SOCKET))
		return verdict_fail(v, CHECK_POLICY_SINGLE_SOCKET,
				    "guest policy lacks SINGLE_SOCKET; the reference requires it");
	verdict_pass(v, CHECK_POLICY_SINGLE_SOCKET, "%s%s",
		     r->policy & SNP_POLICY_SINGLE_SOCKET ? "single socket" : "any sockets",
		     ref->require_single_socket ? " (required)" : "");
	if (ref->has_min_abi && (major < ref->min_abi_major ||
				 (major == ref->min_abi_major && minor < ref->min_abi_minor)))
		return verdict_fail(v, CHECK_POLICY_ABI,
				    "guest policy ABI %u.%u below the reference's minimum %u.%u",
				    major, minor, ref->min_abi_major, ref->min_abi_minor);
	if (ref->has_min_abi)
		verdict_pass(v, CHECK_POLICY_ABI, "ABI %u.%u, at least %u.%u", major, minor,
			     ref->min_abi_major, ref->min_abi_minor);
	else
		verdict_pass(v, CHECK_POLICY_ABI, "ABI %u.%u (no minimum given)", major, minor);
	missing = ref->require_policy & ~r->policy;
	if (missing) {
		bit_names(snp_policy_bit_name, missing, names, sizeof(names));
		return verdict_fail(v, CHECK_POLICY_FEATURES,
				    "guest policy lacks %s; the reference requires it", names);
	}
	bit_names(snp_policy_bit_name, r->policy & ~SNP_POLICY_SINGLE_SOCKET, names, sizeof(names));
	verdict_pass(v, CHECK_POLICY_FEATURES, "%s", names);
	missing = ref->require_platform & ~r->platform_info;
	if (missing) {
		bit_names(snp_platform_bit_name, missing, names, sizeof(names));
		return verdict_fail(v, CHECK_PLATFORM_INFO,
				    "PLATFORM_INFO lacks %s; the reference requires it", names);
	}
	bit_names(snp_platform_bit_name, r->platform_info, names, sizeof(names));
	verdict_pass(v, CHECK_PLATFORM_INFO, "%s (0x%llx)", names,
		     (unsigned long long)r->platform_info);
	return 0;
}

int snp_check_policy(const struct snp_report *r, const struct snp_reference *ref, struct verdict *v)
{
	if ((r->policy & SNP_POLICY_DEBUG) && !(ref && ref->allow_debug))
		return verdict_fail(v, CHECK_POLICY_DEBUG,
				    "guest policy 0x%llx allows DEBUG; the reference does not",
				    (unsigned long long)r->policy);
	verdict_pass(v, CHECK_POLICY_DEBUG, "%s",
		     r->policy & SNP_POLICY_DEBUG ? "DEBUG allowed by the reference" : "no DEBUG");
	if ((r->policy & SNP_POLICY_MIGRATE_MA) && !(ref && ref->allow_migration_agent))
		return verdict_fail(
			v, CHECK_POLICY_MA,
			"guest policy allows a migration agent; the reference does not");
	verdict_pass(v, CHECK_POLICY_MA, "%s",
		     r->policy & SNP_POLICY_MIGRATE_MA ? "allowed by the reference" : "none");
	if ((r->policy & SNP_POLICY_SMT) && ref && !ref->allow_smt)
		return verdict_fail(v, CHECK_POLICY_SMT,
				    "guest policy allows SMT; the reference does not");
	verdict_pass(v, CHECK_POLICY_SMT, "SMT %s", r->policy & SNP_POLICY_SMT ? "allowed" : "off");
	if (ref && ref->has_policy) {
		if (r->policy != ref->policy)
			return verdict_fail(v, CHECK_POLICY, "policy 0x%llx, reference 0x%llx",
					    (unsigned long long)r->policy,
					    (unsigned long long)ref->policy);
		verdict_pass(v, CHECK_POLICY, "0x%llx", (unsigned long long)r->policy);
	}
	{
		uint32_t want = ref && ref->has_vmpl ? ref->vmpl : 0;

		if (r->vmpl != want)
			return verdict_fail(v, CHECK_VMPL, "VMPL %u, expected %u", r->vmpl, want);
		verdict_pass(v, CHECK_VMPL, "%u", r->vmpl);
	}
	return check_policy_required(r, ref, v);
}

/*
 * reported_tcb (the TCB the VCEK was derived for, tcb_match) against the
 * reference's min_tcb, or else the default floor of the report's product.
 */
static int check_min_tcb(const struct snp_report *r, const struct snp_reference *ref,
			 struct verdict *v)
{
	static const char *const names[5] = { "fmc", "bootloader", "tee", "snp", "microcode" };
	struct snp_tcb t = snp_tcb_decode(r->reported_tcb, r->product), m;
	const char *source = "the reference's min_tcb";

	if (ref->has_min_tcb)
		m = ref->min_tcb;
	else if (!snp_default_min_tcb(r, &m, &source)) {
		verdict_pass(v, CHECK_MIN_TCB, "no default floor for %s: give min_tcb",
			     snp_product_name(r->product));
		return 0;
	}
	{
		const uint8_t got[5] = { t.fmc, t.bootloader, t.tee, t.snp, t.microcode };
		const uint8_t min[5] = { m.fmc, m.bootloader, m.tee, m.snp, m.microcode };

		for (int i = 0; i < 5; i++) {
			if (i == 0 && r->product != SNP_PRODUCT_TURIN)
				continue;
			if (got[i] < min[i])
				return verdict_fail(v, CHECK_MIN_TCB,
						    "reported_tcb %s %u below %u (%s)", names[i],
						    got[i], min[i], source);
		}
	}
	if (r->product == SNP_PRODUCT_TURIN)
		verdict_pass(v, CHECK_MIN_TCB,
			     "fmc %u bl %u tee %u snp %u ucode %u, at least %u/%u/%u/%u/%u (%s)",
			     t.fmc, t.bootloader, t.tee, t.snp, t.microcode, m.fmc, m.bootloader,
			     m.tee, m.snp, m.microcode, source);
	else
		verdict_pass(v, CHECK_MIN_TCB,
			     "bl %u tee %u snp %u ucode %u, at least %u/%u/%u/%u (%s)",
			     t.bootloader, t.tee, t.snp, t.microcode, m.bootloader, m.tee, m.snp,
			     m.microcode, source);
	return 0;
}

int snp_check_reference(const struct snp_report *r, const struct snp_reference *ref,
			const uint8_t *report_data, struct verdict *v)
{
	if (ref && ref->has_measurement &&
	    verdict_compare(v, CHECK_MEASUREMENT, "measurement", r->measurement, ref->measurement,
			    48) < 0)
		return -1;
	if (ref && ref->has_host_data &&
	    verdict_compare(v, CHECK_HOST_DATA, "host_data", r->host_data, ref->host_data, 32) < 0)
		return -1;
	if (ref && ref->has_family_id &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "family_id", r->family_id, ref->family_id, 16) < 0)
		return -1;
	if (ref && ref->has_image_id &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "image_id", r->image_id, ref->image_id, 16) < 0)
		return -1;
	if (ref && ref->has_id_key_digest &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "id_key_digest", r->id_key_digest,
			    ref->id_key_digest, 48) < 0)
		return -1;
	if (ref && ref->has_author_key_digest &&
	    verdict_compare(v, CHECK_ID_DIGESTS, "author_key_digest", r->author_key_digest,
			    ref->author_key_digest, 48) < 0)
		return -1;
	if (ref && ref->has_report_data &&
	    verdict_compare(v, CHECK_REPORT_DATA, "report_data", r->report_data, ref->report_data,
			    64) < 0)
		return -1;
	if (report_data && verdict_compare(v, CHECK_REPORT_DATA, "report_data", r->report_data,
					   report_data, 64) < 0)
		return -1;
	return check_min_tcb(r, ref, v);
}
