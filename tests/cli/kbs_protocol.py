#!/usr/bin/python3
# The KBS protocol spoken by hand, to attack a running `cvm kbs serve`.
# Independent of cvm's own client: keys and JWE with jwcrypto, the RFC 8785
# form with json.dumps (sorted keys, compact; enough for these ASCII
# documents), HTTP with http.client. Evidence comes from
# `cvm-test kbs-client --evidence` (the sim backend).
# usage: kbs_protocol.py PORT CACERT CVM_TEST PKI STORE
import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

from jwcrypto import jwe, jwk

port, cacert, cvm_test, pki, store = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cacert)
results = {"pass": 0, "fail": 0}


def check(name, cond, info=""):
    if cond:
        # what was seen follows "#": the attack suite (tests/hostile/a_kbs.sh) shows it
        print("ok - " + name + ("  # " + info[:200].replace("\n", " ") if info else ""))
        results["pass"] += 1
    else:
        print("not ok - %s %s" % (name, info))
        results["fail"] += 1


def request(method, path, body=None, cookie=None, bearer=None, raw=None):
    c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    if bearer:
        headers["Authorization"] = "Bearer " + bearer
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    text = r.read()
    cookie_out = r.getheader("Set-Cookie")
    c.close()
    try:
        j = json.loads(text)
    except ValueError:
        j = None
    return r.status, j, cookie_out


def auth(tee="tdx", version="0.4.0"):
    st, j, ck = request("POST", "/kbs/v0/auth",
                        {"version": version, "tee": tee, "extra-params": {}})
    return st, j, (ck.split(";")[0] if ck else None)


def canon(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def report_data(nonce, pub):
    rt = {"additional-evidence": "", "nonce": nonce, "tee-pubkey": pub}
    return hashlib.sha384(canon(rt).encode()).digest() + bytes(16)


def evidence(rd, platform="tdx", measurement=None):
    cmd = [cvm_test, "kbs-client", "--tee", "sim", "--sim-pki", pki,
           "--sim-platform", platform, "--evidence", rd.hex(), "-o", "-"]
    if measurement:
        cmd += ["--sim-measurement", measurement]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)


def newkey():
    k = jwk.JWK.generate(kty="EC", crv="P-256")
    pub = json.loads(k.export_public())
    pub["alg"] = "ECDH-ES+A256KW"
    return k, pub


def attest_body(nonce, pub, ev):
    return {"runtime-data": {"nonce": nonce, "tee-pubkey": pub},
            "tee-evidence": {"primary_evidence": ev, "additional_evidence": ""}}


def handshake(platform="tdx", measurement=None):
    st, j, ck = auth(platform)
    k, pub = newkey()
    body = attest_body(j["nonce"], pub, evidence(report_data(j["nonce"], pub), platform,
                                                   measurement))
    st, tok, _ = request("POST", "/kbs/v0/attest", body, cookie=ck)
    return st, tok, ck, k, body


def problem(j):
    return (j or {}).get("type", "").rsplit("/", 1)[-1]


# ---- the whole exchange, then the resource opened with jwcrypto ----
st, j, ck = auth()
check("auth answers 200 with a 32-byte standard-base64 nonce and a cookie",
      st == 200 and len(base64.b64decode(j["nonce"], validate=True)) == 32 and
      j["extra-params"] == "" and ck and ck.startswith("kbs-session-id="), str(j))
st, tok, ck, key, body = handshake()
check("attest with genuine sim TDX evidence returns a token", st == 200 and "token" in tok,
      str(tok))
st, res, _ = request("GET", "/kbs/v0/resource/default/key/vol", cookie=ck)
ok = st == 200 and set(res) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}
if ok:
    hdr = json.loads(base64.urlsafe_b64decode(res["protected"] + "=="))
    ok = hdr["alg"] == "ECDH-ES+A256KW" and hdr["enc"] == "A256GCM" and "epk" in hdr
    e = jwe.JWE()
    e.deserialize(json.dumps(res), key=key)
    ok = ok and e.payload == open(os.path.join(store, "resources/default/key/vol"), "rb").read()
check("the resource is a flattened JWE that jwcrypto opens with the attested key", ok, str(res))
st, res2, _ = request("GET", "/kbs/v0/resource/default/key/vol", bearer=tok["token"])
check("the bearer token alone fetches the resource", st == 200 and "ciphertext" in res2)
st, j, _ = request("GET", "/kbs/v0/resource/default/key/vol",
                   bearer=tok["token"][:-4] + ("AAAA" if not tok["token"].endswith("AAAA") else "BBBB"))
check("a token with a changed signature is refused", st == 401, str(j))

# ---- SNP evidence in the sev crate's JSON shape ----
st, tok2, ck2, _, _ = handshake("snp")
check("attest with sim SNP evidence (sev crate JSON) returns a token", st == 200, str(tok2))
st, j, _ = request("GET", "/kbs/v0/resource/default/key/snp", cookie=ck2)
check("SNP: the resource of an SNP policy is released", st == 200 and "ciphertext" in j, str(j))
st, j, _ = request("GET", "/kbs/v0/resource/default/key/vol", cookie=ck2)
check("SNP: a TDX-only policy refuses SNP evidence", st == 401 and problem(j) == "PolicyDeny",
      str(j))

# ---- replayed nonce ----
st, j, _ = request("POST", "/kbs/v0/attest", body, cookie=ck)
check("the same attest again on its session: nonce already used",
      st == 401 and problem(j) == "NonceReused", str(j))
st, j, ck3 = auth()
st, j, _ = request("POST", "/kbs/v0/attest", body, cookie=ck3)
check("an old attest replayed on a new session is refused",
      st == 401 and "not this session's nonce" in j["detail"], str(j))
st, j, _ = request("GET", "/kbs/v0/resource/default/key/vol", cookie=ck3)
check("and that session gets nothing", st == 401, str(j))

# ---- evidence binding another key ----
st, j, ck4 = auth()
k_a, pub_a = newkey()
k_b, pub_b = newkey()
ev = evidence(report_data(j["nonce"], pub_a))
st, j2, _ = request("POST", "/kbs/v0/attest", attest_body(j["nonce"], pub_b, ev), cookie=ck4)
check("evidence binding another key is refused (report_data)",
      st == 401 and "report_data" in j2["detail"], str(j2))

# ---- a genuine quote of another measurement ----
st, tok5, ck5, _, _ = handshake(measurement="ee" * 48)
st, j, _ = request("GET", "/kbs/v0/resource/default/key/vol", cookie=ck5)
check("a genuine quote with another MRTD: attested, but the policy denies",
      st == 401 and problem(j) == "PolicyDeny" and "mrtd" in j["detail"], str(j))
st, j2, _ = request("GET", "/kbs/v0/resource/default/key/vol", cookie=ck5)
check("asked again on that session: denied with the same message", st == 401 and
      problem(j2) == "PolicyDeny" and j2["detail"] == j["detail"], str(j2))

# ---- one attested session, several policies: its evidence verified once, held to each ----
st, j, _ = request("GET", "/kbs/v0/resource/default/key/tdxluks", cookie=ck)
check("a released session asks a resource whose policy needs a runtime log: denied",
      st == 401 and problem(j) == "PolicyDeny" and
      "requires a runtime event log" in j["detail"], str(j))
st, j, _ = request("GET", "/kbs/v0/resource/default/key/snp", cookie=ck)
check("the same session and an SNP-only policy: denied", st == 401 and
      problem(j) == "PolicyDeny" and "accepts no tdx evidence" in j["detail"], str(j))
st, j, _ = request("GET", "/kbs/v0/resource/default/key/vol", cookie=ck)
check("and its own resource again after those denials: released",
      st == 200 and "ciphertext" in j, str(j))

# ---- evidence that is not genuine ----
st, j, ck6 = auth()
k6, pub6 = newkey()
ev = evidence(report_data(j["nonce"], pub6))
q = bytearray(base64.b64decode(ev["quote"]))
q[48 + 136] ^= 1  # MRTD, under the quote signature
ev["quote"] = base64.b64encode(bytes(q)).decode()
st, j2, _ = request("POST", "/kbs/v0/attest", attest_body(j["nonce"], pub6, ev), cookie=ck6)
check("a quote changed after signing is refused", st == 401 and "signature" in j2["detail"],
      str(j2))

# ---- keep-alive and TLS session resumption: the transport, never the attestation ----
def on(c, method, path, body=None, cookie=None):
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers=headers)
    r = c.getresponse()
    text = r.read()
    ck = r.getheader("Set-Cookie")
    return r.status, json.loads(text), ck.split(";")[0] if ck else None, r.getheader("Connection")


def release_on(c):
    st, j, ck, close = on(c, "POST", "/kbs/v0/auth",
                          {"version": "0.4.0", "tee": "tdx", "extra-params": {}})
    k, pub = newkey()
    body = attest_body(j["nonce"], pub, evidence(report_data(j["nonce"], pub)))
    st2, _, _, _ = on(c, "POST", "/kbs/v0/attest", body, ck)
    st3, res, _, _ = on(c, "GET", "/kbs/v0/resource/default/key/vol", cookie=ck)
    return (st, st2, st3), close, ck, body


keep = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)
sts, close, ck_a, body_a = release_on(keep)
sock_a = keep.sock
sts2, close2, ck_b, _ = release_on(keep)
check("two whole releases on one kept connection (auth not closing it)",
      sts == sts2 == (200, 200, 200) and close is None and keep.sock is sock_a,
      "%s %s %s" % (sts, sts2, close))
st, j, _, _ = on(keep, "POST", "/kbs/v0/attest", body_a, ck_b)
check("on the kept connection, the first release's attest replayed on the second session "
      "is refused", st == 401, str(j))
st, j, ck_c, _ = on(keep, "POST", "/kbs/v0/auth",
                    {"version": "0.4.0", "tee": "tdx", "extra-params": {}})
st, j, ck_d, _ = on(keep, "POST", "/kbs/v0/auth",
                    {"version": "0.4.0", "tee": "tdx", "extra-params": {}})
st, j, _, _ = on(keep, "POST", "/kbs/v0/attest", {"runtime-data": {}}, ck_c)
check("a second /auth on a connection drops the session its first left waiting",
      st == 401 and problem(j) == "UnAuthenticatedCookie", str(j))
tls_session = keep.sock.session
keep.close()
resumed = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)
resumed.connect()
resumed.sock.close()
raw = socket.create_connection(("127.0.0.1", int(port)))
resumed.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=tls_session)
check("a new connection resumes the TLS session", resumed.sock.session_reused)
st, j, ck_e, _ = on(resumed, "POST", "/kbs/v0/auth",
                    {"version": "0.4.0", "tee": "tdx", "extra-params": {}})
st, j, _, _ = on(resumed, "GET", "/kbs/v0/resource/default/key/vol", cookie=ck_e)
check("on a resumed TLS session, a session that has not attested gets nothing",
      st == 401 and "not attested" in j["detail"], str(j))
st, j, _, _ = on(resumed, "POST", "/kbs/v0/attest", body_a, ck_e)
check("on a resumed TLS session, evidence over an earlier nonce is refused",
      st == 401 and problem(j) == "AttestationFailed", str(j))
sts, _, _, _ = release_on(resumed)
check("on a resumed TLS session, a whole release still works", sts == (200, 200, 200),
      str(sts))
resumed.close()

# ---- protocol errors ----
st, j, _ = auth(version="0.3.0")
check("wrong protocol version", st == 400 and problem(j) == "ProtocolVersion", str(j))
st, j, _ = auth(tee="sgx")
check("unknown TEE", st == 400 and problem(j) == "UnsupportedTee", str(j))
st, j, _ = request("POST", "/kbs/v0/auth", raw="{not json")
check("a body that is not JSON", st == 400 and problem(j) == "InvalidRequest", str(j))
st, j, _ = request("POST", "/kbs/v0/attest", {"runtime-data": {}})
check("attest without a session cookie", st == 401, str(j))
for path in ["/kbs/v0/resource/../../etc/passwd", "/kbs/v0/resource/default/key/..",
             "/kbs/v0/resource/default/..%2f..%2fpolicies/x", "/kbs/v0/resource/a/b",
             "/kbs/v0/resource/default/key/.hidden"]:
    st, j, _ = request("GET", path, cookie=ck)
    check("resource path %s refused" % path, st in (400, 404) and j and "type" in j, str(j))
st, j, _ = request("GET", "/kbs/v0/resource/default/key/none", cookie=ck)
check("an unknown resource: 404", st == 404 and problem(j) == "ResourceNotFound", str(j))
try:
    st, j, _ = request("POST", "/kbs/v0/auth", raw="{\"version\":\"0.4.0\",\"tee\":\"" +
                       "x" * (300 * 1024) + "\"}")
except (ssl.SSLError, ConnectionError):
    st = "closed"  # refused before the body was read
check("an oversized body is refused", st in (413, "closed"), str(st))

# ---- a slow client does not hold the broker ----
raw = socket.create_connection(("127.0.0.1", int(port)))
slow = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
slow.sendall(b"POST /kbs/v0/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
st, j, _ = auth()
check("the broker serves others while a client trickles", st == 200, str(j))
slow.settimeout(15)
t0 = time.time()
try:
    closed = slow.recv(1024) == b"" or True
except (socket.timeout, ssl.SSLError, ConnectionError):
    closed = False
check("a slow client is cut off by the timeout", closed and time.time() - t0 < 14)
slow.close()

# ---- expired session ----
if len(sys.argv) > 6:
    port = sys.argv[6]  # a broker with session_ttl 1
    st, j, ck7 = auth()
    k7, pub7 = newkey()
    ev = evidence(report_data(j["nonce"], pub7))
    time.sleep(2.2)
    st, j2, _ = request("POST", "/kbs/v0/attest", attest_body(j["nonce"], pub7, ev), cookie=ck7)
    check("attest on an expired session is refused", st == 401, str(j2))

print("kbs protocol: %d passed, %d failed" % (results["pass"], results["fail"]))
sys.exit(1 if results["fail"] else 0)
