#!/usr/bin/python3
# Test-side TDX helpers, written independently of cvm (Python's cryptography):
#   source OUT QUOTE DATA         a PCS answer set from real files: DATA's
#                                 collateral and the PCK CA of QUOTE's chain
#   resign OUT_DIR                tcbinfo.json re-signed by a fresh P-256 key
#   quote EVIDENCE.json AK OUT [--clear-sept] [--debug]
#                                 the sim's quote with TD attributes changed,
#                                 re-signed by the attestation key AK (the QE
#                                 report binds the key, not the body)
#   collateral PKI OUT [--uptodate-svn N] [--qe-mrsigner HEX] [--revoke-pck]
#                                 collateral of the test PKI for the sim's
#                                 platform, valid from a day ago for 30 days
# Quote layout: Intel DCAP Quote Generation Library, App. A (v4: header 48,
# TD report body 584, TD_ATTRIBUTES at body offset 120).
import base64
import datetime
import json
import re
import shutil
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def sign_raw(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def signed_doc(member, obj, key):
    body = json.dumps(obj, separators=(",", ":")).encode()
    return b'{"%s":%s,"signature":"%s"}' % (member.encode(), body, sign_raw(key, body).hex().encode())


def source(out, quote, data):
    import os
    os.makedirs(out, exist_ok=True)
    for n in ("tcbinfo.json", "qe-identity.json", "tcb-signing-chain.pem", "pckcrl", "rootcrl.der"):
        shutil.copyfile(f"{data}/{n}", f"{out}/{n}")
    certs = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", open(quote, "rb").read(), re.S)
    with open(f"{out}/pckcrl-issuer-chain.pem", "wb") as f:
        f.write(certs[1] + b"\n" + certs[2] + b"\n")


def resign(d):
    text = open(f"{d}/tcbinfo.json", "rb").read()
    body = text[text.index(b":") + 1: text.rindex(b',"signature"')]
    sig = sign_raw(ec.generate_private_key(ec.SECP256R1()), body).hex().encode()
    with open(f"{d}/tcbinfo.json", "wb") as f:
        f.write(b'{"tcbInfo":%s,"signature":"%s"}' % (body, sig))


def quote(evidence, ak, out, flags):
    q = bytearray(base64.b64decode(json.load(open(evidence))["quote"]))
    attr = int.from_bytes(q[48 + 120: 48 + 128], "little")
    if "--clear-sept" in flags:
        attr &= ~(1 << 28)
    if "--debug" in flags:
        attr |= 1
    q[48 + 120: 48 + 128] = attr.to_bytes(8, "little")
    q[636: 636 + 64] = sign_raw(load_key(ak), bytes(q[:632]))
    open(out, "wb").write(q)


def collateral(pki, out, args):
    import os
    os.makedirs(out, exist_ok=True)
    opt = dict(zip(args[::2], args[1::2]))
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    issue, nxt = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    svn = int(opt.get("--uptodate-svn", "5"))
    fmspc = open(f"{pki}/tdx/fmspc.hex").read().strip()
    levels = []
    for st, s2, pce in (("UpToDate", svn, 11), ("OutOfDate", svn - 1, 5)):
        levels.append({"tcb": {"sgxtcbcomponents": [{"svn": 5 if i < 2 else 0} for i in range(16)],
                               "pcesvn": pce,
                               "tdxtcbcomponents": [{"svn": {0: 3, 2: s2}.get(i, 0)} for i in range(16)]},
                       "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": st})
    tcb = {"id": "TDX", "version": 3, "issueDate": fmt(issue), "nextUpdate": fmt(nxt), "fmspc": fmspc,
           "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 17,
           "tdxModule": {"mrsigner": "00" * 48, "attributes": "00" * 8, "attributesMask": "FF" * 8},
           "tcbLevels": levels}
    qe = {"id": "TD_QE", "version": 2, "issueDate": fmt(issue), "nextUpdate": fmt(nxt),
          "tcbEvaluationDataNumber": 17, "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
          "attributes": "00" * 16, "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
          "mrsigner": opt.get("--qe-mrsigner", "00" * 32), "isvprodid": 2,
          "tcbLevels": [{"tcb": {"isvsvn": 4}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"},
                        {"tcb": {"isvsvn": 0}, "tcbDate": "2020-01-01T00:00:00Z", "tcbStatus": "OutOfDate"}]}
    tkey = load_key(f"{pki}/tdx/tcbsign.key")
    open(f"{out}/tcbinfo.json", "wb").write(signed_doc("tcbInfo", tcb, tkey))
    open(f"{out}/qe-identity.json", "wb").write(signed_doc("enclaveIdentity", qe, tkey))
    shutil.copyfile(f"{pki}/tdx/tcb-signing-chain.pem", f"{out}/tcb-signing-chain.pem")
    with open(f"{out}/pckcrl-issuer-chain.pem", "wb") as f:
        f.write(open(f"{pki}/tdx/pckca.pem", "rb").read() + open(f"{pki}/tdx/root.pem", "rb").read())

    def crl(issuer_cert, issuer_key, revoked):
        ca = x509.load_pem_x509_certificate(open(issuer_cert, "rb").read())
        b = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
             .last_update(issue).next_update(nxt))
        for serial in revoked:
            b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                          .revocation_date(issue).build())
        return b.sign(load_key(issuer_key), hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    pck = x509.load_pem_x509_certificate(open(f"{pki}/tdx/pck.pem", "rb").read())
    revoked = [pck.serial_number] if "--revoke-pck" in args else []
    open(f"{out}/pckcrl", "wb").write(crl(f"{pki}/tdx/pckca.pem", f"{pki}/tdx/pckca.key", revoked))
    open(f"{out}/rootcrl.der", "wb").write(crl(f"{pki}/tdx/root.pem", f"{pki}/tdx/root.key", []))


cmd = sys.argv[1]
if cmd == "source":
    source(*sys.argv[2:5])
elif cmd == "resign":
    resign(sys.argv[2])
elif cmd == "quote":
    quote(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
elif cmd == "collateral":
    collateral(sys.argv[2], sys.argv[3], sys.argv[4:])
else:
    sys.exit(f"unknown command {cmd}")
