/// Hardware task switching (SDM Vol. 3A 7.3 "Task Switching", the TASK-GATE / TASK-STATE-SEGMENT
/// / TASK-RETURN paths of SDM Vol. 2A JMP, CALL, INT n and IRET). Checks that find the switch
/// impossible fault in the old task; once the old task's state is saved, the new task's state is
/// loaded and its segment checks fault in the new task (SDM 7.3 step 12, table 7-1).
#include "emu/interp/task_switch.h"

#include <fmt/format.h>

namespace popek::emu {
namespace {

/// The 32-bit TSS (SDM Vol. 3A 7.2.1 figure 7-2), as 32-bit words: byte offset / 4.
enum TssWord : unsigned {
    kLink = 0x00 / 4, kCr3 = 0x1c / 4, kEip = 0x20 / 4, kEflags = 0x24 / 4,
    kGprs = 0x28 / 4,   ///< EAX ECX EDX EBX ESP EBP ESI EDI
    kSegs = 0x48 / 4,   ///< ES CS SS DS FS GS (16 bits each, in a 32-bit slot), SegReg order
    kCsWord = kSegs + 1,
    kLdt = 0x60 / 4, kTrap = 0x64 / 4,
    kTssWords = 0x68 / 4,
};
/// A 32-bit TSS must be at least 104 bytes: limit >= 67h (SDM Vol. 3A 7.2.2).
constexpr uint32_t kMinTssLimit = 0x67;
/// EFLAGS bits a task switch loads (SDM Vol. 1 3.4.3: bit 1 is set; 3, 5, 15 and 22-31 reserved).
constexpr uint64_t kEflagsLoadable = 0x003f7fd5;

[[noreturn]] void unsupported(Cpu& c, const char* what) {
    c.exits().set(hv::InternalError{fmt::format("{} at rip {:#x} is not supported by the own engine", what, c.rip)});
    c.unwind_exit();
}

uint16_t sel_error(uint16_t sel, uint32_t ext) { return static_cast<uint16_t>((sel & 0xfffc) | ext); }

/// The GDT descriptor of a TSS selector: `vec`(sel) for a null selector, one in the LDT or one
/// outside the GDT (a TSS descriptor may only be in the GDT, SDM Vol. 3A 7.2.2).
uint64_t gdt_descriptor(Cpu& c, uint16_t sel, uint8_t vec, uint32_t ext) {
    if ((sel & 0xfffc) == 0 || (sel & 4) || (sel & 0xfff8u) + 7u > c.gdt.limit) c.raise(vec, sel_error(sel, ext));
    uint64_t d;
    c.read_sys(c.gdt.base + (sel & 0xfff8u), &d, 8);
    return d;
}

void set_busy(Cpu& c, uint16_t sel, bool busy) {
    const uint64_t la = c.gdt.base + (sel & 0xfff8u) + 5;
    uint8_t b;
    c.read_sys(la, &b, 1);
    b = static_cast<uint8_t>(busy ? (b | 2) : (b & ~2u));
    c.write_sys(la, &b, 1);
}

/// A segment register in virtual-8086 mode: base selector * 16, 64 KiB, DPL 3, read/write data
/// (the attributes VMX requires of every segment in virtual-8086 mode, SDM Vol. 3C 26.3.1.2).
hv::Segment vm86_segment(uint16_t sel) {
    hv::Segment s;
    s.selector = sel;
    s.base = uint64_t{sel} << 4;
    s.limit = 0xffff;
    s.type = 3;
    s.dpl = 3;
    return s;
}

/// Loads segment register `s` of the new task from `sel` at the new CPL, with the checks of
/// SDM Vol. 3A table 7-1: #TS(sel) for an unusable descriptor, #NP(sel) (#SS for SS) if absent.
void load_task_segment(Cpu& c, int s, uint16_t sel, uint32_t ext) {
    const uint8_t rpl = sel & 3;
    if ((sel & 0xfffc) == 0) {
        if (s == kCs || s == kSs) c.raise(kTs, ext);
        c.seg[s] = hv::Segment{};
        c.seg[s].selector = sel;
        c.seg[s].unusable = true;
        c.seg[s].present = false;
        return;
    }
    const uint64_t d = c.read_descriptor(sel, kTs);
    hv::Segment sg = c.descriptor_to_segment(sel, d);
    const bool code = sg.type & 8, conforming = code && (sg.type & 4);
    bool ok = sg.s;
    if (s == kCs) ok = ok && code && (conforming ? sg.dpl <= rpl : sg.dpl == rpl);
    else if (s == kSs) ok = ok && !code && (sg.type & 2) && sg.dpl == c.cpl && rpl == c.cpl;
    else ok = ok && (!code || (sg.type & 2)) && (conforming || (sg.dpl >= c.cpl && sg.dpl >= rpl));
    if (!ok) c.raise(kTs, sel_error(sel, ext));
    if (!sg.present) c.raise(s == kSs ? kSsf : kNp, sel_error(sel, ext));
    c.set_accessed(sel, d);
    c.seg[s] = sg;
}

/// The task's LDT (SDM Vol. 3A 7.3 step 12): null leaves LDTR unusable; otherwise an LDT
/// descriptor in the GDT, present, else #TS(sel).
void load_task_ldt(Cpu& c, uint16_t sel, uint32_t ext) {
    c.ldtr = hv::Segment{};
    c.ldtr.selector = sel;
    if ((sel & 0xfffc) == 0) {
        c.ldtr.unusable = true;
        return;
    }
    const uint64_t d = gdt_descriptor(c, sel, kTs, ext);
    hv::Segment s = c.descriptor_to_segment(sel, d);
    if (s.s || s.type != 2 || !s.present) {
        c.ldtr.unusable = true;
        c.raise(kTs, sel_error(sel, ext));
    }
    c.ldtr = s;
}

/// SDM Vol. 3A 7.3 steps 3-13: switches from the current task to the TSS `sel` / `d` (already
/// checked by the caller for type, privilege and presence). `return_eip` is the old task's EIP.
void switch_task(Cpu& c, uint16_t sel, uint64_t d, TaskEntry how, uint64_t return_eip, uint32_t ext) {
    hv::Segment tss = c.descriptor_to_segment(sel, d);
    if (!(tss.type & 8) || (c.tr.type & 8) == 0) unsupported(c, "a task switch with a 16-bit TSS");
    if (tss.limit < kMinTssLimit) c.raise(kTs, sel_error(sel, ext));
    // Everything the switch reads or writes is read first, so a #PF leaves the old task intact.
    uint32_t next[kTssWords];
    c.read_sys(tss.base, next, sizeof next);
    uint32_t saved[kLdt - kEip];   // EIP .. GS of the old task
    c.read_sys(c.tr.base + kEip * 4, saved, sizeof saved);

    uint64_t old_flags = c.rflags;
    if (how == TaskEntry::Iret) old_flags &= ~kNt;   // the task being left is no longer nested
    saved[0] = static_cast<uint32_t>(return_eip);
    saved[1] = static_cast<uint32_t>(old_flags);
    for (unsigned r = 0; r < 8; ++r) saved[kGprs - kEip + r] = static_cast<uint32_t>(c.gpr[r]);
    for (unsigned s = 0; s < 6; ++s) saved[kSegs - kEip + s] = c.seg[s].selector;
    c.write_sys(c.tr.base + kEip * 4, saved, sizeof saved);

    // Busy flags, NT and the back link (SDM Vol. 3A 7.4 table 7-2).
    const uint16_t old_sel = c.tr.selector;
    if (how == TaskEntry::Jmp || how == TaskEntry::Iret) set_busy(c, old_sel, false);
    uint64_t eflags = (next[kEflags] & kEflagsLoadable) | 2;
    if (how == TaskEntry::Call || how == TaskEntry::Event) {
        eflags |= kNt;
        const uint16_t link = old_sel;
        c.write_sys(tss.base + kLink * 4, &link, 2);
    }
    if (how != TaskEntry::Iret) set_busy(c, sel, true);
    tss.type |= 2;
    c.tr = tss;
    c.cr0 |= hv::kCr0Ts;   // the new task's first x87/SSE instruction faults (#NM, SDM 2.5)

    // The new task's state. Faults from here on belong to the new task.
    if (c.cr0 & hv::kCr0Pg) c.write_cr3(next[kCr3]);
    c.rip = c.next_rip = next[kEip];
    c.rflags = eflags;
    c.update_tlb_class();   // AC (SMAP); the new CPL updates it again as CS loads
    for (unsigned r = 0; r < 8; ++r) c.gpr[r] = next[kGprs + r];
    c.interrupt_shadow = false;
    c.brk = true;
    c.budget = 0;   // interrupts the new EFLAGS.IF allows are taken before its first instruction
    for (unsigned s = 0; s < 6; ++s) c.seg[s].selector = static_cast<uint16_t>(next[kSegs + s]);
    load_task_ldt(c, static_cast<uint16_t>(next[kLdt]), ext);
    if (eflags & kVm) {
        // A task in virtual-8086 mode: real-mode style segments at CPL 3 (SDM Vol. 3A 20.2.1).
        for (unsigned s = 0; s < 6; ++s) c.seg[s] = vm86_segment(static_cast<uint16_t>(next[kSegs + s]));
        c.cpl = 3;
        c.update_mode();
    } else {
        c.cpl = static_cast<uint8_t>(next[kCsWord] & 3);
        load_task_segment(c, kCs, static_cast<uint16_t>(next[kCsWord]), ext);
        c.update_mode();
        for (int s : {kSs, kDs, kEs, kFs, kGs}) load_task_segment(c, s, static_cast<uint16_t>(next[kSegs + s]), ext);
    }
    if (next[kTrap] & 1) c.debug().db_pending |= 1u << 15;   // T flag: #DB with DR6.BT (SDM Vol. 3A 7.2.1)
}

/// The new task's EIP must lie in its code segment (SDM Vol. 2A JMP/CALL/INT: #GP(0)).
void check_eip(Cpu& c, uint32_t ext) {
    if (c.rip > c.seg[kCs].limit) c.raise(kGp, ext);
}

bool available_tss(uint64_t d) {
    const uint8_t type = static_cast<uint8_t>((d >> 40) & 0x1f);   // S = 0 and type 1 or 9
    return type == 0x01 || type == 0x09;
}

}  // namespace

void far_to_task(Cpu& c, uint16_t sel, uint64_t d, bool call) {
    const uint8_t type = static_cast<uint8_t>((d >> 40) & 0xf);
    const uint8_t dpl = static_cast<uint8_t>((d >> 45) & 3);
    const bool present = (d >> 47) & 1;
    if (c.long_mode || (type != 1 && type != 9 && type != 5)) c.raise(kGp, sel & 0xfffc);   // call gates: not offered
    if (dpl < c.cpl || dpl < (sel & 3)) c.raise(kGp, sel & 0xfffc);
    uint16_t tss_sel = sel;
    uint64_t tss_d = d;
    if (type == 5) {
        if (!present) c.raise(kNp, sel & 0xfffc);
        tss_sel = static_cast<uint16_t>(d >> 16);
        tss_d = gdt_descriptor(c, tss_sel, kGp, 0);
        if (!available_tss(tss_d)) c.raise(kGp, tss_sel & 0xfffc);
        if (!((tss_d >> 47) & 1)) c.raise(kNp, tss_sel & 0xfffc);
    } else {
        if (sel & 4) c.raise(kGp, sel & 0xfffc);
        if (!present) c.raise(kNp, sel & 0xfffc);
    }
    switch_task(c, tss_sel, tss_d, call ? TaskEntry::Call : TaskEntry::Jmp, c.next_rip, 0);
    check_eip(c, 0);
}

void event_to_task(Cpu& c, const Event& e, uint64_t gate, uint32_t ext) {
    const uint16_t tss_sel = static_cast<uint16_t>(gate >> 16);
    const uint64_t d = gdt_descriptor(c, tss_sel, kGp, ext);
    if (!available_tss(d)) c.raise(kGp, sel_error(tss_sel, ext));
    if (!((d >> 47) & 1)) c.raise(kNp, sel_error(tss_sel, ext));
    switch_task(c, tss_sel, d, TaskEntry::Event, e.return_rip, ext);
    if (e.has_error) {
        // The error code goes onto the new task's stack, no frame (SDM Vol. 3A 6.12.2).
        const uint64_t low = (c.gpr[hv::RSP] - 4) & c.stack_mask();
        (void)c.linear(kSs, low, 4, Access::Write);
        c.push(e.error, 4);
    }
    check_eip(c, ext);
}

void iret_to_task(Cpu& c) {
    uint16_t link;
    c.read_sys(c.tr.base + kLink * 4, &link, 2);
    const uint64_t d = gdt_descriptor(c, link, kTs, 0);
    const uint8_t type = static_cast<uint8_t>((d >> 40) & 0x1f);
    if (type != 0x03 && type != 0x0b) c.raise(kTs, link & 0xfffc);   // must be a busy TSS
    if (!((d >> 47) & 1)) c.raise(kNp, link & 0xfffc);
    c.nmi_blocked = false;   // IRET ends NMI blocking whatever it returns to (SDM Vol. 3A 6.7.1)
    switch_task(c, link, d, TaskEntry::Iret, c.next_rip, 0);
    check_eip(c, 0);
}

}  // namespace popek::emu
