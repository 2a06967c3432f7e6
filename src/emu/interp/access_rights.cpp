/// The instructions of SMAP and protection keys: STAC/CLAC (SDM Vol. 2B STAC, Vol. 2A CLAC) and
/// RDPKRU/WRPKRU (Vol. 2B). The rights they govern are checked by the page walk
/// (emu/mmu/page_walk.cpp, SDM Vol. 3A 4.6); the TLB class AC selects is Cpu::update_tlb_class.
#include "emu/interp/families.h"

namespace popek::emu {
namespace {

/// STAC/CLAC: #UD at CPL > 0 (and in virtual-8086 mode), or when CPUID does not report SMAP
/// (it always does here). They only switch the TLB class: no flush (emu/mmu/mmu.h TlbClass).
void set_ac(Cpu& c, bool on) {
    if (c.cpl > 0 || (c.rflags & kVm)) c.raise(kUd);
    c.rflags = on ? (c.rflags | kAc) : (c.rflags & ~kAc);
    c.update_tlb_class();
}

void stac(Cpu& c, const Insn&) { set_ac(c, true); }
void clac(Cpu& c, const Insn&) { set_ac(c, false); }

/// RDPKRU: #UD without CR4.PKE, #GP(0) when ECX != 0; EDX:EAX = 0:PKRU.
void rdpkru(Cpu& c, const Insn&) {
    if (!(c.cr4 & hv::kCr4Pke)) c.raise(kUd);
    if (static_cast<uint32_t>(c.gpr[hv::RCX]) != 0) c.raise(kGp, 0);
    c.gpr[hv::RAX] = c.pkru;
    c.gpr[hv::RDX] = 0;
}

/// WRPKRU: #UD without CR4.PKE, #GP(0) unless ECX = EDX = 0; PKRU = EAX. Cached translations
/// hold the rights the old value gave, so all of them go (WRPKRU is rare in kernels).
void wrpkru(Cpu& c, const Insn&) {
    if (!(c.cr4 & hv::kCr4Pke)) c.raise(kUd);
    if (static_cast<uint32_t>(c.gpr[hv::RCX]) != 0 || static_cast<uint32_t>(c.gpr[hv::RDX]) != 0) c.raise(kGp, 0);
    const auto v = static_cast<uint32_t>(c.gpr[hv::RAX]);
    if (v != c.pkru) {
        c.pkru = v;
        c.flush_tlb();
    }
    c.brk = true;   // the block's later accesses see the new rights
}

Handler fixed(Handler h) { return h; }

}  // namespace

void register_access_rights(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_STAC, [](const DecodeView&, Insn&) { return fixed(stac); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_CLAC, [](const DecodeView&, Insn&) { return fixed(clac); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_RDPKRU, [](const DecodeView&, Insn&) { return fixed(rdpkru); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_WRPKRU, [](const DecodeView&, Insn&) { return fixed(wrpkru); }, kClsSensitive);
}

}  // namespace popek::emu
