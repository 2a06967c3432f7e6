/// Interrupt and exception delivery (SDM Vol. 3A 6.12 protected mode, 6.14 IA-32e mode, 20.1.4
/// real mode IVT) and IRET/IRETD/IRETQ (SDM Vol. 2A IRET). Task gates and IRET with NT = 1 switch
/// tasks (emu/interp/task_switch.cpp); an interrupt in virtual-8086 mode goes to a ring-0 handler
/// (SDM Vol. 3A 20.3.1.1); IRET to or in virtual-8086 mode stops the VM with a clear reason.
#include "emu/interp/families.h"
#include "emu/interp/task_switch.h"

namespace popek::emu {

void write_flags(Cpu& c, uint64_t v, unsigned osize);   // stack.cpp

namespace {

[[noreturn]] void unsupported(Cpu& c, const char* what) {
    c.exits().set(hv::InternalError{fmt::format("{} at rip {:#x} is not supported by --accel interp", what, c.rip)});
    c.unwind_exit();
}

/// Writes `n` values of `size` bytes below `sp` (highest first) with the privilege of `cpl`.
uint64_t push_frame(Cpu& c, uint64_t ss_base, uint64_t sp, uint64_t sp_mask, const uint64_t* vals, int n,
                    unsigned size, bool supervisor) {
    for (int k = 0; k < n; ++k) {
        sp = (sp - size) & sp_mask;
        c.write_bytes_la((ss_base + sp) & (c.long_mode ? ~0ULL : 0xffffffffULL), &vals[k], size, supervisor);
    }
    return sp;
}

void deliver_real(Cpu& c, const Event& e) {
    uint64_t entry = uint64_t{e.vector} * 4;
    if (entry + 3 > c.idt.limit) c.raise(kGp, 0);
    uint32_t vec;
    c.read_sys(c.idt.base + entry, &vec, 4);
    c.push(c.rflags & 0xffff, 2);
    c.push(c.seg[kCs].selector, 2);
    c.push(e.return_rip & 0xffff, 2);
    c.rflags &= ~(kIf | kTf | kAc | kRf);
    c.update_tlb_class();
    c.load_real_segment(kCs, static_cast<uint16_t>(vec >> 16));
    c.rip = vec & 0xffff;
}

}  // namespace

/// Checks and loads a code segment descriptor for a transfer that ends at privilege `new_cpl`.
void load_code_segment(Cpu& c, uint16_t selector, uint64_t d, uint8_t new_cpl, uint64_t d_high = 0) {
    hv::Segment cs = c.descriptor_to_segment(static_cast<uint16_t>((selector & ~3u) | new_cpl), d, d_high);
    c.set_accessed(selector, d);
    c.seg[kCs] = cs;
    c.cpl = new_cpl;
    c.update_mode();
}

void Cpu::deliver_event() {
    const Event e = m_event;
    if (!(cr0 & hv::kCr0Pe)) {
        deliver_real(*this, e);
        return;
    }
    /// EXT (SDM Vol. 3A 6.13): set for a fault met while delivering an event external to the
    /// program (an interrupt, NMI, an earlier exception, ICEBP's #DB); clear for INT n, INT3, INTO.
    const uint32_t ext = e.software ? 0 : 1;
    const uint32_t idt_err = uint32_t{e.vector} * 8 + 2 + ext;
    const unsigned entry_size = long_mode ? 16 : 8;
    if (uint64_t{e.vector} * entry_size + entry_size - 1 > idt.limit) raise(kGp, idt_err);
    uint64_t gate[2] = {0, 0};
    read_sys(idt.base + uint64_t{e.vector} * entry_size, gate, entry_size);
    const uint8_t type = static_cast<uint8_t>((gate[0] >> 40) & 0xf);
    const uint8_t gate_dpl = static_cast<uint8_t>((gate[0] >> 45) & 3);
    const bool present = (gate[0] >> 47) & 1;
    const bool trap = type == 0xf || type == 0x7;
    const bool valid = long_mode ? (type == 0xe || type == 0xf) : (type == 0xe || type == 0xf || type == 6 || type == 7 || type == 5);
    if (!valid) raise(kGp, idt_err);
    if (e.software && gate_dpl < cpl) raise(kGp, idt_err);
    if (!present) raise(kNp, idt_err);
    if (type == 5) {
        event_to_task(*this, e, gate[0], ext);   // a task gate (SDM Vol. 3A 6.12.2)
        return;
    }
    /// From virtual-8086 mode only to a ring-0 handler through a 32-bit gate (SDM Vol. 3A 20.3.1.1).
    const bool from_vm86 = rflags & kVm;

    const uint16_t cs_sel = static_cast<uint16_t>(gate[0] >> 16);
    uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ULL);
    if (long_mode) target |= (gate[1] & 0xffffffffULL) << 32;
    if ((cs_sel & 0xfffc) == 0) raise(kGp, ext);
    uint64_t d = read_descriptor(cs_sel, kGp);
    hv::Segment cs = descriptor_to_segment(cs_sel, d);
    if (!cs.s || !(cs.type & 8) || cs.dpl > cpl) raise(kGp, (cs_sel & 0xfffc) + ext);
    if (!cs.present) raise(kNp, (cs_sel & 0xfffc) + ext);
    if (long_mode && (!cs.l || cs.db)) raise(kGp, (cs_sel & 0xfffc) + ext);
    const bool conforming = cs.type & 4;
    const uint8_t new_cpl = conforming ? cpl : cs.dpl;
    if (from_vm86 && (new_cpl != 0 || !(type & 8))) raise(kGp, (cs_sel & 0xfffc) + ext);
    // Faults save RF=1 so the restarted instruction does not re-trigger an instruction breakpoint;
    // #DB, traps, INT n and interrupts save RF as it is (SDM Vol. 3B 18.3.1.1): 0 once an
    // instruction has started (the executor clears it), 1 between an IRET that set it and the
    // next instruction.
    const bool fault = !e.software && !e.external && e.vector != kBp && e.vector != kOfv && e.vector != kDb;
    const uint64_t old_flags = fault ? (rflags | kRf) : rflags;
    const uint64_t old_cs = seg[kCs].selector, old_ss = seg[kSs].selector, old_sp = gpr[hv::RSP];

    if (long_mode) {
        // 64-bit frame: SS, RSP, RFLAGS, CS, RIP (+ error code), on an aligned stack (SDM 6.14.2).
        const unsigned ist = static_cast<unsigned>((gate[0] >> 32) & 7);
        uint64_t sp = old_sp;
        if (ist || new_cpl < cpl) {
            uint64_t off = ist ? 0x24 + (ist - 1) * 8 : 4 + uint64_t{new_cpl} * 8;
            if (tr.limit < off + 7) raise(kTs, (tr.selector & 0xfffc) + ext);
            read_sys(tr.base + off, &sp, 8);
        }
        sp &= ~0xfULL;
        uint64_t vals[6] = {old_ss, old_sp, old_flags, old_cs, e.return_rip, e.error};
        int n = e.has_error ? 6 : 5;
        uint64_t new_sp = push_frame(*this, 0, sp, ~0ULL, vals, n, 8, new_cpl < 3);
        if (new_cpl < cpl) {
            seg[kSs] = hv::Segment{};
            seg[kSs].selector = new_cpl;
            seg[kSs].unusable = true;
            seg[kSs].dpl = new_cpl;
        }
        load_code_segment(*this, cs_sel, d, new_cpl);
        gpr[hv::RSP] = new_sp;
        rip = target;
    } else {
        const unsigned size = (type & 8) ? 4 : 2;
        uint64_t ss_base = seg[kSs].base, sp = old_sp, mask = stack_mask();
        hv::Segment new_ss = seg[kSs];
        bool outer = new_cpl < cpl;
        if (outer) {
            // Inner stack from the 32-bit TSS (SDM Vol. 3A 7.2.1 figure 7-2).
            uint64_t off = 4 + uint64_t{new_cpl} * 8;
            if (tr.limit < off + 5) raise(kTs, (tr.selector & 0xfffc) + ext);
            uint32_t esp;
            uint16_t ss_sel;
            read_sys(tr.base + off, &esp, 4);
            read_sys(tr.base + off + 4, &ss_sel, 2);
            if ((ss_sel & 0xfffc) == 0 || (ss_sel & 3) != new_cpl) raise(kTs, (ss_sel & 0xfffc) + ext);
            uint64_t sd = read_descriptor(ss_sel, kTs);
            new_ss = descriptor_to_segment(ss_sel, sd);
            if (!new_ss.s || (new_ss.type & 8) || !(new_ss.type & 2) || new_ss.dpl != new_cpl) raise(kTs, (ss_sel & 0xfffc) + ext);
            if (!new_ss.present) raise(kSsf, (ss_sel & 0xfffc) + ext);
            set_accessed(ss_sel, sd);
            ss_base = new_ss.base;
            sp = esp;
            mask = new_ss.db ? 0xffffffffULL : 0xffffULL;
        }
        uint64_t vals[10];
        int n = 0;
        if (from_vm86) for (int s : {kGs, kFs, kDs, kEs}) vals[n++] = seg[s].selector;
        if (outer) { vals[n++] = old_ss; vals[n++] = old_sp; }
        vals[n++] = old_flags;
        vals[n++] = old_cs;
        vals[n++] = e.return_rip;
        if (e.has_error) vals[n++] = e.error;
        uint64_t new_sp = push_frame(*this, ss_base, sp & mask, mask, vals, n, size, new_cpl < 3);
        if (outer) seg[kSs] = new_ss;
        rflags &= ~kVm;   // descriptor semantics from here on (the handler's segments)
        if (from_vm86) {
            for (int s : {kGs, kFs, kDs, kEs}) {
                seg[s] = hv::Segment{};
                seg[s].unusable = true;
                seg[s].present = false;
            }
        }
        load_code_segment(*this, cs_sel, d, new_cpl);
        gpr[hv::RSP] = (gpr[hv::RSP] & ~mask) | new_sp;
        rip = size == 2 ? (target & 0xffff) : (target & 0xffffffffULL);
    }
    rflags &= ~(kTf | kNt | kRf | kVm);
    if (!trap) rflags &= ~kIf;
    interrupt_shadow = false;
}

void iret(Cpu& c, const Insn& i) {
    const unsigned n = i.osize;
    if (!(c.cr0 & hv::kCr0Pe)) {
        uint64_t ip = c.peek(n, 0), cs = c.peek(n, n), fl = c.peek(n, 2 * n);
        c.pop(n); c.pop(n); c.pop(n);
        c.nmi_blocked = false;   // IRET ends NMI blocking (SDM Vol. 3A 6.7.1)
        c.budget = 0;            // a held NMI is taken before the next instruction
        c.load_real_segment(kCs, static_cast<uint16_t>(cs));
        write_flags(c, fl, n);
        c.next_rip = ip;
        c.brk = true;
        return;
    }
    if (c.rflags & kVm) unsupported(c, "IRET in virtual-8086 mode");
    if ((c.rflags & kNt) && !c.long_mode) {
        iret_to_task(c);   // return to the linked task (SDM Vol. 2A IRET "TASK-RETURN")
        return;
    }
    uint64_t new_ip = c.peek(n, 0), cs_v = c.peek(n, n), fl = c.peek(n, 2 * n);
    const uint16_t cs_sel = static_cast<uint16_t>(cs_v);
    if (!c.long_mode && (fl & kVm) && c.cpl == 0) unsupported(c, "IRET to virtual-8086 mode");
    const uint8_t rpl = cs_sel & 3;
    if ((cs_sel & 0xfffc) == 0) c.raise(kGp, 0);
    if (rpl < c.cpl) c.raise(kGp, cs_sel & 0xfffc);
    uint64_t d = c.read_descriptor(cs_sel, kGp);
    hv::Segment cs = c.descriptor_to_segment(cs_sel, d);
    if (!cs.s || !(cs.type & 8)) c.raise(kGp, cs_sel & 0xfffc);
    if ((cs.type & 4) ? cs.dpl > rpl : cs.dpl != rpl) c.raise(kGp, cs_sel & 0xfffc);
    if (!cs.present) c.raise(kNp, cs_sel & 0xfffc);
    if (c.long_mode && cs.l && cs.db) c.raise(kGp, cs_sel & 0xfffc);

    // In 64-bit mode IRET always pops SS:RSP; elsewhere only on a return to an outer level.
    const bool pop_stack = c.mode64 || rpl > c.cpl;
    uint64_t new_sp = 0;
    uint16_t ss_sel = 0;
    hv::Segment ss;
    uint64_t ss_d = 0;
    if (pop_stack) {
        new_sp = c.peek(n, 3 * n);
        ss_sel = static_cast<uint16_t>(c.peek(n, 4 * n));
        if ((ss_sel & 0xfffc) == 0) {
            if (!(c.long_mode && cs.l && rpl < 3)) c.raise(kGp, 0);
        } else {
            if ((ss_sel & 3) != rpl) c.raise(kGp, ss_sel & 0xfffc);
            ss_d = c.read_descriptor(ss_sel, kGp);
            ss = c.descriptor_to_segment(ss_sel, ss_d);
            if (!ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != rpl) c.raise(kGp, ss_sel & 0xfffc);
            if (!ss.present) c.raise(kSsf, ss_sel & 0xfffc);
        }
    }
    if (c.long_mode && cs.l && static_cast<uint64_t>(static_cast<int64_t>(new_ip << 16) >> 16) != new_ip)
        c.raise(kGp, 0);   // non-canonical return RIP (SDM Vol. 2A IRET)
    // All checks passed: commit. Flags follow the old CPL's rules (SDM IRET pseudo-code).
    const uint8_t old_cpl = c.cpl;
    c.nmi_blocked = false;   // IRET ends NMI blocking (SDM Vol. 3A 6.7.1); budget = 0 below takes a held one
    write_flags(c, fl, n);
    // IRETD/IRETQ load RF (SDM Vol. 3B 18.3.1.1): a #DB handler sets it in the frame so the
    // instruction at its breakpoint runs once without faulting again.
    if (n >= 4) c.rflags |= fl & kRf;
    if (old_cpl == 0 && n >= 4) c.rflags = (c.rflags & ~(kVif | kVip)) | (fl & (kVif | kVip));
    load_code_segment(c, cs_sel, d, rpl);
    if (pop_stack) {
        if ((ss_sel & 0xfffc) == 0) {
            c.seg[kSs] = hv::Segment{};
            c.seg[kSs].selector = ss_sel;
            c.seg[kSs].unusable = true;
            c.seg[kSs].dpl = rpl;
        } else {
            c.set_accessed(ss_sel, ss_d);
            c.seg[kSs] = ss;
        }
        c.gpr[hv::RSP] = c.mode64 || n == 8 ? new_sp : ss.db ? (new_sp & 0xffffffffULL)
                                                               : ((c.gpr[hv::RSP] & ~0xffffULL) | (new_sp & 0xffff));
        if (rpl > old_cpl) {
            // Segments the outer level may not use are nulled (SDM Vol. 2A IRET "RETURN-TO-OUTER").
            for (int s : {kEs, kDs, kFs, kGs}) {
                const hv::Segment& sg = c.seg[s];
                bool conforming_code = (sg.type & 8) && (sg.type & 4);
                if (!sg.unusable && sg.s && !conforming_code && sg.dpl < rpl) {
                    c.seg[s].selector = 0;
                    c.seg[s].unusable = true;
                    c.seg[s].present = false;
                }
            }
        }
    } else {
        const uint64_t mask = c.stack_mask();
        c.gpr[hv::RSP] = (c.gpr[hv::RSP] & ~mask) | ((c.gpr[hv::RSP] + 3 * n) & mask);
    }
    c.next_rip = c.mode64 ? new_ip : n == 2 ? (new_ip & 0xffff) : (new_ip & 0xffffffffULL);
    c.brk = true;
    c.budget = 0;
}

}  // namespace popek::emu
