#!/usr/bin/python3
# A stand-in for Intel's PCS API v4 (or a PCCS) over HTTPS on 127.0.0.1, for
# the tests of cvm collateral fetch. It serves the files of SOURCE:
#   GET /tdx/certification/v4/tcb?fmspc=..  tcbinfo.json, header TCB-Info-Issuer-Chain
#   GET /tdx/certification/v4/qe/identity   qe-identity.json, header Enclave-Identity-Issuer-Chain
#   GET /sgx/certification/v4/pckcrl?ca=..  pckcrl, header SGX-PCK-CRL-Issuer-Chain
#   GET /sgx/certification/v4/rootcacrl     rootcrl.der
# the chains URL-encoded as Intel sends them (tcb-signing-chain.pem,
# pckcrl-issuer-chain.pem). MODE changes the TCB info answer: normal,
# truncated (Content-Length of the whole, half the bytes, then the end),
# oversized (2 MiB), redirect (302 to another host).
# usage: pcs_server.py PORT CERT KEY SOURCE MODE
import http.server
import ssl
import sys
import urllib.parse

port, cert, key, src, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


def read(name):
    with open(f"{src}/{name}", "rb") as f:
        return f.read()


def chain(name):
    return urllib.parse.quote(read(name).decode(), safe="")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, headers=(), length=None):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/tdx/certification/v4/tcb":
            body, hdr = read("tcbinfo.json"), [("TCB-Info-Issuer-Chain", chain("tcb-signing-chain.pem"))]
            if mode == "redirect":
                self.send_response(302)
                self.send_header("Location", f"https://127.0.0.2:{port}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "truncated":
                self.answer(body[: len(body) // 2], hdr, len(body))
                self.close_connection = True
            elif mode == "oversized":
                self.answer(body + b" " * (2 << 20), hdr)
            else:
                self.answer(body, hdr)
        elif path == "/tdx/certification/v4/qe/identity":
            self.answer(read("qe-identity.json"),
                        [("Enclave-Identity-Issuer-Chain", chain("tcb-signing-chain.pem"))])
        elif path == "/sgx/certification/v4/pckcrl":
            self.answer(read("pckcrl"), [("SGX-PCK-CRL-Issuer-Chain", chain("pckcrl-issuer-chain.pem"))])
        elif path == "/sgx/certification/v4/rootcacrl":
            self.answer(read("rootcrl.der"))
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


class Server(http.server.HTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hangs up on an oversized answer is what the tests want


httpd = Server(("127.0.0.1", int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
