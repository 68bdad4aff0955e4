#!/usr/bin/python3
# An independent JOSE implementation (jwcrypto) on the other side of ours.
#   interop.py encrypt JWK_FILE PLAINTEXT   -> flattened JWE JSON on stdout
#   interop.py decrypt KEYPAIR_FILE JWE_FILE -> plaintext on stdout
#   interop.py keypair OUT_PRIVATE OUT_PUBLIC
#   interop.py verify-jwt JWK_FILE TOKEN     -> claims on stdout
import json
import sys

from jwcrypto import jwe, jwk, jwt

cmd = sys.argv[1]
if cmd == "encrypt":
    key = jwk.JWK.from_json(open(sys.argv[2]).read())
    e = jwe.JWE(sys.argv[3].encode(), json.dumps({"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}))
    e.add_recipient(key)
    sys.stdout.write(e.serialize(compact=False))
elif cmd == "decrypt":
    key = jwk.JWK.from_json(open(sys.argv[2]).read())
    e = jwe.JWE()
    e.deserialize(open(sys.argv[3]).read(), key=key)
    sys.stdout.write(e.payload.decode())
elif cmd == "keypair":
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    open(sys.argv[2], "w").write(key.export_private())
    open(sys.argv[3], "w").write(key.export_public())
elif cmd == "verify-jwt":
    key = jwk.JWK.from_json(open(sys.argv[2]).read())
    t = jwt.JWT(jwt=sys.argv[3], key=key, algs=["ES256"])
    sys.stdout.write(t.claims)
