/// The I/O log of ExitPort (emu/exit_port.h): an instruction's device accesses in program order,
/// handed to the VMM one exit at a time and replayed when the instruction runs again after a
/// read (mmu/io_log.cpp: why, and the rule handlers keep for it).
#include "emu/exit_port.h"

#include <cstring>

namespace popek::emu {
namespace {

bool is_read(IoAccess::Kind k) { return k == IoAccess::MmioRead || k == IoAccess::PioIn; }

}  // namespace

bool ExitPort::replayed(IoAccess::Kind kind, uint64_t addr, void* data, unsigned size) {
    Log& r = m_log;
    if (!r.valid || r.cursor >= r.count) return false;
    IoAccess& a = r.acc[r.cursor];
    if (a.kind != kind || a.addr != addr || a.size != size) {
        // The instruction took another path than before (another vCPU changed the memory it
        // computed an address from): what follows in the log is not this access. Accesses
        // already handed out stay done; the rest is forgotten.
        r.count = r.cursor;
        if (r.handed > r.count) r.handed = r.count;
        return false;
    }
    if (is_read(kind)) std::memcpy(data, a.data, size);
    ++r.cursor;
    return true;
}

ExitPort::Logged ExitPort::log(IoAccess::Kind kind, uint64_t addr, const void* data, unsigned size) {
    Log& r = m_log;
    if (!r.valid) {
        r.valid = true;
        r.retired = false;
        r.count = r.cursor = r.handed = 0;
    }
    if (size > sizeof(IoAccess::data) || r.count >= kIoLogSize) return Logged::Full;
    IoAccess& a = r.acc[r.count++];
    a.kind = kind;
    a.addr = addr;
    a.size = static_cast<uint8_t>(size);
    r.cursor = r.count;
    if (!is_read(kind)) {
        std::memcpy(a.data, data, size);
        return Logged::Write;
    }
    std::memset(a.data, 0, sizeof(a.data));
    (void)hand_out();   // the oldest queued write, or this read
    return Logged::Read;
}

bool ExitPort::hand_out() {
    Log& r = m_log;
    if (!r.valid || r.handed >= r.count) return false;
    IoAccess& a = r.acc[r.handed++];
    switch (a.kind) {
        case IoAccess::MmioRead: m_exit = hv::MmioRead{a.addr, std::span<uint8_t>(a.data, a.size)}; break;
        case IoAccess::MmioWrite: m_exit = hv::MmioWrite{a.addr, std::span<const uint8_t>(a.data, a.size)}; break;
        case IoAccess::PioIn:
            m_exit = hv::PioIn{static_cast<uint16_t>(a.addr), a.size, std::span<uint8_t>(a.data, a.size)};
            break;
        case IoAccess::PioOut:
            m_exit = hv::PioOut{static_cast<uint16_t>(a.addr), a.size, std::span<const uint8_t>(a.data, a.size)};
            break;
    }
    return true;
}

bool ExitPort::retire() {
    if (!m_log.valid) return false;
    m_log.retired = true;
    if (hand_out()) return true;
    m_log.valid = false;
    return false;
}

}  // namespace popek::emu
