#include "pv/vcpu_context.h"

namespace popek::pv {
namespace {

// Segment attributes as Xen packs them (struct segment_register's attr, VMCS access-rights
// order): type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, D/B 10, G 11, bits 15:12 must be zero.
constexpr uint16_t kAttrS = 1u << 4, kAttrP = 1u << 7;
constexpr uint8_t kTypeCode = 0x8, kTypeWritableOrReadable = 0x2;
constexpr uint8_t kTypeBusyTss = 0xb;   // SYS_DESC_tss_busy
constexpr uint64_t kEflagsAll = 0x3f7fd5, kEflagsMbs = 0x2;
// CR4 bits an HVM guest may hold (Xen: hvm_cr4_guest_valid_bits, on a CPU with these features):
// VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT UMIP LA57 FSGSBASE PCIDE OSXSAVE SMEP SMAP.
constexpr uint64_t kCr4Valid = 0x1fffull | (1ull << 16) | (1ull << 17) | (1ull << 18) | (1ull << 20) | (1ull << 21);
constexpr uint64_t kEferValid = hv::kEferSce | hv::kEferLme | hv::kEferLma | hv::kEferNxe;

enum class Seg { Cs, Ds, Ss, Es, Tr };

hv::Segment from_attr(uint64_t base, uint32_t limit, uint16_t ar) {
    hv::Segment s;
    s.base = base;
    s.limit = limit;   // byte granular, as Xen loads it into the VMCS
    s.selector = 0;
    s.type = static_cast<uint8_t>(ar & 0xf);
    s.s = ar & kAttrS;
    s.dpl = static_cast<uint8_t>((ar >> 5) & 3);
    s.present = ar & kAttrP;
    s.avl = ar & (1u << 8);
    s.l = ar & (1u << 9);
    s.db = ar & (1u << 10);
    s.g = ar & (1u << 11);
    s.unusable = ar == 0;
    return s;
}

// Xen's check_segment, after the accessed (busy for TR) bit was set on a present segment.
PvResult<void> check_segment(const hv::Segment& s, uint16_t ar, Seg which) {
    if (ar & 0xf000) return pv_error(EINVAL);
    if (ar == 0) return which == Seg::Ds || which == Seg::Es ? PvResult<void>{} : pv_error(EINVAL);
    if (which == Seg::Tr) {
        if (s.s || s.type != kTypeBusyTss) return pv_error(EINVAL);
    } else if (!s.s) {
        return pv_error(EINVAL);
    }
    if (!s.present) return pv_error(EINVAL);
    switch (which) {
    case Seg::Cs:
        if (!(s.type & kTypeCode)) return pv_error(EINVAL);
        break;
    case Seg::Ss:
        if ((s.type & kTypeCode) || !(s.type & kTypeWritableOrReadable)) return pv_error(EINVAL);
        break;
    case Seg::Ds:
    case Seg::Es:
        if ((s.type & kTypeCode) && !(s.type & kTypeWritableOrReadable)) return pv_error(EINVAL);
        break;
    case Seg::Tr: break;
    }
    return {};
}

PvResult<hv::Segment> segment(uint32_t base, uint32_t limit, uint16_t ar, Seg which) {
    hv::Segment s = from_attr(base, limit, ar);
    if (s.present) s.type |= which == Seg::Tr ? 2 : 1;
    TRY_VOID(check_segment(s, ar, which));
    return s;
}

bool canonical(uint64_t a) { return static_cast<uint64_t>(static_cast<int64_t>(a << 16) >> 16) == a; }

PvResult<void> from_32(const vcpu_hvm_x86_32& r, hv::CpuState& st) {
    if (r.pad1 != 0 || r.pad2[0] != 0 || r.pad2[1] != 0 || r.pad2[2] != 0) return pv_error(EINVAL);
    st.cs = TRY(segment(r.cs_base, r.cs_limit, r.cs_ar, Seg::Cs));
    st.ds = TRY(segment(r.ds_base, r.ds_limit, r.ds_ar, Seg::Ds));
    st.ss = TRY(segment(r.ss_base, r.ss_limit, r.ss_ar, Seg::Ss));
    st.es = TRY(segment(r.es_base, r.es_limit, r.es_ar, Seg::Es));
    st.tr = TRY(segment(r.tr_base, r.tr_limit, r.tr_ar, Seg::Tr));
    // Xen compares EIP with the limit shifted again when G is set (a 32-bit quirk kept here).
    uint32_t limit = st.cs.limit;
    if (st.cs.g) limit = (limit << 12) | 0xfff;
    if (r.eip > limit) return pv_error(EINVAL);
    if (st.ss.dpl != st.cs.dpl) return pv_error(EINVAL);
    if (st.ds.present && st.ds.dpl > st.cs.dpl) return pv_error(EINVAL);
    if (st.es.present && st.es.dpl > st.cs.dpl) return pv_error(EINVAL);
    if ((r.efer & hv::kEferLma) && !(r.efer & hv::kEferLme)) return pv_error(EINVAL);
    st.gpr[hv::RAX] = r.eax, st.gpr[hv::RCX] = r.ecx, st.gpr[hv::RDX] = r.edx, st.gpr[hv::RBX] = r.ebx;
    st.gpr[hv::RSP] = r.esp, st.gpr[hv::RBP] = r.ebp, st.gpr[hv::RSI] = r.esi, st.gpr[hv::RDI] = r.edi;
    st.rip = r.eip;
    st.rflags = (r.eflags & kEflagsAll) | kEflagsMbs;
    st.cr0 = r.cr0, st.cr3 = r.cr3, st.cr4 = r.cr4, st.efer = r.efer;
    return {};
}

PvResult<void> from_64(const vcpu_hvm_x86_64& r, hv::CpuState& st) {
    if (!canonical(r.rip) || !(r.cr0 & hv::kCr0Pg) || !(r.cr4 & hv::kCr4Pae) || !(r.efer & hv::kEferLme))
        return pv_error(EINVAL);
    st.gpr[hv::RAX] = r.rax, st.gpr[hv::RCX] = r.rcx, st.gpr[hv::RDX] = r.rdx, st.gpr[hv::RBX] = r.rbx;
    st.gpr[hv::RSP] = r.rsp, st.gpr[hv::RBP] = r.rbp, st.gpr[hv::RSI] = r.rsi, st.gpr[hv::RDI] = r.rdi;
    st.rip = r.rip;
    st.rflags = (r.rflags & kEflagsAll) | kEflagsMbs;
    st.cr0 = r.cr0, st.cr3 = r.cr3, st.cr4 = r.cr4, st.efer = r.efer;
    // The flat 64-bit segments Xen loads (0xa9b code, 0xc93 data, 0x8b busy TSS).
    st.cs = from_attr(0, ~0u, 0xa9b);
    st.ds = st.ss = st.es = from_attr(0, ~0u, 0xc93);
    st.tr = from_attr(0, 0x67, 0x8b);
    return {};
}

}  // namespace

PvResult<hv::CpuState> hvm_context_to_state(const vcpu_hvm_context_t& ctx) {
    if (ctx.pad != 0) return pv_error(EINVAL);
    hv::CpuState st;   // INIT values for what the context does not name
    switch (ctx.mode) {
    case VCPU_HVM_MODE_32B: TRY_VOID(from_32(ctx.cpu_regs.x86_32, st)); break;
    case VCPU_HVM_MODE_64B: TRY_VOID(from_64(ctx.cpu_regs.x86_64, st)); break;
    default: return pv_error(EINVAL);
    }
    if (st.efer & hv::kEferLme) st.efer |= hv::kEferLma;
    if (st.cr4 & ~kCr4Valid) return pv_error(EINVAL);
    if (st.efer & ~kEferValid) return pv_error(EINVAL);
    // hvm_efer_valid: long mode active needs paging with PAE (a 32-bit context asking for
    // compatibility mode must give them).
    if ((st.efer & hv::kEferLma) && (!(st.cr0 & hv::kCr0Pg) || !(st.cr4 & hv::kCr4Pae))) return pv_error(EINVAL);
    if ((st.cr0 & hv::kCr0Pg) && !(st.cr0 & hv::kCr0Pe)) return pv_error(EINVAL);
    return st;
}

}  // namespace popek::pv
