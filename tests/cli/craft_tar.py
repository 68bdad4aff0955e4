#!/usr/bin/python3
# Tar archives a hostile host would put in a result (docs/result-cli.md,
# "What is extracted"), for seal_result.py --tar.
# usage: craft_tar.py KIND OUT [N]
#   sparse    a GNU sparse entry ('S'): 512 bytes stored, 1 GiB declared
#   big       a regular entry declaring 64 MiB, with 4 KiB of data behind it
#   many      N empty files (default 20)
#   dotdot    ../escape           abs       /tmp/escape
#   symlink   link -> /etc        hardlink  a file, then a hard link to /etc/passwd
#   device    a character device  fifo      a FIFO
import io
import sys
import tarfile

kind, out = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 20
buf = io.BytesIO()


def octal(v, width):
    return ("%0*o" % (width - 1, v)).encode() + b"\0"


def gnu_sparse(name, realsize, chunk_off, data):
    """An old-GNU sparse header (type 'S', GNU tar's format, tar(5)): the map
    of up to 4 (offset, size) pairs at byte 386, isextended at 482, realsize
    at 483; the stored data follows."""
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = octal(0o644, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = octal(len(data), 12)
    h[136:148] = octal(0, 12)
    h[156:157] = b"S"
    h[257:265] = b"ustar  \0"
    h[386:398] = octal(chunk_off, 12)
    h[398:410] = octal(len(data), 12)
    h[482] = 0
    h[483:495] = octal(realsize, 12)
    h[148:156] = b" " * 8
    h[148:156] = ("%06o\0 " % sum(h)).encode()
    pad = b"\0" * (-len(data) % 512)
    return bytes(h) + data + pad


if kind == "sparse":
    d = tarfile.TarInfo("output")
    d.type = tarfile.DIRTYPE
    raw = d.tobuf(format=tarfile.USTAR_FORMAT) + gnu_sparse("output/sparse.bin", 1 << 30, (1 << 30) - 512, b"x" * 512)
    open(out, "wb").write(raw + b"\0" * 1024)
    sys.exit(0)
if kind == "big":
    d = tarfile.TarInfo("output")
    d.type = tarfile.DIRTYPE
    t = tarfile.TarInfo("output/big.bin")
    t.size = 64 << 20
    raw = d.tobuf(format=tarfile.USTAR_FORMAT) + t.tobuf(format=tarfile.USTAR_FORMAT) + b"y" * 4096
    open(out, "wb").write(raw)
    sys.exit(0)
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
    def add(name, type=tarfile.REGTYPE, data=b"", link=""):
        t = tarfile.TarInfo(name)
        t.type = type
        t.linkname = link
        t.size = len(data) if type == tarfile.REGTYPE else 0
        if type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
            t.devmajor, t.devminor = 1, 3
        tf.addfile(t, io.BytesIO(data) if data else None)
    add("output", tarfile.DIRTYPE)
    add("output/a.txt", data=b"a file\n")
    if kind == "many":
        for i in range(n):
            add("output/f%06d" % i)
    elif kind == "dotdot":
        add("output/../../escape", data=b"out\n")
    elif kind == "abs":
        add("/tmp/escape", data=b"out\n")
    elif kind == "symlink":
        add("output/link", tarfile.SYMTYPE, link="/etc")
    elif kind == "hardlink":
        add("output/passwd", tarfile.LNKTYPE, link="/etc/passwd")
    elif kind == "device":
        add("output/null", tarfile.CHRTYPE)
    elif kind == "fifo":
        add("output/fifo", tarfile.FIFOTYPE)
    elif kind != "good":
        sys.exit("unknown kind " + kind)
open(out, "wb").write(buf.getvalue())
