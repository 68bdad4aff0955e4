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
import http.server, json, sys, time

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


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
