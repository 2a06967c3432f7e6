#pragma once
// Which mappings of /proc/PID/smaps hold a VMM's guest RAM, for the benches that report a VMM's
// own memory beside it. popek's guest RAM is anonymous memory (transparent huge pages,
// src/memory/guest_memory.cpp; a memfd named popek-guest-ram before), QEMU's too: below the
// 3 GiB MMIO hole each is one unnamed mapping of exactly the RAM size (the bt code buffer's
// views, of a configurable size, are memfd-backed and so named).
#include <sstream>
#include <string>

struct SmapsGuestRam {
    long mem_kib = 0;   ///< the guest's RAM size
    bool named = false, anonymous = false;
    long size_kib = -1;

    /// A mapping's header line (address perms offset dev inode [path]).
    void header(const std::string& line) {
        named = line.find("popek-guest-ram") != std::string::npos;
        std::istringstream in(line);
        std::string field[5], path;
        for (std::string& f : field) in >> f;
        anonymous = !(in >> path);
        size_kib = -1;
    }
    /// The mapping's `Size:` line has been read.
    void size(long kib) { size_kib = kib; }
    /// The current mapping is guest RAM.
    bool is_guest_ram() const { return named || (anonymous && size_kib == mem_kib); }
};
