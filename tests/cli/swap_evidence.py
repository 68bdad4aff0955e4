# swap_evidence.py A B OUT: bundle B with the trailer's evidence of bundle A,
# every other byte of B genuine (docs/result.md framing). A result must be
# refused for evidence that binds another bundle.
import json, struct, sys
def split(b):
    off = 12 + struct.unpack("<I", b[8:12])[0]
    while True:
        w = struct.unpack("<I", b[off:off + 4])[0]
        off += 4 + (w & 0x7FFFFFFF)
        if w >> 31:
            return b[:off], json.loads(b[off + 4:])
a, ta = split(open(sys.argv[1], "rb").read())
b, tb = split(open(sys.argv[2], "rb").read())
tb["evidence"] = ta["evidence"]
t = json.dumps(tb, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
open(sys.argv[3], "wb").write(b + struct.pack("<I", len(t)) + t)
