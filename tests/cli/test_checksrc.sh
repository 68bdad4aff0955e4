#!/bin/sh
# scripts/checksrc, the source checker of make check-format: a scratch tree
# with one violation of each rule is flagged, line by line; a clean tree,
# with what each rule must let pass, passes; and today's tree passes.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=${CVM_TEST_TMP:-${TMPDIR:-/tmp}}/cli-checksrc
rm -rf "$tmp" && mkdir -p "$tmp/bad" "$tmp/clean"
. "$top/tests/cli/lib.sh"
checksrc="$top/scripts/checksrc"

# ---- one violation of each rule, and the lines they are on ----
cat >"$tmp/bad/banned.c" <<'EOF'
#include <stdlib.h>

int n_of(const char *s)
{
	return atoi(s);
}
EOF
cat >"$tmp/bad/secret.c" <<'EOF'
#include <stdint.h>

void derive(uint8_t *out)
{
	uint8_t seed[32];

	fill(seed, sizeof(seed));
	expand(seed, out);
}
EOF
cat >"$tmp/bad/optout.c" <<'EOF'
#include <stdint.h>

void f(void)
{
	uint8_t kek[32]; /* checksrc: not secret */

	use(kek);
}
EOF
cat >"$tmp/bad/contract.h" <<'EOF'
/* A header. */
#ifndef CONTRACT_H
#define CONTRACT_H

/* Documented. */
int documented(void);

int undocumented(int x);

#endif
EOF
expect "a tree with one violation of each rule is refused" 1 "" -- "$checksrc" "$tmp/bad"
out=$(cat "$tmp/out")
for want in \
	"$tmp/bad/banned.c:5: banned: atoi() is banned" \
	"$tmp/bad/secret.c:5: secret-wipe: 'seed' is named like a secret and never wiped" \
	"$tmp/bad/optout.c:5: secret-wipe: 'kek': the opt-out needs a reason" \
	"$tmp/bad/contract.h:8: header-comment: undocumented() has no contract comment"; do
	case $out in
	*"$want"*) ok "flagged: ${want#"$tmp/bad/"}" ;;
	*) bad "not flagged: ${want#"$tmp/bad/"}" && printf '%s\n' "$out" ;;
	esac
done
[ "$(wc -l <"$tmp/out")" -eq 4 ] && ok "exactly those four findings" ||
	{ bad "$(wc -l <"$tmp/out") findings, expected 4" && cat "$tmp/out"; }

# every banned name, as a call
for f in atoi strcpy strcat sprintf vsprintf strtok system popen gets; do
	printf 'void g(char *d, const char *s)\n{\n\t%s(d, s);\n}\n' "$f" >"$tmp/one.c"
	"$checksrc" "$tmp/one.c" >"$tmp/out" 2>&1
	[ $? -eq 1 ] && grep -q "one.c:3: banned: $f()" "$tmp/out" && ok "$f() is banned" ||
		{ bad "$f() is not flagged" && cat "$tmp/out"; }
done

# ---- what each rule lets pass ----
cat >"$tmp/clean/ok.c" <<'EOF'
#include <stdio.h>
#include <stdint.h>

/* atoi(s) and strcpy(d, s) in a comment are not calls */
struct ops {
	int (*system)(const char *);
};

int call(struct ops *o, char *buf, size_t n, const char *s)
{
	uint8_t key[32], salt[16];
	uint8_t shared_secret[32];
	uint8_t pubkey[33], ak_pub[65];
	char key_name[16], mkey[8];
	char passphrase[64];
	uint8_t psk[16]; /* checksrc: not secret: a test vector's public value */
	_cleanup_(wipe_erase) uint8_t sk[32];

	CLEANUP_ERASE(key);
	CLEANUP_ERASE(passphrase);
	snprintf(buf, n, "sprintf(%s) system(x)", s);
	use(key, salt, shared_secret, pubkey, ak_pub, key_name, mkey, passphrase, psk, sk);
	OPENSSL_cleanse(shared_secret, sizeof(shared_secret));
	return o->system(s) + fgets(buf, 4, stdin) != NULL;
}
EOF
cat >"$tmp/clean/ok.h" <<'EOF'
/* A header. */
#ifndef OK_H
#define OK_H

/* A group under one comment: both are covered. */
int first(void);
int second(int x,
	   int y);

/* A type and the functions on it. */
struct thing {
	int a; /* a member's comment */
};
void thing_free(struct thing *t);

int trailing(void); /* a trailing comment */

/* An inline helper. */
static inline int twice(int x)
{
	return 2 * x;
}

typedef int (*callback_fn)(void *ctx);
extern int (*hook)(void);

#endif
EOF
expect "a clean tree passes" 0 "" -- "$checksrc" "$tmp/clean"
[ ! -s "$tmp/out" ] && ok "and prints nothing" || { bad "printed findings" && cat "$tmp/out"; }

expect "a missing path is a usage error" 2 "no such file" -- "$checksrc" "$tmp/none"

# ---- the tree itself (lib measurement host agent initrd) ----
(cd "$top" && "$checksrc") >"$tmp/tree.out" 2>&1
[ $? -eq 0 ] && ok "the tree passes checksrc" || { bad "the tree has findings" && cat "$tmp/tree.out"; }

summary "cli checksrc"
