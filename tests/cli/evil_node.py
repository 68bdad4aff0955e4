# A hostile JSON-RPC node for the chain tests: it answers eth_chainId and
# whatever else a command asks with what MODE says, on 127.0.0.1:PORT.
# usage: evil_node.py PORT MODE
#   garbage      not JSON at all
#   slow         accepts, then never answers
#   big          a result of 5 MiB
#   types        eth_chainId as a JSON number
#   negative     eth_chainId "-0x1"
#   overflow     eth_chainId of 65 hex digits
#   leadingzero  eth_chainId "0x07a69"
#   wrongid      the answer carries another id
#   escape       an error whose message carries terminal escapes and a newline
#   foreign-log  a sane chain whose eth_getLogs answers a log of another contract
#   lying-hash   a sane chain whose eth_sendRawTransaction answers another hash
# and a sane chain whose contract (eth_call), logs or receipts lie:
#   abi-short    eth_call answers 31 bytes
#   abi-offset   getOrder's inputs array at an offset past the answer
#   abi-address  getOrder's customer with bytes above its 20
#   abi-count    getOrder's inputs array counting 2^64 items
#   log-topic    eth_getLogs answers the contract's log under another event's topic
#   log-flood    eth_getLogs answers 10,001 logs
#   receipt-other    eth_getTransactionReceipt answers another transaction's receipt
#   receipt-reverted the transaction's receipt says it failed (status 0)
#   balance-huge eth_getBalance of 65 hex digits
import http.server, json, sys, time

W = lambda n: "%064x" % n  # one ABI word

port, mode = int(sys.argv[1]), sys.argv[2]
CHAIN = "0x7a69"
HEAD = 0x10


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, body):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up on an answer it would not take: as it should

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n) or b"{}")
        rid, method, params = req.get("id"), req.get("method"), req.get("params", [])
        ok = lambda r: self.send({"jsonrpc": "2.0", "id": rid, "result": r})
        if mode == "slow":
            time.sleep(3600)
        if mode == "garbage":
            return self.send(b"<html>not a node</html>")
        if mode == "big":
            return ok("0x" + "00" * (5 << 20))
        if mode == "types" and method == "eth_chainId":
            return ok(31337)
        if mode == "negative" and method == "eth_chainId":
            return ok("-0x1")
        if mode == "overflow" and method == "eth_chainId":
            return ok("0x1" + "0" * 64)
        if mode == "leadingzero" and method == "eth_chainId":
            return ok("0x07a69")
        if mode == "wrongid":
            return self.send({"jsonrpc": "2.0", "id": (rid or 0) + 1, "result": CHAIN})
        if mode == "escape":
            return self.send({"jsonrpc": "2.0", "id": rid,
                              "error": {"code": -32000, "message": "bad\x1b[2J\nFAKE LOG LINE"}})
        # a sane chain from here on
        if method == "eth_chainId":
            return ok(CHAIN)
        if method == "eth_blockNumber":
            return ok(hex(HEAD))
        if method == "eth_getBlockByNumber":
            num = int(params[0], 16) if params[0].startswith("0x") else HEAD
            return ok({"number": hex(num), "hash": "0x%064x" % (num + 1), "timestamp": "0x1"})
        if method == "eth_call" and mode.startswith("abi-"):
            if mode == "abi-short":
                return ok("0x" + "00" * 31)
            # getOrder: customer, state, hours, deadline, resultAt, 3 digests, compute, inputs, escrow
            head = [W(0x15), W(1), W(1), W(2**40), W(0), W(7), W(0), W(0), W(1), W(11 * 32), W(5)]
            tail = [W(1), W(2)]
            if mode == "abi-offset":
                head[9] = W(0x10000)
            if mode == "abi-address":
                head[0] = "01" + W(0x15)[2:]
            if mode == "abi-count":
                tail[0] = W(2**64)
            return ok("0x" + "".join(head + tail))
        if mode == "balance-huge" and method == "eth_getBalance":
            return ok("0x1" + "0" * 64)
        if method == "eth_getLogs" and mode == "log-flood":
            f = params[0]
            return ok([{"address": f["address"], "topics": [f["topics"][0], "0x%064x" % (i + 1)],
                        "data": "0x", "blockNumber": hex(1), "blockHash": "0x%064x" % 2,
                        "transactionHash": "0x" + "77" * 32, "transactionIndex": "0x0",
                        "logIndex": hex(i), "removed": False} for i in range(10001)])
        if method == "eth_getLogs" and mode == "log-topic":
            f = params[0]
            return ok([{"address": f["address"], "topics": ["0x" + "99" * 32, "0x%064x" % 1],
                        "data": "0x", "blockNumber": hex(HEAD - 2), "blockHash": "0x%064x" % (HEAD - 1),
                        "transactionHash": "0x" + "77" * 32, "transactionIndex": "0x0",
                        "logIndex": "0x0", "removed": False}])
        if method == "eth_sendRawTransaction" and mode.startswith("receipt-"):
            raw = bytes.fromhex(params[0][2:])
            H.sent = keccak(raw)
            return ok(H.sent)
        if method == "eth_getTransactionReceipt" and mode.startswith("receipt-"):
            h = params[0] if mode == "receipt-reverted" else "0x" + "55" * 32
            return ok({"transactionHash": h, "blockHash": "0x%064x" % (HEAD + 1), "blockNumber": hex(HEAD),
                       "gasUsed": "0x5208", "status": "0x0" if mode == "receipt-reverted" else "0x1",
                       "effectiveGasPrice": "0x3b9aca00", "contractAddress": None, "logs": [],
                       "transactionIndex": "0x0", "from": "0x" + "11" * 20, "to": "0x" + "22" * 20,
                       "cumulativeGasUsed": "0x5208", "logsBloom": "0x" + "00" * 256, "type": "0x2"})
        if method == "eth_getLogs":
            f = params[0]
            return ok([{"address": "0x" + "66" * 20, "topics": f.get("topics", [])[:1] + ["0x%064x" % 1],
                        "data": "0x", "blockNumber": hex(HEAD - 2), "blockHash": "0x%064x" % (HEAD - 1),
                        "transactionHash": "0x" + "77" * 32, "transactionIndex": "0x0",
                        "logIndex": "0x0", "removed": False}])
        if method == "eth_getTransactionCount":
            return ok("0x0")
        if method in ("eth_gasPrice", "eth_maxPriorityFeePerGas"):
            return ok("0x3b9aca00")
        if method == "eth_feeHistory":
            return ok({"oldestBlock": hex(HEAD), "baseFeePerGas": ["0x3b9aca00", "0x3b9aca00"],
                       "gasUsedRatio": [0.5], "reward": [["0x3b9aca00"]]})
        if method == "eth_estimateGas":
            return ok("0x5208")
        if method == "eth_sendRawTransaction":
            return ok("0x" + "ab" * 32)
        if method == "eth_call":
            return ok("0x")
        return self.send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no " + str(method)}})


def keccak(data):
    # Keccak-256 (the original padding), small and slow: a test node's own, apart from chain/keccak.c
    rc = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
          0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
          0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
          0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
          0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
          0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
    rot = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
           [27, 20, 39, 8, 14]]
    M = (1 << 64) - 1
    rl = lambda v, n: ((v << n) | (v >> (64 - n))) & M if n else v
    st = [[0] * 5 for _ in range(5)]
    msg = bytearray(data) + b"\x01"
    while len(msg) % 136:
        msg += b"\x00"
    msg[-1] |= 0x80
    for off in range(0, len(msg), 136):
        for i in range(17):
            st[i % 5][i // 5] ^= int.from_bytes(msg[off + 8 * i:off + 8 * i + 8], "little")
        for r in range(24):
            c = [st[x][0] ^ st[x][1] ^ st[x][2] ^ st[x][3] ^ st[x][4] for x in range(5)]
            d = [c[(x - 1) % 5] ^ rl(c[(x + 1) % 5], 1) for x in range(5)]
            st = [[st[x][y] ^ d[x] for y in range(5)] for x in range(5)]
            b = [[0] * 5 for _ in range(5)]
            for x in range(5):
                for y in range(5):
                    b[y][(2 * x + 3 * y) % 5] = rl(st[x][y], rot[x][y])
            st = [[b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
            st[0][0] ^= rc[r]
    out = b"".join(st[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
    return "0x" + out.hex()


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
