/// Device accesses of the own engine: MMIO that is not RAM (the local APIC page and the engine's
/// platform devices are served in place; everything else is an exit to the VMM) and port I/O.
///
/// An instruction may make several device accesses (CMPS with both operands in MMIO, an operand
/// crossing two MMIO pages, PUSH/ENTER/CALL with the stack in MMIO, INS into MMIO). They are kept
/// in Cpu::m_replay, in program order:
/// - a write (MMIO write, OUT) is queued and the instruction goes on;
/// - a read (MMIO read, IN) needs the VMM's answer: the instruction unwinds, the queued writes and
///   then the read are handed out as exits, one per run(), and the instruction is executed again,
///   alone, consuming the log from its start (reads get their data, writes are not repeated);
/// - when the instruction completes, the writes it queued are handed out, then the log is dropped.
/// So every access reaches the VMM exactly once and in order, as on hardware, where a device sees
/// each access of an instruction once (SDM Vol. 3A 11.3: UC accesses are not repeated or merged).
/// Handlers keep the rule that makes this work (emu/cpu.h): every read before any register is
/// committed.
#include "emu/cpu.h"
#include "emu/irqchip/platform.h"

namespace popek::emu {
namespace {

bool is_read(IoAccess::Kind k) { return k == IoAccess::MmioRead || k == IoAccess::PioIn; }

}  // namespace

bool Cpu::io_replayed(IoAccess::Kind kind, uint64_t addr, void* data, unsigned size) {
    Replay& r = m_replay;
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

void Cpu::io_new(IoAccess::Kind kind, uint64_t addr, const void* data, unsigned size) {
    Replay& r = m_replay;
    if (!r.valid) {
        r.valid = true;
        r.retired = false;
        r.count = r.cursor = r.handed = 0;
    }
    if (m_delivering >= 0 && is_read(kind)) {
        // Event delivery cannot be re-executed (the IDT, GDT or TSS in MMIO).
        m_exit = hv::InternalError{fmt::format("device read at {:#x} while delivering vector {}", addr, m_delivering)};
        unwind_exit();
    }
    if (size > sizeof(IoAccess::data) || r.count >= kIoLogSize) {
        m_exit = hv::InternalError{fmt::format("device access of {} bytes at {:#x} (access {} of one instruction, rip {:#x})",
                                               size, addr, r.count + 1, rip)};
        unwind_exit();
    }
    IoAccess& a = r.acc[r.count++];
    a.kind = kind;
    a.addr = addr;
    a.size = static_cast<uint8_t>(size);
    r.cursor = r.count;
    if (!is_read(kind)) {
        std::memcpy(a.data, data, size);
        brk = true;   // end the block after this instruction: its writes are handed out there
        return;
    }
    std::memset(a.data, 0, sizeof(a.data));
    (void)io_hand_out();   // the oldest queued write, or this read
    unwind_exit();
}

bool Cpu::io_hand_out() {
    Replay& r = m_replay;
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

bool Cpu::io_retire() {
    if (!m_replay.valid) return false;
    m_replay.retired = true;
    if (io_hand_out()) return true;
    m_replay.valid = false;
    return false;
}

void Cpu::mmio_access(uint64_t gpa, void* data, unsigned size, bool write) {
    auto bytes = std::span<uint8_t>(static_cast<uint8_t*>(data), size);
    if (apic_page(gpa) && m_ints) {
        uint32_t off = static_cast<uint32_t>(gpa & 0xfff);
        if (write) {
            m_ints->apic_write(off, bytes);
            budget = 0;   // an EOI or IPI may have made an interrupt deliverable
        } else {
            m_ints->apic_read(off, bytes);
        }
        return;
    }
    if (InterruptPlatform* p = m_shared.platform) {
        if (write ? p->mmio_write(gpa, bytes) : p->mmio_read(gpa, bytes)) return;
    }
    const auto kind = write ? IoAccess::MmioWrite : IoAccess::MmioRead;
    if (io_replayed(kind, gpa, data, size)) return;
    io_new(kind, gpa, data, size);
}

uint32_t Cpu::port_in(uint16_t port, unsigned size) {
    uint32_t v = 0;
    auto bytes = std::span<uint8_t>(reinterpret_cast<uint8_t*>(&v), size);
    if (InterruptPlatform* p = m_shared.platform; p && p->pio_read(port, bytes)) return v;
    if (io_replayed(IoAccess::PioIn, port, &v, size)) return v;
    io_new(IoAccess::PioIn, port, nullptr, size);
    return 0;   // not reached: io_new unwinds for a read
}

void Cpu::port_out(uint16_t port, unsigned size, uint32_t value) {
    if (CpuHooks* h = m_shared.hooks; h && h->port_out(*this, port, size, value)) return;
    auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), size);
    if (InterruptPlatform* p = m_shared.platform; p && p->pio_write(port, bytes)) {
        budget = 0;   // e.g. a PIC EOI or PIT reprogramming
        return;
    }
    if (io_replayed(IoAccess::PioOut, port, nullptr, size)) return;
    io_new(IoAccess::PioOut, port, &value, size);
}

void Cpu::exit_hypercall(hv::Hypercall call) {
    m_hypercall_result = 0;
    call.result = &m_hypercall_result;
    m_exit = call;
    m_hypercall_pending = true;
    m_exit_pending = true;
    brk = true;
}

void Cpu::complete_io() {
    // A read's data is already in its log entry (the exit's span points there).
    if (m_hypercall_pending && std::holds_alternative<hv::Hypercall>(m_exit))
        gpr[hv::RAX] = m_hypercall_result;   // the OUT has completed: the stub's RET sees rax
    m_hypercall_pending = false;
    m_exit = hv::Halt{};
}

}  // namespace popek::emu
