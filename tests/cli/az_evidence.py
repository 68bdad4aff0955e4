#!/usr/bin/env python3
"""Azure vTPM evidence (Trustee's az-snp-vtpm / az-tdx-vtpm, version 1 or 2)
changed the way a hostile host would change it, for the tests.

usage: az_evidence.py IN OUT OP [ARGS...]
  hcl-flip OFF           flip the low bit of HCL report byte OFF
  hcl-set32 OFF VALUE    write a little-endian u32 at OFF
  hcl-cut LEN            keep the first LEN bytes of the HCL report
  hcl-append HEX         append bytes to the HCL report
  var-replace OLD NEW    replace text in the var data (same length)
  quote-flip FIELD OFF   flip a bit of tpm_quote.message or .signature
  pcr-flip I             flip a bit of tpm_quote.pcrs[I]
  pcrs-drop              send 23 PCR values
  td-flip OFF            flip a bit of the TD quote
  quote-from FILE        take tpm_quote from another evidence file
  vcek-pem PEM           the VCEK from a PEM file
  rename OLD NEW         rename a member
  set KEY JSON           set a member to a JSON value
  assemble HCL QUOTE PEM (IN unused) version 1 az-snp-vtpm evidence of parts
HCL offsets: header 0, hardware report 32, IGVM request data 1216, var data
1236 (kinvolk/azure-cvm-tooling az-cvm-vtpm/src/hcl/mod.rs).
"""
import base64
import json
import subprocess
import sys

VAR_OFF = 1236


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u_enc(b):
    return base64.urlsafe_b64encode(b).decode()


def flip(b, off):
    b = bytearray(b)
    b[off] ^= 1
    return bytes(b)


def pem_der(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-outform", "der"],
                          check=True, capture_output=True).stdout


def main():
    src, out, op, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    if op == "assemble":
        hcl, quote, pem = args
        ev = {"version": 1, "tpm_quote": json.load(open(quote)),
              "hcl_report": b64u_enc(open(hcl, "rb").read()),
              "vcek": b64u_enc(pem_der(pem))}
        json.dump(ev, open(out, "w"), indent=1)
        return
    ev = json.load(open(src))
    hcl = b64u_dec(ev["hcl_report"])
    q = ev["tpm_quote"]
    if op == "hcl-flip":
        hcl = flip(hcl, int(args[0]))
    elif op == "hcl-set32":
        off = int(args[0])
        hcl = hcl[:off] + int(args[1]).to_bytes(4, "little") + hcl[off + 4:]
    elif op == "hcl-cut":
        hcl = hcl[:int(args[0])]
    elif op == "hcl-append":
        hcl = hcl + bytes.fromhex(args[0])
    elif op == "var-replace":
        old, new = args[0].encode(), args[1].encode()
        i = hcl.index(old, VAR_OFF)
        assert len(old) == len(new)
        hcl = hcl[:i] + new + hcl[i + len(old):]
    elif op == "quote-flip":
        q[args[0]] = flip(bytes.fromhex(q[args[0]]), int(args[1])).hex()
    elif op == "pcr-flip":
        q["pcrs"][int(args[0])] = flip(bytes.fromhex(q["pcrs"][int(args[0])]), 0).hex()
    elif op == "pcrs-drop":
        q["pcrs"] = q["pcrs"][:23]
    elif op == "td-flip":
        ev["td_quote"] = b64u_enc(flip(b64u_dec(ev["td_quote"]), int(args[0])))
    elif op == "quote-from":
        ev["tpm_quote"] = json.load(open(args[0]))["tpm_quote"]
    elif op == "vcek-pem":
        ev["vcek"] = b64u_enc(pem_der(args[0]))
    elif op == "rename":
        ev[args[1]] = ev.pop(args[0])
    elif op == "set":
        ev[args[0]] = json.loads(args[1])
    else:
        sys.exit("unknown op " + op)
    ev["hcl_report"] = b64u_enc(hcl)
    json.dump(ev, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
