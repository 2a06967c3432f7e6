/// Guest memory accesses below the TLB fast path: segmentation checks (SDM Vol. 3A 3.4, 5.3),
/// page-crossing accesses, and the physical dispatch to RAM, the local APIC page, the engine's
/// platform devices (IOAPIC) or an MMIO exit to the VMM.
#include <algorithm>

#include "emu/cpu.h"

namespace popek::emu {
namespace {

bool canonical(uint64_t la) {
    return static_cast<uint64_t>(static_cast<int64_t>(la << 16) >> 16) == la;
}

}  // namespace

uint64_t Cpu::linear(int s, uint64_t off, unsigned size, Access acc) {
    if (mode64) {
        uint64_t la = off + (s >= kFs ? seg[s].base : 0);
        if (!canonical(la) || !canonical(la + size - 1)) raise(s == kSs ? kSsf : kGp, 0);
        return la;
    }
    const hv::Segment& sg = seg[s];
    const uint8_t fault = s == kSs ? kSsf : kGp;
    if (cr0 & hv::kCr0Pe) {
        if (sg.unusable || !sg.present) raise(fault, 0);
        bool code = sg.type & 8;
        if (code) {
            if (acc == Access::Write || (acc == Access::Read && !(sg.type & 2))) raise(fault, 0);
        } else if (acc == Access::Write && !(sg.type & 2)) {
            raise(fault, 0);
        }
        if (!code && (sg.type & 4)) {
            // Expand-down data segment: valid offsets are (limit, top] (SDM Vol. 3A 5.3).
            uint64_t top = sg.db ? 0xffffffffULL : 0xffffULL;
            if (off <= sg.limit || off + size - 1 > top) raise(fault, 0);
            return (sg.base + off) & 0xffffffffULL;
        }
    }
    if (off + size - 1 > sg.limit) raise(fault, 0);
    return (sg.base + off) & 0xffffffffULL;
}

void Cpu::read_bytes_la(uint64_t la, void* out, unsigned size, Access acc, bool supervisor) {
    auto* dst = static_cast<uint8_t*>(out);
    unsigned first = std::min<unsigned>(size, static_cast<unsigned>(4096 - (la & 0xfff)));
    // Translate both pages before touching anything: a fault leaves no partial access.
    uint64_t gpa0 = translate(la, acc, supervisor);
    uint64_t gpa1 = first < size ? translate(la + first, acc, supervisor) : 0;
    check_watch(la, size, acc);
    phys_read(gpa0, dst, first);
    if (first < size) phys_read(gpa1, dst + first, size - first);
}

void Cpu::write_bytes_la(uint64_t la, const void* in, unsigned size, bool supervisor) {
    auto* src = static_cast<const uint8_t*>(in);
    unsigned first = std::min<unsigned>(size, static_cast<unsigned>(4096 - (la & 0xfff)));
    uint64_t gpa0 = translate(la, Access::Write, supervisor);
    uint64_t gpa1 = first < size ? translate(la + first, Access::Write, supervisor) : 0;
    check_watch(la, size, Access::Write);
    phys_write(gpa0, src, first);
    if (first < size) phys_write(gpa1, src + first, size - first);
}

void Cpu::read_sys(uint64_t la, void* out, unsigned size) {
    if (!long_mode) la &= 0xffffffffULL;
    read_bytes_la(la, out, size, Access::Read, true);
}

void Cpu::write_sys(uint64_t la, const void* in, unsigned size) {
    if (!long_mode) la &= 0xffffffffULL;
    write_bytes_la(la, in, size, true);
}

void Cpu::check_code_write(uint64_t gpa, unsigned size) {
    CodePageMap& code = m_shared.code;
    bool hit = false;
    if (code.is_code(gpa)) {
        code.invalidate(gpa);
        hit = true;
    }
    if (((gpa + size - 1) ^ gpa) & ~0xfffULL && code.is_code(gpa + size - 1)) {
        code.invalidate(gpa + size - 1);
        hit = true;
    }
    // The current block may hold the bytes just written: end it so the next fetch re-decodes.
    if (hit) brk = true;
}

uint8_t* Cpu::ram_ptr(uint64_t gpa, unsigned size) const {
    // The APIC page overlays RAM when the APIC is enabled (SDM Vol. 3A 10.4.1).
    if (apic_page(gpa)) return nullptr;
    return m_shared.mem.host_ptr(gpa, size);
}

uint8_t* Cpu::rmw_ptr_slow(uint64_t la, unsigned size) {
    uint64_t gpa = translate(la, Access::Write, false);
    check_watch(la, size, Access::Write);   // a locked read-modify-write (never TLB-mapped when watched)
    uint8_t* host = ram_ptr(gpa, size);
    // A code page has no write mapping so that writes are seen: invalidate as phys_write does,
    // then let the caller's host atomic do the write (SDM Vol. 3A 8.1.2: LOCK is atomic on RAM).
    if (host) check_code_write(gpa, size);
    return host;
}

void Cpu::phys_read(uint64_t gpa, void* out, unsigned size) {
    if (uint8_t* host = ram_ptr(gpa, size)) {
        std::memcpy(out, host, size);
        return;
    }
    mmio_access(gpa, out, size, false);
}

void Cpu::phys_write(uint64_t gpa, const void* in, unsigned size) {
    if (uint8_t* host = ram_ptr(gpa, size)) {
        check_code_write(gpa, size);
        std::memcpy(host, in, size);
        return;
    }
    mmio_access(gpa, const_cast<void*>(in), size, true);
}

// ---- stack (SDM Vol. 1 6.2: the stack width is SS.B outside 64-bit mode) ----

void Cpu::push(uint64_t v, unsigned size) {
    const uint64_t mask = stack_mask();
    uint64_t sp = (gpr[hv::RSP] - size) & mask;
    uint64_t la = linear(kSs, sp, size, Access::Write);
    switch (size) {
        case 2: write_la<uint16_t>(la, static_cast<uint16_t>(v)); break;
        case 4: write_la<uint32_t>(la, static_cast<uint32_t>(v)); break;
        default: write_la<uint64_t>(la, v); break;
    }
    gpr[hv::RSP] = (gpr[hv::RSP] & ~mask) | sp;
}

uint64_t Cpu::peek(unsigned size, uint64_t offset) {
    uint64_t sp = (gpr[hv::RSP] + offset) & stack_mask();
    uint64_t la = linear(kSs, sp, size, Access::Read);
    switch (size) {
        case 2: return read_la<uint16_t>(la);
        case 4: return read_la<uint32_t>(la);
        default: return read_la<uint64_t>(la);
    }
}

uint64_t Cpu::pop(unsigned size) {
    uint64_t v = peek(size);
    const uint64_t mask = stack_mask();
    gpr[hv::RSP] = (gpr[hv::RSP] & ~mask) | ((gpr[hv::RSP] + size) & mask);
    return v;
}

}  // namespace popek::emu
