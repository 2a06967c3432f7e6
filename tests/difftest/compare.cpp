#include "compare.h"

#include <Zydis/Zydis.h>
#include <fmt/format.h>

namespace popek::difftest {
namespace {

constexpr std::string_view kGprNames[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

std::string flag_letters(uint64_t flags, uint32_t mask) {
    std::string s;
    for (auto [bit, name] : {std::pair{kOF, 'O'}, std::pair{kDF, 'D'}, std::pair{kSF, 'S'}, std::pair{kZF, 'Z'},
                             std::pair{kAF, 'A'}, std::pair{kPF, 'P'}, std::pair{kCF, 'C'}}) {
        if (!(mask & bit)) s += '.';
        else s += (flags & bit) ? name : static_cast<char>(name - 'A' + 'a');
    }
    return s;
}

}  // namespace

std::string_view gpr_name(size_t i) { return i < 16 ? kGprNames[i] : "?"; }

std::string describe_end(const Outcome& o) {
    switch (o.kind) {
        case EndKind::Completed: return "completed";
        case EndKind::Exception:
            return vector_has_error_code(o.vector) ? fmt::format("exception {} (error code {:#x}) at {:#x}", o.vector,
                                                                 o.error_code, o.regs.rip)
                                                   : fmt::format("exception {} at {:#x}", o.vector, o.regs.rip);
        case EndKind::HarnessError: return "harness error: " + o.detail;
    }
    return "?";
}

uint32_t compared_flags(const Case& c, const Outcome& reference) {
    if (reference.kind == EndKind::Completed) return c.defined_at_end | kDF;
    if (const InsnRecord* r = c.insn_at(reference.regs.rip)) return r->defined_before | kDF;
    return kDF;
}

std::vector<std::string> compare_outcomes(const Case& c, const Outcome& native, const Outcome& engine) {
    std::vector<std::string> diffs;
    if (native.kind == EndKind::HarnessError || engine.kind == EndKind::HarnessError) {
        diffs.push_back(fmt::format("end: native {}, engine {}", describe_end(native), describe_end(engine)));
        return diffs;
    }
    if (native.kind != engine.kind || native.vector != engine.vector || native.regs.rip != engine.regs.rip) {
        diffs.push_back(fmt::format("end: native {}, engine {}", describe_end(native), describe_end(engine)));
    } else if (native.error_code != engine.error_code) {
        // #PF's U/S bit differs by construction (native runs at CPL3, the engine at CPL0).
        const uint64_t mask = native.vector == 14 ? ~uint64_t{4} : ~uint64_t{0};
        if ((native.error_code & mask) != (engine.error_code & mask))
            diffs.push_back(fmt::format("error code: native {:#x}, engine {:#x}", native.error_code, engine.error_code));
    }
    for (size_t i = 0; i < 16; ++i) {
        if (native.regs.gpr[i] != engine.regs.gpr[i])
            diffs.push_back(fmt::format("{:>6}: native {:#018x}, engine {:#018x}", kGprNames[i], native.regs.gpr[i],
                                        engine.regs.gpr[i]));
    }
    const uint32_t mask = compared_flags(c, native);
    if ((native.regs.rflags ^ engine.regs.rflags) & mask) {
        diffs.push_back(fmt::format("rflags: native {} ({:#x}), engine {} ({:#x}), compared ODSZAPC {}",
                                    flag_letters(native.regs.rflags, mask), native.regs.rflags,
                                    flag_letters(engine.regs.rflags, mask), engine.regs.rflags,
                                    flag_letters(~0ull, mask)));
    }
    if (native.data.size() != engine.data.size()) {
        diffs.push_back("data: sizes differ");
        return diffs;
    }
    int ranges = 0;
    for (size_t i = 0; i < native.data.size() && ranges < 8; ++i) {
        if (native.data[i] == engine.data[i]) continue;
        size_t end = i;
        while (end < native.data.size() && end < i + 16 && native.data[end] != engine.data[end]) ++end;
        std::string n, e;
        for (size_t k = i; k < end; ++k) {
            n += fmt::format("{:02x}", native.data[k]);
            e += fmt::format("{:02x}", engine.data[k]);
        }
        diffs.push_back(fmt::format("memory {:#x} ({} +{:#x}): native {}, engine {}", kDataAddr + i,
                                    i < kBufferSize ? "buffer" : "stack", i < kBufferSize ? i : i - kBufferSize, n, e));
        ++ranges;
        i = end;
    }
    return diffs;
}

std::string disassemble(const Case& c, uint64_t native_rip, uint64_t engine_rip, uint64_t divergence_rip) {
    const auto mark = [&](uint64_t addr) -> std::string_view {
        if (addr == native_rip && addr == engine_rip) return "=>";
        if (addr == native_rip) return "N>";
        if (addr == engine_rip) return "E>";
        if (addr == divergence_rip) return "D>";
        return "  ";
    };
    std::string out;
    for (const InsnRecord& r : c.insns) {
        const uint64_t addr = kCodeAddr + r.offset;
        ZydisDisassembledInstruction in;
        std::string text = "(undecodable)";
        if (ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, addr, c.code.data() + r.offset, r.length, &in)))
            text = in.text;
        std::string bytes;
        for (uint32_t k = 0; k < r.length; ++k) bytes += fmt::format("{:02x}", c.code[r.offset + k]);
        out += fmt::format("  {} {:#x}: {:<30} {:<40} ; {}  defined {}\n", mark(addr), addr, bytes,
                           text, r.origin, flag_letters(~0ull, r.defined_before));
    }
    out += fmt::format("  {} {:#x}: (tail)\n", mark(c.tail_addr()), c.tail_addr());
    return out;
}

std::string describe_initial(const Case& c) {
    std::string out;
    for (size_t i = 0; i < 16; ++i)
        out += fmt::format("{}{:>3}={:#018x}", i % 4 == 0 ? "  " : "  ", kGprNames[i], c.initial.gpr[i]) +
               (i % 4 == 3 ? "\n" : "");
    out += fmt::format("  rflags={:#x}  base register {} -> {:#x}, defined at end {}\n", c.initial.rflags,
                       kGprNames[static_cast<size_t>(c.base_reg)], kBaseValue, flag_letters(~0ull, c.defined_at_end));
    return out;
}

}  // namespace popek::difftest
