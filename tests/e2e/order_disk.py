#!/usr/bin/python3
# order_disk.py ORDER.json DISK [SIZE]: writes the order disk a provider's host
# hands the guest (docs/order.md: "CVMO", version 2, the text's length, the
# text, zeros to a multiple of 4096), for tests that launch QEMU themselves.
import struct
import sys

text = open(sys.argv[1], "rb").read()
disk = b"CVMO" + struct.pack("<II", 2, len(text)) + text
disk += b"\0" * (-len(disk) % 4096)
if len(sys.argv) > 3:
    disk += b"\0" * (int(sys.argv[3]) - len(disk))
open(sys.argv[2], "wb").write(disk)
