#!/usr/bin/env python3
"""Hand-made seed inputs for the fuzz targets whose harness has no replay runner of its own
(fuzz_blkif, fuzz_netif, fuzz_xs_wire, fuzz_loader, fuzz_gdb_rsp): `fuzz-seeds.py TARGET DIR` writes them as
DIR/seed-N. Each follows its harness's input layout (the comment at the top of
tests/fuzz/fuzz_TARGET.cpp); tools/fuzz-corpus.sh calls it. Standard library only."""
import struct
import sys

GTF_PERMIT, GTF_READONLY = 1, 4


def grants(entries, count=64):
    """Grant table v1 entries (flags, domid, frame), padded to `count` (Xen grant_table.h)."""
    out = b"".join(struct.pack("<HHI", f, d, fr) for f, d, fr in entries)
    return out.ljust(count * 8, b"\0")


def sring(req_prod, entries, entry_size):
    """A shared ring page's head (io/ring.h: req_prod, req_event, rsp_prod, rsp_event, 48 pad bytes)."""
    head = struct.pack("<IIII", req_prod, 1, 0, 1).ljust(64, b"\0")
    return head + b"".join(e.ljust(entry_size, b"\0") for e in entries)


def blkif_req(op, nseg, rid, sector, segs):
    """blkif_request_t (io/blkif.h), 112 bytes: segments are (gref, first_sect, last_sect)."""
    body = struct.pack("<BBHIQQ", op, nseg, 0, 0, rid, sector)
    body += b"".join(struct.pack("<IBBH", g, f, l, 0) for g, f, l in segs)
    return body.ljust(112, b"\0")


def blkif():
    table = grants([(GTF_PERMIT, 0, 0x20 + i) for i in range(4)] + [(GTF_PERMIT | GTF_READONLY, 0, 0x24)])
    rw = [blkif_req(0, 1, 1, 0, [(0, 0, 7)]), blkif_req(1, 2, 2, 8, [(1, 0, 7), (2, 0, 3)])]
    ro_write = [blkif_req(1, 1, 3, 0, [(4, 0, 7)])]
    raw = blkif_req(3, 0, 9, 0, []) + blkif_req(5, 0, 10, 4, [])   # flush, discard (raw requests)
    return [table + sring(2, rw, 112), table + sring(1, ro_write, 112) + raw, table + sring(40, rw, 112)]


def netif():
    table = grants([(GTF_PERMIT, 0, 0x20 + i) for i in range(6)])
    tx = sring(2, [struct.pack("<IHHHH", 0, 0, 1, 0, 120), struct.pack("<IHHHH", 1, 0, 0, 1, 60)], 12)
    rx = sring(3, [struct.pack("<HHI", i, 0, 2 + i) for i in range(3)], 8)
    steps = bytes([0]) + bytes([1]) + struct.pack("<H", 60) + bytes([1]) + struct.pack("<H", 3000)
    steps += bytes([3]) + struct.pack("<I", 5) + bytes([2]) + struct.pack("<I", 0xFFFF) + bytes([0])
    out = []
    for sg in (0, 1):
        out.append(table + struct.pack("<H", len(tx)) + tx + struct.pack("<H", len(rx)) + rx + bytes([sg]) + steps)
    return out


XS_DIRECTORY, XS_READ, XS_WATCH, XS_TX_START, XS_TX_END, XS_WRITE, XS_MKDIR, XS_RM = 1, 2, 4, 6, 7, 11, 12, 13


def xs_msg(kind, payload, req_id=1, tx=0):
    """xsd_sockmsg (io/xs_wire.h) and its payload."""
    return struct.pack("<IIII", kind, req_id, tx, len(payload)) + payload


def xs_stream(msgs):
    """Mode 0: the byte stream, fed in pieces of (1 + length byte % 64) bytes."""
    data = b"".join(msgs)
    out = bytearray([0])
    for i in range(0, len(data), 40):
        piece = data[i:i + 40]
        out.append(len(piece) - 1)
        out += piece
    return bytes(out)


def xs_ring(msg):
    """Mode 1: steps of (req_cons, req_prod, rsp_cons, rsp_prod, u16 offset, 32 bytes of request ring)."""
    out = bytearray([1])
    for off in range(0, len(msg), 32):
        chunk = msg[off:off + 32]
        out += struct.pack("<IIIIH", 0, off + len(chunk), 0, 0, off) + chunk.ljust(32, b"\0")
    return bytes(out)


def xs_wire():
    session = [xs_msg(XS_WRITE, b"data/a\0value"), xs_msg(XS_READ, b"data/a\0", 2), xs_msg(XS_DIRECTORY, b"data\0", 3),
               xs_msg(XS_WATCH, b"data\0tok\0", 4), xs_msg(XS_MKDIR, b"data/d\0", 5), xs_msg(XS_RM, b"data/a\0", 6)]
    tx = [xs_msg(XS_TX_START, b"\0", 1), xs_msg(XS_WRITE, b"data/t\0x", 2, 1), xs_msg(XS_TX_END, b"T\0", 3, 1)]
    return [xs_stream(session), xs_stream(tx), xs_ring(xs_msg(XS_READ, b"domid\0")),
            xs_ring(xs_msg(XS_WRITE, b"data/ring\0value"))]


def put(buf, off, fmt, *values):
    struct.pack_into(fmt, buf, off, *values)


def elf64(entry=0x100000, phnum=1, p_type=1, offset=0x1000, filesz=16, memsz=16, paddr=0x100000):
    """An ELF64 executable with one program header (System V gABI "ELF Header", "Program Header")."""
    img = bytearray(0x1000 + 16)
    img[0:16] = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    put(img, 16, "<HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    put(img, 64, "<IIQQQQQQ", p_type, 5, offset, paddr, paddr, filesz, memsz, 0x1000)
    img[0x1000:0x1010] = b"\xf4" * 16   # hlt
    return bytes(img)


def bzimage(version=0x020F, initrd_addr_max=0x7FFFFFFF, init_size=0x100000, relocatable=1, align=0x200000):
    """A bzImage real-mode header (Linux Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header")."""
    img = bytearray(0x1000)
    img[0x1F1] = 1                      # setup_sects
    put(img, 0x1FE, "<H", 0xAA55)       # boot_flag
    img[0x200:0x202] = bytes([0xEB, 0x66])  # jump: the header runs to 0x268
    img[0x202:0x206] = b"HdrS"
    put(img, 0x206, "<H", version)
    put(img, 0x22C, "<I", initrd_addr_max)
    put(img, 0x230, "<I", align)
    img[0x234] = relocatable
    put(img, 0x238, "<I", 2048)         # cmdline_size
    put(img, 0x258, "<Q", 0x1000000)    # pref_address
    put(img, 0x260, "<I", init_size)
    return bytes(img)


def loader():
    return [elf64(), elf64(phnum=3), elf64(offset=0xFFFFFFF0), elf64(memsz=1 << 40), bzimage(),
            bzimage(initrd_addr_max=0), bzimage(version=0x0200), bzimage(init_size=0)]


def rsp_packet(payload):
    return b"$" + payload + b"#" + b"%02x" % (sum(payload) & 0xFF)


def gdb_rsp():
    # The target reads a length byte before each piece of the stream (1 + byte % 97 bytes).
    def stream(raw):
        out = b""
        while raw:
            piece, raw = raw[:96], raw[96:]
            out += bytes([len(piece) - 1]) + piece
        return out
    sessions = [
        b"+" + rsp_packet(b"qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386") + b"+",
        rsp_packet(b"g") + b"+" + rsp_packet(b"m1000,40") + b"+" + rsp_packet(b"vCont;s:1"),
        rsp_packet(b"Z0,ffffffff81000000,1") + b"\x03" + rsp_packet(b"X2000,4:}\x03}]ab"),
        rsp_packet(b"P10=0010000000000000") + b"-" + b"$bad#zz" + rsp_packet(b"qRcmd,7374617473"),
    ]
    return [stream(s) for s in sessions]


def rr_log():
    """Record/replay logs (docs/record-replay.md, version 2): a whole one with every event type,
    an empty description, and the same log cut short."""
    def header(desc):
        return b"POPEKRR\0" + struct.pack("<II", 2, len(desc)) + desc
    def event(kind, count, body):
        return struct.pack("<BQ", kind, count) + body
    exit_in = event(1, 100, struct.pack("<QBQIQ", 0x1000, 1, 0x3fd, 1, 0x1234))
    read = event(2, 100, struct.pack("<I", 1) + b"\x60")
    random = event(3, 150, struct.pack("<BB", 8, 1) + bytes(range(8)))
    typed = event(4, 200, struct.pack("<QI", 3, 3) + b"ls\n")
    end = event(5, 300, struct.pack("<I", 0) + bytes(32) + bytes(range(32)))
    desc = b"accel=bt\nmem_mib=64\ncpus=1\nkernel=demo\n"
    whole = header(desc) + exit_in + read + random + typed + end
    return [whole, header(b"") + end, whole[:len(whole) - 40], header(desc)]


TARGETS = {"fuzz_blkif": blkif, "fuzz_netif": netif, "fuzz_xs_wire": xs_wire, "fuzz_loader": loader,
           "fuzz_gdb_rsp": gdb_rsp, "fuzz_rr_log": rr_log}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} DIR")
    for i, seed in enumerate(TARGETS[sys.argv[1]]()):
        with open(f"{sys.argv[2]}/seed-{i}", "wb") as f:
            f.write(seed)
