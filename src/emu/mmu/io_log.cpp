/// Device accesses of the own engine: MMIO that is not RAM (the local APIC page and the engine's
/// platform devices are served in place; everything else is an exit to the VMM) and port I/O.
///
/// An instruction may make several device accesses (CMPS with both operands in MMIO, an operand
/// crossing two MMIO pages, PUSH/ENTER/CALL with the stack in MMIO, INS into MMIO). They are kept
/// in the exit port's I/O log (emu/exit_port.h), in program order:
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

void Cpu::io_new(IoAccess::Kind kind, uint64_t addr, const void* data, unsigned size) {
    const bool read = kind == IoAccess::MmioRead || kind == IoAccess::PioIn;
    if (m_delivering >= 0 && read) {
        // Event delivery cannot be re-executed (the IDT, GDT or TSS in MMIO).
        m_exits.set(hv::InternalError{fmt::format("device read at {:#x} while delivering vector {}", addr, m_delivering)});
        unwind_exit();
    }
    switch (m_exits.log(kind, addr, data, size)) {
        case ExitPort::Logged::Write:
            brk = true;   // end the block after this instruction: its writes are handed out there
            return;
        case ExitPort::Logged::Read:
            unwind_exit();   // exit() holds the oldest queued write, or this read
        case ExitPort::Logged::Full:
            m_exits.set(hv::InternalError{fmt::format("device access of {} bytes at {:#x} (access {} of one instruction, rip {:#x})",
                                                      size, addr, m_exits.logged() + 1, rip)});
            unwind_exit();
    }
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
    if (m_exits.replayed(kind, gpa, data, size)) return;
    io_new(kind, gpa, data, size);
}

uint32_t Cpu::port_in(uint16_t port, unsigned size) {
    uint32_t v = 0;
    auto bytes = std::span<uint8_t>(reinterpret_cast<uint8_t*>(&v), size);
    if (InterruptPlatform* p = m_shared.platform; p && p->pio_read(port, bytes)) return v;
    if (m_exits.replayed(IoAccess::PioIn, port, &v, size)) return v;
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
    if (m_exits.replayed(IoAccess::PioOut, port, nullptr, size)) return;
    io_new(IoAccess::PioOut, port, &value, size);
}

void Cpu::exit_hypercall(hv::Hypercall call) {
    m_exits.post_hypercall(call);
    brk = true;
}

void Cpu::complete_io() {
    // A read's data is already in its log entry (the exit's span points there); a hypercall's
    // OUT has completed: the stub's RET sees its result in rax.
    if (std::optional<uint64_t> rax = m_exits.resume()) gpr[hv::RAX] = *rax;
}

}  // namespace popek::emu
