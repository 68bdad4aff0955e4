#!/usr/bin/python3
# Floods a running `cvm kbs serve` as a hostile host would, over HTTPS on
# keep-alive connections, and prints one line of JSON: how many requests of
# each answer (HTTP status or "closed"), and the seconds taken.
# usage: kbs_flood.py PORT CACERT MODE N [EVIDENCE.json [PAD]]
#   auth     N /auth requests, each on a new connection: the broker keeps
#            one waiting session per connection, so a flooder that wants
#            its sessions to stay opens one for each
#   auth-keep  N /auth requests on one kept connection (each drops the
#            session of the one before)
#   attest   N /auth + /attest pairs carrying EVIDENCE (genuine sim evidence
#            that binds other data, so that the broker parses it, then
#            refuses it) with a runtime_eventlog of PAD bytes, a new
#            connection for each pair
#   guess    N /attest with random session cookies
#   slow     one connection that sends a request one byte per second; prints
#            after how many seconds the broker closed it (or N seconds)
#   silent   one TCP connection that sends nothing, not even a TLS hello;
#            after how many seconds the broker closed it (waits N seconds)
#   body     one /auth with a body of N bytes
#   idle     N TLS connections opened and held, silent, for PAD seconds
#            (default 4); prints how many were opened
import http.client
import json
import os
import socket
import ssl
import sys
import time

port, cacert, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=cacert)
counts = {}
conn = None


def connect():
    return http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)


def request(method, path, body, cookie=None):
    global conn
    if conn is None:
        conn = connect()
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        text = r.read()
        ck = r.getheader("Set-Cookie")
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
        try:
            j = json.loads(text)
        except ValueError:
            j = None
        return r.status, ck.split(";")[0] if ck else None, j
    except (OSError, http.client.HTTPException):
        conn.close()
        conn = None
        return "closed", None, None


def hang_up():
    global conn
    if conn is not None:
        conn.close()
        conn = None


def count(st):
    counts[str(st)] = counts.get(str(st), 0) + 1


AUTH = json.dumps({"version": "0.4.0", "tee": "tdx", "extra-params": {}})
t0 = time.time()
if mode in ("auth", "auth-keep"):
    for _ in range(n):
        count(request("POST", "/kbs/v0/auth", AUTH)[0])
        if mode == "auth":
            hang_up()
elif mode == "attest":
    ev = json.load(open(sys.argv[5]))
    pad = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    if pad:
        ev["runtime_eventlog"] = "x" * pad
    # a valid P-256 point (the generator), so that the broker reaches the evidence
    pub = {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
           "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
           "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}
    for _ in range(n):
        st, ck, j = request("POST", "/kbs/v0/auth", AUTH)
        if st != 200:
            count("auth-" + str(st))
            continue
        count(request("POST", "/kbs/v0/attest", json.dumps({
            "runtime-data": {"nonce": j["nonce"], "tee-pubkey": pub},
            "tee-evidence": {"primary_evidence": ev, "additional_evidence": ""}}), ck)[0])
        hang_up()
elif mode == "guess":
    for _ in range(n):
        ck = "kbs-session-id=" + os.urandom(32).hex()
        count(request("POST", "/kbs/v0/attest", "{}", ck)[0])
elif mode == "silent":
    # a TCP connection that never starts TLS nor sends a byte
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.settimeout(n)
    try:
        closed = time.time() - t0 if s.recv(1024) == b"" else None
    except socket.timeout:
        closed = None
    except OSError:
        closed = time.time() - t0
    counts["closed_after"] = round(closed, 1) if closed is not None else None
    s.close()
elif mode == "body":
    # one /auth whose body is N bytes
    try:
        counts[str(request("POST", "/kbs/v0/auth", "{" + "x" * n + "}")[0])] = 1
    except OSError:
        counts["closed"] = 1
elif mode == "idle":
    held = []
    for i in range(n):
        try:
            held.append(ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                                        server_hostname="127.0.0.1"))
        except OSError as e:
            print("connect %d: %s" % (i, e))
    time.sleep(int(sys.argv[5]) if len(sys.argv) > 5 else 4)
    counts["held"] = len(held)
elif mode == "slow":
    raw = socket.create_connection(("127.0.0.1", int(port)))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.settimeout(1)
    req = b"POST /kbs/v0/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100000
    closed = None
    for i in range(n):
        try:
            s.sendall(req[i:i + 1])
            if s.recv(1024) == b"":
                closed = time.time() - t0
                break
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            closed = time.time() - t0
            break
    counts["closed_after"] = round(closed, 1) if closed is not None else None
    s.close()
else:
    sys.exit("unknown mode " + mode)
counts["seconds"] = round(time.time() - t0, 2)
print(json.dumps(counts))
