# The signed raw form of an EIP-1559 transaction as a node shows it
# (eth_getTransactionByHash's JSON), re-encoded independently of chain/: what
# a replay sends again. Fields and order from EIP-1559.
# usage: raw_tx.py TX.json
import json, sys


def rlp(x):
    if isinstance(x, list):
        body = b"".join(rlp(i) for i in x)
        return length(len(body), 0xC0) + body
    if len(x) == 1 and x[0] < 0x80:
        return x
    return length(len(x), 0x80) + x


def length(n, base):
    if n < 56:
        return bytes([base + n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([base + 55 + len(b)]) + b


def q(v):  # a quantity: big-endian, no leading zeros
    n = int(v, 16)
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def d(v):
    return bytes.fromhex(v[2:])


t = json.load(open(sys.argv[1]))
if int(t["type"], 16) != 2 or t.get("accessList"):
    sys.exit("raw_tx.py: only type-2 transactions without an access list")
fields = [q(t["chainId"]), q(t["nonce"]), q(t["maxPriorityFeePerGas"]), q(t["maxFeePerGas"]),
          q(t["gas"]), d(t["to"]) if t.get("to") else b"", q(t["value"]), d(t["input"]), [],
          q(t.get("yParity", t["v"])), q(t["r"]), q(t["s"])]
print("0x02" + rlp(fields).hex())
