# A writer of result bundles from docs/result.md, independent of lib/result.c,
# whose signing key is known before the runtime log is made, as the agent's.
import argparse, hashlib, io, json, os, struct, subprocess, sys, tarfile
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--recipient", required=True)
p.add_argument("--order-id", required=True)
p.add_argument("--order", help="a signed order (docs/order.md): its digest and inputs go into the header")
p.add_argument("--stage", required=True)
p.add_argument("--evidence-cmd", required=True)
p.add_argument("--tee", default="tdx")
p.add_argument("--chunk", type=int, default=1024)
p.add_argument("--drop", action="append", default=[])
p.add_argument("--alter", action="append", default=[])
p.add_argument("--twice", action="append", default=[])
p.add_argument("--partial", action="store_true")
p.add_argument("--timed-out", action="store_true")
p.add_argument("--exit-code", type=int, default=0)
p.add_argument("--signal", type=int, default=0)
p.add_argument("--disk")
p.add_argument("--trailer-log-extra", action="store_true")
p.add_argument("--strip-evidence-log", action="store_true")
p.add_argument("--tar", help="seal this tar as it is, instead of one made of --stage")
a = p.parse_args()

jcs = lambda o: json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
comp = lambda k: k.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
sha256 = lambda b: hashlib.sha256(b).digest()

signer = ec.generate_private_key(ec.SECP256K1())
spub = comp(signer.public_key())
manifest, luks = sha256(b"a job manifest"), sha256(b"a LUKS2 header")
# the order: a signed one's digest (of its RFC 8785 form without "signature") and inputs, or
# a digest named after the id and one input of the header above
if a.order:
    o = json.load(open(a.order))
    o.pop("signature")
    order_sha = sha256(jcs(o))
    inputs = [(i["name"], bytes.fromhex(i["volume"]["luks_header_sha256"])) for i in o["inputs"]]
else:
    order_sha, inputs = sha256(b"order " + a.order_id.encode()), [("solution", luks)]

# the runtime log, as cvm-agent measures (docs/measurements.md)
events = ([("agent-version", b"cvm-agent test"), ("agent-config", sha256(b"{}")),
           ("order", order_sha), ("result-key", spub)] +
          [("luks-header", h) for _, h in inputs] + [("job-manifest", manifest)])
log = []
def record(name, value):
    if a.tee == "tdx":
        reg, dg = {"rtmr": 3}, [{"hashAlg": "sha384", "digest": hashlib.sha384(value).hexdigest()}]
    else:
        reg, dg = {"pcr": 15}, [{"hashAlg": "sha256", "digest": hashlib.sha256(value).hexdigest()}]
    log.append(dict(reg, recnum=len(log), digests=dg, content_type="cvm",
                    content={"name": name, "value": value.hex()}))
for name, value in events:
    if name in a.drop:
        continue
    if name in a.alter:
        value = value[:-1] + bytes([value[-1] ^ 1])
    record(name, value)
    if name in a.twice:
        record(name, value)
if a.tee == "snp":
    log = []  # SEV-SNP has no runtime register: the agent's log stays empty

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for root, dirs, files in os.walk(a.stage):
        dirs.sort()
        for n in [root] + [os.path.join(root, f) for f in sorted(files)]:
            rel = os.path.relpath(n, a.stage)
            if rel != ".":
                t.add(n, arcname=rel, recursive=False)
plain = open(a.tar, "rb").read() if a.tar else buf.getvalue()

rpub = bytes.fromhex(a.recipient)
eph = ec.generate_private_key(ec.SECP256K1())
epub = comp(eph.public_key())
x = eph.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), rpub))
key = HKDF(hashes.SHA256(), 32, b"cvm-result-v1", epub + rpub).derive(x)
header = jcs({"version": 2, "cipher": "secp256k1-ECDH+HKDF-SHA256+A256GCM",
              "recipient_key_id": sha256(rpub).hex(), "ephemeral_pubkey": epub.hex(),
              "chunk_size": a.chunk, "signing_pubkey": spub.hex(), "order_id": a.order_id,
              "order_sha256": order_sha.hex(),
              "inputs": [{"name": n, "luks_header_sha256": h.hex()} for n, h in inputs],
              "job_manifest_sha256": manifest.hex(),
              "job": {"exit_code": a.exit_code, "signal": a.signal, "timed_out": a.timed_out,
                      "partial": a.partial}})
body = bytearray(b"CVMR\x02\0\0\0" + struct.pack("<I", len(header)) + header)
pieces = [plain[i:i + a.chunk] for i in range(0, len(plain), a.chunk)] or [b""]
for i, piece in enumerate(pieces):
    last = i == len(pieces) - 1
    nonce = struct.pack(">Q", i) + b"\0\0\0" + (b"\x01" if last else b"\0")
    ct = AESGCM(key).encrypt(nonce, piece, sha256(header))
    body += struct.pack("<I", len(ct) | (last << 31)) + ct
rd = hashlib.sha512(sha256(bytes(body)) + spub).digest()

logfile = a.out + ".log.json"
json.dump(log, open(logfile, "w"))
evfile = a.out + ".evidence.json"
subprocess.run([a.evidence_cmd, rd.hex(), evfile, logfile], check=True)
primary = json.load(open(evfile))
if a.strip_evidence_log:
    primary.pop("runtime_eventlog", None)
if a.trailer_log_extra:
    record("job-manifest", manifest)
r, s = decode_dss_signature(signer.sign(rd, ec.ECDSA(hashes.SHA256())))
s = min(s, N - s)  # low S, as libsecp256k1 requires
trailer = jcs({"eventlog": log, "evidence": {"tee": a.tee, "primary": primary},
               "signature": (r.to_bytes(32, "big") + s.to_bytes(32, "big")).hex()})
bundle = bytes(body) + struct.pack("<I", len(trailer)) + trailer
open(a.out, "wb").write(bundle)
if a.disk:
    # the output disk: the commit record (block 0) written last, over the bundle at 8 KiB
    rec = b"CVMC" + struct.pack("<IQQ", 1, 8192, len(bundle)) + sha256(bundle)
    rec += sha256(rec)
    with open(a.disk, "r+b") as d:
        d.seek(8192)
        d.write(bundle)
        d.seek(0)
        d.write(rec + bytes(4096 - len(rec)))
print(len(bundle))
