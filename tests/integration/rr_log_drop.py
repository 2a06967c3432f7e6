#!/usr/bin/env python3
"""rr_log_drop.py IN OUT TYPE: copies a record/replay log (docs/record-replay.md, versions 4 and 5)
without its events of TYPE (1 Exit, 2 Read, 3 Random, 4 Input, 6 Dma, 7 Frame, 8 Share), for tests that check a replay
notices what is missing. Prints how many events were dropped."""
import struct
import sys

src, dst, drop = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
assert data[:8] == b"POPEKRR\0", "not a record/replay log"
_, n = struct.unpack_from("<II", data, 8)
pos = 16 + n
out = bytearray(data[:pos])
dropped = 0
while pos < len(data):
    start = pos
    kind = data[pos]
    pos += 9
    if kind == 1:
        pos += 8 + 1 + 8 + 4 + 8
    elif kind == 2:
        (length,) = struct.unpack_from("<I", data, pos)
        pos += 4 + length
    elif kind == 3:
        pos += 2 + data[pos]
    elif kind == 4:
        (length,) = struct.unpack_from("<I", data, pos + 8)
        pos += 12 + length
    elif kind == 6:
        (length,) = struct.unpack_from("<I", data, pos + 8)
        pos += 12 + length
    elif kind == 7:
        (length,) = struct.unpack_from("<I", data, pos + 9)
        pos += 13 + length
    elif kind == 8:
        (length,) = struct.unpack_from("<I", data, pos + 8)
        pos += 12 + length
    elif kind == 5:
        pos += 4 + 32 + 32
    else:
        sys.exit(f"unknown event type {kind} at byte {start}")
    if kind == drop:
        dropped += 1
    else:
        out += data[start:pos]
open(dst, "wb").write(bytes(out))
print(dropped)
