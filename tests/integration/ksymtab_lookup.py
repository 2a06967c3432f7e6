#!/usr/bin/env python3
"""ksymtab_lookup.py VMLINUX SYMBOL: prints the address of an exported kernel symbol.

Debian's vmlinux is stripped (its symbols are in linux-image-*-dbg), but an EXPORT_SYMBOL'd one is
still in the export table: each `struct kernel_symbol` in __ksymtab / __ksymtab_gpl is three
32-bit offsets relative to their own field (CONFIG_HAVE_ARCH_PREL32_RELOCATIONS, x86-64):
value, name (into __ksymtab_strings), namespace (include/linux/export.h). Exit 1: not found.
"""
import struct
import sys


def lookup(path, want):
    d = open(path, 'rb').read()
    if d[:4] != b'\x7fELF' or d[4] != 2:
        return None
    shoff, = struct.unpack_from('<Q', d, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3a)
    secs = []
    for i in range(shnum):
        name, _typ, _flags, addr, off, size = struct.unpack_from('<IIQQQQ', d, shoff + i * shentsize)
        secs.append((name, addr, off, size))
    strtab = secs[shstrndx][2]
    by_name = {d[strtab + s[0]:d.index(b'\0', strtab + s[0])].decode(): s for s in secs}

    def file_offset(va):
        for _n, a, o, size in secs:
            if a and o and a <= va < a + size:
                return o + va - a
        return None

    for table in ('__ksymtab', '__ksymtab_gpl'):
        if table not in by_name:
            continue
        _n, addr, off, size = by_name[table]
        for k in range(0, size - 11, 12):
            value_off, name_off, _ns = struct.unpack_from('<iii', d, off + k)
            f = file_offset(addr + k + 4 + name_off)
            if f is not None and d[f:d.index(b'\0', f)] == want.encode():
                return addr + k + value_off
    return None


if __name__ == '__main__':
    a = lookup(sys.argv[1], sys.argv[2])
    if a is None:
        sys.exit(1)
    print(hex(a))
