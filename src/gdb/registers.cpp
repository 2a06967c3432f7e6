#include "gdb/registers.h"

#include <array>
#include <cstring>

#include "emu/cpu.h"

namespace popek::gdb {
namespace {

enum class Kind : uint8_t { Gpr, Rip, Eflags, Seg, St, X87Ctl, Xmm, Mxcsr, FsBase, GsBase, KernelGsBase, Cr, Efer };

struct Reg {
    const char* name;
    unsigned size;
    Kind kind;
    int index;          ///< GPR number, segment, st/xmm number, control register, x87 control word
    const char* type;
    const char* feature;
};

constexpr const char* kCore = "org.gnu.gdb.i386.core";
constexpr const char* kSse = "org.gnu.gdb.i386.sse";
constexpr const char* kSegments = "org.gnu.gdb.i386.segments";
constexpr const char* kSys = "org.popek.x86.sys";

// gdb's amd64 core order (gdb/features/i386/64bit-core.xml): GPRs as numbered by gdb, not by
// the ModRM encoding.
constexpr Reg kRegs[] = {
    {"rax", 8, Kind::Gpr, hv::RAX, "int64", kCore}, {"rbx", 8, Kind::Gpr, hv::RBX, "int64", kCore},
    {"rcx", 8, Kind::Gpr, hv::RCX, "int64", kCore}, {"rdx", 8, Kind::Gpr, hv::RDX, "int64", kCore},
    {"rsi", 8, Kind::Gpr, hv::RSI, "int64", kCore}, {"rdi", 8, Kind::Gpr, hv::RDI, "int64", kCore},
    {"rbp", 8, Kind::Gpr, hv::RBP, "data_ptr", kCore}, {"rsp", 8, Kind::Gpr, hv::RSP, "data_ptr", kCore},
    {"r8", 8, Kind::Gpr, 8, "int64", kCore}, {"r9", 8, Kind::Gpr, 9, "int64", kCore},
    {"r10", 8, Kind::Gpr, 10, "int64", kCore}, {"r11", 8, Kind::Gpr, 11, "int64", kCore},
    {"r12", 8, Kind::Gpr, 12, "int64", kCore}, {"r13", 8, Kind::Gpr, 13, "int64", kCore},
    {"r14", 8, Kind::Gpr, 14, "int64", kCore}, {"r15", 8, Kind::Gpr, 15, "int64", kCore},
    {"rip", 8, Kind::Rip, 0, "code_ptr", kCore}, {"eflags", 4, Kind::Eflags, 0, "i386_eflags", kCore},
    {"cs", 4, Kind::Seg, emu::kCs, "int32", kCore}, {"ss", 4, Kind::Seg, emu::kSs, "int32", kCore},
    {"ds", 4, Kind::Seg, emu::kDs, "int32", kCore}, {"es", 4, Kind::Seg, emu::kEs, "int32", kCore},
    {"fs", 4, Kind::Seg, emu::kFs, "int32", kCore}, {"gs", 4, Kind::Seg, emu::kGs, "int32", kCore},
    {"st0", 10, Kind::St, 0, "i387_ext", kCore}, {"st1", 10, Kind::St, 1, "i387_ext", kCore},
    {"st2", 10, Kind::St, 2, "i387_ext", kCore}, {"st3", 10, Kind::St, 3, "i387_ext", kCore},
    {"st4", 10, Kind::St, 4, "i387_ext", kCore}, {"st5", 10, Kind::St, 5, "i387_ext", kCore},
    {"st6", 10, Kind::St, 6, "i387_ext", kCore}, {"st7", 10, Kind::St, 7, "i387_ext", kCore},
    {"fctrl", 4, Kind::X87Ctl, 0, "int", kCore}, {"fstat", 4, Kind::X87Ctl, 1, "int", kCore},
    {"ftag", 4, Kind::X87Ctl, 2, "int", kCore}, {"fiseg", 4, Kind::X87Ctl, 3, "int", kCore},
    {"fioff", 4, Kind::X87Ctl, 4, "int", kCore}, {"foseg", 4, Kind::X87Ctl, 5, "int", kCore},
    {"fooff", 4, Kind::X87Ctl, 6, "int", kCore}, {"fop", 4, Kind::X87Ctl, 7, "int", kCore},
    {"xmm0", 16, Kind::Xmm, 0, "vec128", kSse}, {"xmm1", 16, Kind::Xmm, 1, "vec128", kSse},
    {"xmm2", 16, Kind::Xmm, 2, "vec128", kSse}, {"xmm3", 16, Kind::Xmm, 3, "vec128", kSse},
    {"xmm4", 16, Kind::Xmm, 4, "vec128", kSse}, {"xmm5", 16, Kind::Xmm, 5, "vec128", kSse},
    {"xmm6", 16, Kind::Xmm, 6, "vec128", kSse}, {"xmm7", 16, Kind::Xmm, 7, "vec128", kSse},
    {"xmm8", 16, Kind::Xmm, 8, "vec128", kSse}, {"xmm9", 16, Kind::Xmm, 9, "vec128", kSse},
    {"xmm10", 16, Kind::Xmm, 10, "vec128", kSse}, {"xmm11", 16, Kind::Xmm, 11, "vec128", kSse},
    {"xmm12", 16, Kind::Xmm, 12, "vec128", kSse}, {"xmm13", 16, Kind::Xmm, 13, "vec128", kSse},
    {"xmm14", 16, Kind::Xmm, 14, "vec128", kSse}, {"xmm15", 16, Kind::Xmm, 15, "vec128", kSse},
    {"mxcsr", 4, Kind::Mxcsr, 0, "i386_mxcsr", kSse},
    {"fs_base", 8, Kind::FsBase, 0, "int64", kSegments}, {"gs_base", 8, Kind::GsBase, 0, "int64", kSegments},
    {"k_gs_base", 8, Kind::KernelGsBase, 0, "int64", kSys},
    {"cr0", 8, Kind::Cr, 0, "int64", kSys}, {"cr2", 8, Kind::Cr, 2, "int64", kSys},
    {"cr3", 8, Kind::Cr, 3, "int64", kSys}, {"cr4", 8, Kind::Cr, 4, "int64", kSys},
    {"efer", 8, Kind::Efer, 0, "int64", kSys},
};
constexpr int kCount = static_cast<int>(std::size(kRegs));

/// Types the core and SSE features use (as gdb's own 64bit-core.xml / 64bit-sse.xml define them).
constexpr const char* kCoreTypes = R"(<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
<field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
<field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
<field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/>
</flags>
)";
constexpr const char* kSseTypes = R"(<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>
<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>
<flags id="i386_mxcsr" size="4">
<field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/>
<field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
<field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/>
<field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
<field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
</flags>
)";

std::string build_xml() {
    std::string x = "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
                    "<architecture>i386:x86-64</architecture>\n";
    const char* open = nullptr;
    for (int n = 0; n < kCount; ++n) {
        const Reg& r = kRegs[n];
        if (open != r.feature) {
            if (open) x += "</feature>\n";
            open = r.feature;
            x += std::string("<feature name=\"") + r.feature + "\">\n";
            if (r.feature == kCore) x += kCoreTypes;
            if (r.feature == kSse) x += kSseTypes;
        }
        x += std::string("<reg name=\"") + r.name + "\" bitsize=\"" + std::to_string(r.size * 8) + "\" type=\"" +
             r.type + "\" regnum=\"" + std::to_string(n) + "\"";
        if (r.feature == kSys) x += " group=\"system\"";
        if (r.kind == Kind::Xmm || r.kind == Kind::Mxcsr) x += " group=\"vector\"";
        x += "/>\n";
    }
    x += "</feature>\n</target>\n";
    return x;
}

/// The full x87 tag word from FXSAVE's abridged one (SDM Vol. 1 10.5.1.1): empty = 11, else 00
/// (valid; the stub does not classify zero/special values).
uint16_t full_tag_word(uint8_t abridged) {
    uint16_t t = 0;
    for (int i = 0; i < 8; ++i)
        if (!(abridged & (1u << i))) t = static_cast<uint16_t>(t | (3u << (2 * i)));
    return t;
}

uint8_t abridged_tag_word(uint16_t full) {
    uint8_t t = 0;
    for (int i = 0; i < 8; ++i)
        if (((full >> (2 * i)) & 3) != 3) t = static_cast<uint8_t>(t | (1u << i));
    return t;
}

void put(std::string& out, uint64_t v, unsigned size) {
    for (unsigned i = 0; i < size; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get(std::string_view b) {
    uint64_t v = 0;
    for (size_t i = 0; i < b.size() && i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
    return v;
}

}  // namespace

int register_count() { return kCount; }

unsigned register_size(int n) { return n >= 0 && n < kCount ? kRegs[n].size : 0; }

const std::string& target_xml() {
    static const std::string xml = build_xml();
    return xml;
}

bool read_register(const emu::Cpu& c, int n, std::string& out) {
    if (n < 0 || n >= kCount) return false;
    const Reg& r = kRegs[n];
    switch (r.kind) {
        case Kind::Gpr: put(out, c.gpr[r.index], 8); break;
        case Kind::Rip: put(out, c.rip, 8); break;
        case Kind::Eflags: put(out, c.rflags, 4); break;
        case Kind::Seg: put(out, c.seg[r.index].selector, 4); break;
        case Kind::St: out.append(reinterpret_cast<const char*>(c.fpu.st[r.index]), 10); break;
        case Kind::X87Ctl: {
            const emu::FxsaveArea& f = c.fpu;
            const uint64_t v[8] = {f.fcw, f.fsw, full_tag_word(f.ftw), 0, f.fip & 0xffffffffULL, 0,
                                   f.fdp & 0xffffffffULL, f.fop};
            put(out, v[r.index], 4);
            break;
        }
        case Kind::Xmm: out.append(reinterpret_cast<const char*>(c.fpu.xmm[r.index]), 16); break;
        case Kind::Mxcsr: put(out, c.fpu.mxcsr, 4); break;
        case Kind::FsBase: put(out, c.seg[emu::kFs].base, 8); break;
        case Kind::GsBase: put(out, c.seg[emu::kGs].base, 8); break;
        case Kind::KernelGsBase: put(out, c.kernel_gs_base, 8); break;
        case Kind::Cr: put(out, r.index == 0 ? c.cr0 : r.index == 2 ? c.cr2 : r.index == 3 ? c.cr3 : c.cr4, 8); break;
        case Kind::Efer: put(out, c.efer, 8); break;
    }
    return true;
}

bool write_register(emu::Cpu& c, int n, std::string_view b) {
    if (n < 0 || n >= kCount || b.size() != kRegs[n].size) return false;
    const Reg& r = kRegs[n];
    const uint64_t v = get(b);
    switch (r.kind) {
        case Kind::Gpr: c.gpr[r.index] = v; return true;
        case Kind::Rip: c.rip = v; return true;
        case Kind::Eflags:
            // The flags a debugger may change; VM, RF, VIF/VIP and reserved bits are kept.
        {
            constexpr uint64_t kWritable = emu::kArithFlags | emu::kTf | emu::kIf | emu::kDf | emu::kIopl |
                                           emu::kNt | emu::kAc | emu::kId;
            c.rflags = (c.rflags & ~kWritable) | (v & kWritable) | 2;
            c.update_tlb_class();   // AC may have changed (SMAP)
            return true;
        }
        case Kind::St: std::memcpy(c.fpu.st[r.index], b.data(), 10); return true;
        case Kind::X87Ctl:
            if (r.index == 0) c.fpu.fcw = static_cast<uint16_t>(v);
            else if (r.index == 1) c.fpu.fsw = static_cast<uint16_t>(v);
            else if (r.index == 2) c.fpu.ftw = abridged_tag_word(static_cast<uint16_t>(v));
            else if (r.index == 7) c.fpu.fop = static_cast<uint16_t>(v & 0x7ff);
            return true;   // the pointer registers are informational
        case Kind::Xmm: std::memcpy(c.fpu.xmm[r.index], b.data(), 16); return true;
        case Kind::Mxcsr:
            if (v & ~uint64_t{c.fpu.mxcsr_mask}) return false;
            c.fpu.mxcsr = static_cast<uint32_t>(v);
            return true;
        case Kind::FsBase: c.seg[emu::kFs].base = v; return true;
        case Kind::GsBase: c.seg[emu::kGs].base = v; return true;
        case Kind::KernelGsBase: c.kernel_gs_base = v; return true;
        case Kind::Seg:
        case Kind::Cr:
        case Kind::Efer: {
            // Not writable, but writing back the current value (a `G` packet) is accepted.
            std::string now;
            read_register(c, n, now);
            return now == b;
        }
    }
    return false;
}

}  // namespace popek::gdb
