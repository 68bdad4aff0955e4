#!/bin/sh
# The Market contract builds bit for bit: solc-js at the pragma's version
# (npm, scripts/setup-deps) compiles contracts/Market.sol to the ABI and
# code checked in (contracts/Market.json) and to the C string cvm deploys
# (chain/market_code.c); and the ABI names each function and event the way
# chain/market.h signs it.
set -u
tmp=${CVM_TEST_TMP:?}/cli-chain-contract
rm -rf "$tmp" && mkdir -p "$tmp"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
npmdir=${CVM_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cvm/npm}

if [ ! -f "$npmdir/node_modules/solc/package.json" ]; then
	bad "no solc in $npmdir (scripts/setup-deps installs it)"
	summary "cli chain contract"
	exit 1
fi
node "$top/contracts/build.mjs" "$npmdir/node_modules/solc" "$tmp/Market.json" "$tmp/market_code.c" \
	>"$tmp/out" 2>&1 && ok "solc builds contracts/Market.sol" || { bad "build"; cat "$tmp/out"; }
cmp -s "$tmp/Market.json" "$top/contracts/Market.json" &&
	ok "contracts/Market.json: the same bytes from a fresh build" || bad "contracts/Market.json differs from a fresh build"
cmp -s "$tmp/market_code.c" "$top/chain/market_code.c" &&
	ok "chain/market_code.c: the same bytes from a fresh build" || bad "chain/market_code.c differs from a fresh build"
# every signature of chain/market.h is in the ABI
/usr/bin/python3 - "$top/contracts/Market.json" "$top/chain/market.h" >"$tmp/sigs" 2>&1 <<'EOP'
import json, re, sys
abi = json.load(open(sys.argv[1]))["abi"]
have = {"%s(%s)" % (e["name"], ",".join(i["type"] for i in e["inputs"])) for e in abi if "name" in e}
outs = {e["name"]: ",".join(o["type"] for o in e["outputs"]) for e in abi if e.get("type") == "function"}
text = open(sys.argv[2]).read().replace("\\\n", "")
bad = 0
for name, sig in re.findall(r'#define (MARKET_\w+)\s+"([^"]*\(.*?\))"', text):
    if sig not in have:
        print("not in the ABI:", name, sig); bad = 1
for name, types in re.findall(r'#define (MARKET_\w+)_OUT\s+"([^"]*)"', text):
    fn = re.search(r'#define %s\s+"(\w+)\(' % name, text).group(1)
    if outs.get(fn) != types:
        print("outputs differ:", name, types, outs.get(fn)); bad = 1
print("%d signatures checked" % len(re.findall(r'#define MARKET_\w+\s+"[^"]*\(', text)))
sys.exit(bad)
EOP
[ $? -eq 0 ] && ok "chain/market.h: $(tail -n 1 "$tmp/sigs")" || { bad "chain/market.h and the ABI differ"; cat "$tmp/sigs"; }
summary "cli chain contract"
