#!/usr/bin/python3
# A hostile file server for the workload download (tests/e2e/fetch_tool):
# http on PORT, https (CERT, KEY) on PORT+1... given as two free ports.
# usage: fetch_server.py DATA HTTP_PORT HTTPS_PORT CERT KEY LOG
#   /w.img          the data
#   /same           302 to /w.img (the same origin)
#   /other          302 to http://localhost:HTTP_PORT/w.img (another host name)
#   /otherport      302 to http://127.0.0.1:HTTPS_PORT/w.img (another port)
#   /tohttps        302 to https://127.0.0.1:HTTP_PORT/w.img (another scheme)
#   /loop/N         302 to /loop/N+1 (forever)
#   /hops/N         N redirects within the origin, then the data
#   /big            the data and as much again, without a length
#   (https) /down   302 to http://127.0.0.1:HTTP_PORT/w.img (a downgrade)
#   /status/N       an empty answer of status N
# Every request is logged: path and Host.
import http.server
import ssl
import sys
import threading

data_path, hport, sport, cert, key, logp = sys.argv[1:7]
data = open(data_path, "rb").read()
log = open(logp, "a")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def redirect(self, to):
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        log.write("%s %s\n" % (self.headers.get("Host"), self.path))
        log.flush()
        p = self.path
        if p == "/w.img":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif p == "/same":
            self.redirect("/w.img")
        elif p == "/other":
            self.redirect("http://localhost:%s/w.img" % hport)
        elif p == "/otherport":
            self.redirect("http://127.0.0.1:%s/w.img" % sport)
        elif p == "/tohttps":
            self.redirect("https://127.0.0.1:%s/w.img" % hport)
        elif p.startswith("/loop/"):
            self.redirect("/loop/%d" % (int(p[6:]) + 1))
        elif p.startswith("/hops/"):
            n = int(p[6:])
            self.redirect("/hops/%d" % (n - 1) if n > 1 else "/w.img")
        elif p == "/down":
            self.redirect("http://127.0.0.1:%s/w.img" % hport)
        elif p.startswith("/status/"):
            self.send_response(int(p[8:]))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif p == "/big":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data + data)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


plain = http.server.ThreadingHTTPServer(("127.0.0.1", int(hport)), H)
tls = http.server.ThreadingHTTPServer(("127.0.0.1", int(sport)), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
plain.serve_forever()
