/// System instructions: MOV CR/DR, LGDT LIDT SGDT SIDT LLDT SLDT LTR STR, SMSW LMSW CLTS, INVLPG,
/// WBINVD INVD, RDMSR WRMSR, CPUID, RDTSC RDTSCP, HLT, CLI STI (SDM Vol. 2, Vol. 3A 2.5, 2.8).
#include "emu/interp/families.h"
#include "emu/irqchip/cpu_interrupts.h"

namespace popek::emu {

void cpuid_leaf(Cpu& c, uint32_t leaf, uint32_t sub, uint32_t out[4]);   // cpuid.cpp

namespace {

bool is_canonical(uint64_t v) { return static_cast<uint64_t>(static_cast<int64_t>(v << 16) >> 16) == v; }

void mov_from_cr(Cpu& c, const Insn& i) {
    c.require_cpl0();
    uint64_t v;
    switch (i.extra) {
        case 0: v = c.cr0; break;
        case 2: v = c.cr2; break;
        case 3: v = c.cr3; break;
        case 4: v = c.cr4; break;
        default: v = c.interrupts() ? c.interrupts()->cr8() : 0; break;
    }
    if (c.mode64) c.gpr[i.r0] = v;
    else c.set_reg<uint32_t>(i.r0, static_cast<uint32_t>(v));
}

void mov_to_cr(Cpu& c, const Insn& i) {
    c.require_cpl0();
    uint64_t v = c.mode64 ? c.gpr[i.r1] : (c.gpr[i.r1] & 0xffffffffULL);
    switch (i.extra) {
        case 0: c.write_cr0(v); break;
        case 2: c.cr2 = v; break;
        case 3: c.write_cr3(v); break;
        case 4: c.write_cr4(v); break;
        default:
            if (v >> 4) c.raise(kGp, 0);
            if (c.interrupts()) c.interrupts()->set_cr8(v);
            c.budget = 0;
            break;
    }
    c.brk = true;
}

/// DR7.GD (SDM Vol. 3B 18.2.4): any MOV DR is a #DB fault with DR6.BD; GD is cleared on entry.
void general_detect(Cpu& c) {
    if (!(c.dr[7] & kDr7Gd)) return;
    c.dr[6] |= kDr6Bd;
    c.dr[7] &= ~kDr7Gd;
    c.update_debug();
    c.raise(kDb);
}

void mov_from_dr(Cpu& c, const Insn& i) {
    c.require_cpl0();
    general_detect(c);
    unsigned n = i.extra;
    if ((n == 4 || n == 5) && (c.cr4 & (1u << 3))) c.raise(kUd);
    if (n == 4 || n == 5) n += 2;
    if (c.mode64) c.gpr[i.r0] = c.dr[n];
    else c.set_reg<uint32_t>(i.r0, static_cast<uint32_t>(c.dr[n]));
}

void mov_to_dr(Cpu& c, const Insn& i) {
    c.require_cpl0();
    general_detect(c);
    unsigned n = i.extra;
    if ((n == 4 || n == 5) && (c.cr4 & (1u << 3))) c.raise(kUd);
    if (n == 4 || n == 5) n += 2;
    uint64_t v = c.mode64 ? c.gpr[i.r1] : (c.gpr[i.r1] & 0xffffffffULL);
    if ((n == 6 || n == 7) && (v >> 32)) c.raise(kGp, 0);
    // DR6/DR7 reserved bits read as 1 (DR6 15:12 as 0, bit 11 BLD and 16 RTM as 1), DR7 bit 10
    // as 1 and bits 12, 14, 15 as 0 (SDM Vol. 3B 18.2.3, 18.2.4). A DR0-DR3/DR7 write re-arms the
    // breakpoints and ends the block: the next instruction is checked.
    c.dr[n] = n == 6 ? (v | 0xffff0ff0ULL) : n == 7 ? ((v | 0x400) & ~0xd000ULL) : v;
    if (n != 6) c.update_debug();
    c.brk = true;
}

/// LGDT/LIDT: limit (2 bytes) then base (3 bytes with 16-bit operands, 4, or 8 in 64-bit mode).
void load_table(Cpu& c, const Insn& i, hv::DescriptorTable& t) {
    c.require_cpl0();
    uint64_t ea = effective_address(c, i);
    uint16_t limit = c.read<uint16_t>(i.seg, ea);
    uint64_t base = c.mode64 ? c.read<uint64_t>(i.seg, (ea + 2) & addr_mask(i.asize))
                             : c.read<uint32_t>(i.seg, (ea + 2) & addr_mask(i.asize));
    if (!c.mode64 && i.osize == 2) base &= 0xffffff;
    if (c.mode64 && !is_canonical(base)) c.raise(kGp, 0);   // SDM Vol. 2A LGDT/LIDT, 64-bit mode
    t = hv::DescriptorTable{base, limit};
}
void lgdt(Cpu& c, const Insn& i) { load_table(c, i, c.gdt); }
void lidt(Cpu& c, const Insn& i) { load_table(c, i, c.idt); }

/// UMIP (SDM Vol. 3A 2.5 CR4.UMIP): the descriptor-table and MSW stores are #GP(0) at CPL > 0.
void check_umip(Cpu& c) {
    if ((c.cr4 & kCr4Umip) && c.cpl > 0) c.raise(kGp, 0);
}

void store_table(Cpu& c, const Insn& i, const hv::DescriptorTable& t) {
    check_umip(c);
    uint64_t ea = effective_address(c, i);
    uint64_t la0 = c.linear(i.seg, ea, c.mode64 ? 10 : 6, Access::Write);
    (void)la0;
    c.write<uint16_t>(i.seg, ea, t.limit);
    if (c.mode64) c.write<uint64_t>(i.seg, (ea + 2) & addr_mask(i.asize), t.base);
    else c.write<uint32_t>(i.seg, (ea + 2) & addr_mask(i.asize), static_cast<uint32_t>(t.base));
}
void sgdt(Cpu& c, const Insn& i) { store_table(c, i, c.gdt); }
void sidt(Cpu& c, const Insn& i) { store_table(c, i, c.idt); }

uint16_t selector_operand(Cpu& c, const Insn& i) {
    return i.k0 == kOpReg ? c.reg<uint16_t>(i.r0) : read_mem<uint16_t>(c, i);
}

void store_selector(Cpu& c, const Insn& i, uint16_t sel) {
    if (i.k0 == kOpReg) {
        if (i.osize == 2) c.set_reg<uint16_t>(i.r0, sel);
        else c.set_reg<uint32_t>(i.r0, sel);
    } else {
        write_mem<uint16_t>(c, i, sel);
    }
}

void require_protected(Cpu& c) {
    if (!(c.cr0 & hv::kCr0Pe) || (c.rflags & kVm)) c.raise(kUd);
}

void lldt(Cpu& c, const Insn& i) {
    require_protected(c);
    c.require_cpl0();
    uint16_t sel = selector_operand(c, i);
    if ((sel & 0xfffc) == 0) {
        c.ldtr = hv::Segment{};
        c.ldtr.selector = sel;
        c.ldtr.unusable = true;
        return;
    }
    if (sel & 4) c.raise(kGp, sel & 0xfffc);
    uint64_t d = c.read_descriptor(sel, kGp);
    uint64_t hi = 0;
    if (c.long_mode) c.read_sys(c.gdt.base + (sel & 0xfff8u) + 8, &hi, 8);
    hv::Segment s = c.descriptor_to_segment(sel, d, hi);
    if (s.s || s.type != 2) c.raise(kGp, sel & 0xfffc);
    if (!s.present) c.raise(kNp, sel & 0xfffc);
    if (c.long_mode && !is_canonical(s.base)) c.raise(kGp, sel & 0xfffc);   // SDM Vol. 2A LLDT
    c.ldtr = s;
}

void ltr(Cpu& c, const Insn& i) {
    require_protected(c);
    c.require_cpl0();
    uint16_t sel = selector_operand(c, i);
    if ((sel & 0xfffc) == 0 || (sel & 4)) c.raise(kGp, sel & 0xfffc);
    uint64_t d = c.read_descriptor(sel, kGp);
    uint64_t hi = 0;
    if (c.long_mode) c.read_sys(c.gdt.base + (sel & 0xfff8u) + 8, &hi, 8);
    hv::Segment s = c.descriptor_to_segment(sel, d, hi);
    bool available = c.long_mode ? s.type == 9 : (s.type == 9 || s.type == 1);
    if (s.s || !available) c.raise(kGp, sel & 0xfffc);
    if (!s.present) c.raise(kNp, sel & 0xfffc);
    if (c.long_mode && !is_canonical(s.base)) c.raise(kGp, sel & 0xfffc);   // SDM Vol. 2A LTR
    // Mark the TSS busy in the GDT (SDM Vol. 3A 7.2.4).
    uint8_t type_byte = static_cast<uint8_t>(((d >> 40) & 0xff) | 2);
    c.write_sys(c.gdt.base + (sel & 0xfff8u) + 5, &type_byte, 1);
    s.type |= 2;
    c.tr = s;
}

void sldt(Cpu& c, const Insn& i) {
    require_protected(c);
    check_umip(c);
    store_selector(c, i, c.ldtr.selector);
}
void str(Cpu& c, const Insn& i) {
    require_protected(c);
    check_umip(c);
    store_selector(c, i, c.tr.selector);
}

void smsw(Cpu& c, const Insn& i) {
    check_umip(c);
    if (i.k0 == kOpReg && i.osize > 2) {
        if (i.osize == 8) c.gpr[i.r0] = c.cr0;
        else c.set_reg<uint32_t>(i.r0, static_cast<uint32_t>(c.cr0));
    } else {
        store_selector(c, i, static_cast<uint16_t>(c.cr0));
    }
}

void lmsw(Cpu& c, const Insn& i) {
    c.require_cpl0();
    uint16_t v = selector_operand(c, i);
    // Only PE MP EM TS; PE cannot be cleared (SDM Vol. 2A LMSW).
    uint64_t cr0 = (c.cr0 & ~0xeULL) | (v & 0xf) | (c.cr0 & 1);
    c.write_cr0(cr0);
    c.brk = true;
}

void clts(Cpu& c, const Insn&) { c.require_cpl0(); c.cr0 &= ~hv::kCr0Ts; }
void invlpg(Cpu& c, const Insn& i) {
    c.require_cpl0();
    // INVLPG accesses no memory: no segment limit or null-selector check, and in 64-bit mode a
    // non-canonical address does nothing (SDM Vol. 2A INVLPG: only CPL > 0 faults).
    uint64_t ea = effective_address(c, i);
    c.brk = true;
    if (c.mode64) {
        uint64_t la = ea + ((i.seg == kFs || i.seg == kGs) ? c.seg[i.seg].base : 0);
        if (is_canonical(la)) c.flush_tlb_page(la);
        return;
    }
    c.flush_tlb_page((c.seg[i.seg].base + ea) & 0xffffffffULL);
}
void wbinvd(Cpu& c, const Insn&) { c.require_cpl0(); }

void rdmsr(Cpu& c, const Insn&) {
    c.require_cpl0();
    uint64_t v = c.read_msr(static_cast<uint32_t>(c.gpr[hv::RCX]));
    c.set_reg<uint32_t>(hv::RAX, static_cast<uint32_t>(v));
    c.set_reg<uint32_t>(hv::RDX, static_cast<uint32_t>(v >> 32));
}

void wrmsr(Cpu& c, const Insn&) {
    c.require_cpl0();
    uint64_t v = (c.gpr[hv::RAX] & 0xffffffffULL) | (c.gpr[hv::RDX] << 32);
    c.write_msr(static_cast<uint32_t>(c.gpr[hv::RCX]), v);
    c.brk = true;
    c.budget = 0;
}

void cpuid(Cpu& c, const Insn&) {
    /// CPUID faulting (MSR_MISC_FEATURES_ENABLES bit 0): #GP(0) outside ring 0.
    if ((c.misc_features_enables & kMiscCpuidFaulting) && c.cpl > 0) c.raise(kGp, 0);
    uint32_t out[4];
    cpuid_leaf(c, static_cast<uint32_t>(c.gpr[hv::RAX]), static_cast<uint32_t>(c.gpr[hv::RCX]), out);
    c.set_reg<uint32_t>(hv::RAX, out[0]);
    c.set_reg<uint32_t>(hv::RBX, out[1]);
    c.set_reg<uint32_t>(hv::RCX, out[2]);
    c.set_reg<uint32_t>(hv::RDX, out[3]);
}

void rdtsc(Cpu& c, const Insn& i) {
    if ((c.cr4 & (1u << 2)) && c.cpl != 0 && (c.cr0 & hv::kCr0Pe)) c.raise(kGp, 0);
    uint64_t t = c.tsc();
    c.set_reg<uint32_t>(hv::RAX, static_cast<uint32_t>(t));
    c.set_reg<uint32_t>(hv::RDX, static_cast<uint32_t>(t >> 32));
    if (i.extra) c.set_reg<uint32_t>(hv::RCX, static_cast<uint32_t>(c.tsc_aux));
}

void hlt(Cpu& c, const Insn&) {
    c.require_cpl0();
    c.halted = true;
    c.brk = true;
}

void cli(Cpu& c, const Insn&) {
    if ((c.cr0 & hv::kCr0Pe) && c.cpl > ((c.rflags & kIopl) >> 12)) c.raise(kGp, 0);
    c.rflags &= ~kIf;
}

void sti(Cpu& c, const Insn&) {
    if ((c.cr0 & hv::kCr0Pe) && c.cpl > ((c.rflags & kIopl) >> 12)) c.raise(kGp, 0);
    if (c.rflags & kIf) return;
    c.rflags |= kIf;
    c.begin_interrupt_shadow();
    // The shadow matters to an interrupt that can be taken as soon as it ends: one pending now
    // (kept waiting by IF=0). Then the run ends here, the next instruction runs alone and the
    // interrupt is taken right after it (executor.cpp). Otherwise the block goes on: an event
    // arriving later raises `attention` and is taken at a block boundary, never one inside the
    // shadow (the dispatcher retires the shadow only once the next instruction ran). A
    // deterministic run (record/replay) always takes the first way: its poll points must not
    // depend on what is pending.
    CpuInterrupts* ints = c.interrupts();
    if (c.deterministic || !ints || ints->interrupt_pending()) {
        c.budget = 0;
        c.brk = true;
    }
}

int control_register(const DecodeView& d) {
    for (unsigned n = 0; n < 2; ++n)
        if (d.ops[n].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(d.ops[n].reg.value) == ZYDIS_REGCLASS_CONTROL)
            return d.ops[n].reg.value - ZYDIS_REGISTER_CR0;
    return -1;
}

/// VMCALL / VMMCALL: the personality's (a Xen hypercall under --xen), else a KVM hypercall (Linux
/// Documentation/virt/kvm/x86/hypercalls.rst), as on a VMM that answers them in a VM exit (SDM
/// Vol. 3C 25.1.3; AMD APM Vol. 2 15.11): the instruction never #UDs in a guest.
void vmcall(Cpu& c, const Insn&) {
    if (CpuHooks* h = c.hooks(); h && h->vmcall(c)) return;
    c.kvm_vmcall();
}

Handler fixed(Handler h) { return h; }

}  // namespace

Handler select_mov_cr(const DecodeView& d, Insn& i) {
    int cr = control_register(d);
    if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8) return nullptr;
    i.extra = static_cast<uint8_t>(cr);
    i.cls = kClsPrivileged | kClsSensitive;
    return i.k0 == kOpReg && ZydisRegisterGetClass(d.ops[0].reg.value) == ZYDIS_REGCLASS_CONTROL ? mov_to_cr : mov_from_cr;
}

Handler select_mov_dr(const DecodeView& d, Insn& i) {
    bool to_dr = ZydisRegisterGetClass(d.ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG;
    i.extra = static_cast<uint8_t>((to_dr ? d.ops[0].reg.value : d.ops[1].reg.value) - ZYDIS_REGISTER_DR0);
    return to_dr ? mov_to_dr : mov_from_dr;
}

void register_system(HandlerTable& t) {
    constexpr uint8_t kPriv = kClsPrivileged | kClsSensitive;
    t.add(ZYDIS_MNEMONIC_LGDT, [](const DecodeView&, Insn&) { return fixed(lgdt); }, kPriv);
    t.add(ZYDIS_MNEMONIC_LIDT, [](const DecodeView&, Insn&) { return fixed(lidt); }, kPriv);
    t.add(ZYDIS_MNEMONIC_SGDT, [](const DecodeView&, Insn&) { return fixed(sgdt); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_SIDT, [](const DecodeView&, Insn&) { return fixed(sidt); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_LLDT, [](const DecodeView&, Insn&) { return fixed(lldt); }, kPriv);
    t.add(ZYDIS_MNEMONIC_SLDT, [](const DecodeView&, Insn&) { return fixed(sldt); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_LTR, [](const DecodeView&, Insn&) { return fixed(ltr); }, kPriv);
    t.add(ZYDIS_MNEMONIC_STR, [](const DecodeView&, Insn&) { return fixed(str); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_SMSW, [](const DecodeView&, Insn&) { return fixed(smsw); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_LMSW, [](const DecodeView&, Insn&) { return fixed(lmsw); }, kPriv);
    t.add(ZYDIS_MNEMONIC_CLTS, [](const DecodeView&, Insn&) { return fixed(clts); }, kPriv);
    t.add(ZYDIS_MNEMONIC_INVLPG, [](const DecodeView&, Insn&) { return fixed(invlpg); }, kPriv);
    t.add(ZYDIS_MNEMONIC_WBINVD, [](const DecodeView&, Insn&) { return fixed(wbinvd); }, kPriv);
    t.add(ZYDIS_MNEMONIC_INVD, [](const DecodeView&, Insn&) { return fixed(wbinvd); }, kPriv);
    t.add(ZYDIS_MNEMONIC_RDMSR, [](const DecodeView&, Insn&) { return fixed(rdmsr); }, kPriv);
    t.add(ZYDIS_MNEMONIC_WRMSR, [](const DecodeView&, Insn&) { return fixed(wrmsr); }, kPriv);
    t.add(ZYDIS_MNEMONIC_CPUID, [](const DecodeView&, Insn&) { return fixed(cpuid); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_RDTSC, [](const DecodeView&, Insn& i) { i.extra = 0; return fixed(rdtsc); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_RDTSCP, [](const DecodeView&, Insn& i) { i.extra = 1; return fixed(rdtsc); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_HLT, [](const DecodeView&, Insn&) { return fixed(hlt); }, kPriv);
    t.add(ZYDIS_MNEMONIC_CLI, [](const DecodeView&, Insn&) { return fixed(cli); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_STI, [](const DecodeView&, Insn&) { return fixed(sti); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_VMCALL, [](const DecodeView&, Insn&) { return fixed(vmcall); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_VMMCALL, [](const DecodeView&, Insn&) { return fixed(vmcall); }, kClsSensitive);
}

}  // namespace popek::emu
