#include "emu/decode/decoder.h"

#include "emu/cpu.h"

namespace popek::emu {
namespace {

bool ends_block_category(const ZydisDecodedInstruction& ins) {
    switch (ins.meta.category) {
        case ZYDIS_CATEGORY_COND_BR:
        case ZYDIS_CATEGORY_UNCOND_BR:
        case ZYDIS_CATEGORY_CALL:
        case ZYDIS_CATEGORY_RET:
        case ZYDIS_CATEGORY_INTERRUPT:
        case ZYDIS_CATEGORY_SYSCALL:
        case ZYDIS_CATEGORY_SYSRET:
        case ZYDIS_CATEGORY_SYSTEM:
            return true;
        default:
            break;
    }
    switch (ins.mnemonic) {
        case ZYDIS_MNEMONIC_LOOP: case ZYDIS_MNEMONIC_LOOPE: case ZYDIS_MNEMONIC_LOOPNE:
        case ZYDIS_MNEMONIC_JCXZ: case ZYDIS_MNEMONIC_JECXZ: case ZYDIS_MNEMONIC_JRCXZ:
        case ZYDIS_MNEMONIC_HLT: case ZYDIS_MNEMONIC_POPF:
        case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPFQ: case ZYDIS_MNEMONIC_UD2:
        case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_WRMSR:
            return true;
        default:
            return false;
    }
}

/// A segment register load (MOV/POP Sreg, LDS..LGS) or a control register write: the code mode
/// of the next instruction (flat data segments, paging) may differ, so the block ends there.
bool writes_segment_or_control(const ZydisDecodedInstruction& ins, const ZydisDecodedOperand* ops) {
    for (unsigned i = 0; i < ins.operand_count; ++i) {
        const ZydisDecodedOperand& op = ops[i];
        if (op.type != ZYDIS_OPERAND_TYPE_REGISTER || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
        const ZydisRegisterClass rc = ZydisRegisterGetClass(op.reg.value);
        if (rc == ZYDIS_REGCLASS_SEGMENT || rc == ZYDIS_REGCLASS_CONTROL) return true;
    }
    return false;
}

/// Counts a privileged/sensitive instruction, then runs it (Insn::counted).
void run_counted(Cpu& c, const Insn& i) {
    hv::VcpuStats& st = c.mutable_stats();
    if (i.cls & kClsPrivileged) ++st.privileged;
    if (i.cls & kClsSensitive) ++st.sensitive;
    i.counted(c, i);
}

}  // namespace

int gpr_index(ZydisRegister r) {
    if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) return r - ZYDIS_REGISTER_AL;
    if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return 16 + (r - ZYDIS_REGISTER_AH);
    if (r >= ZYDIS_REGISTER_SPL && r <= ZYDIS_REGISTER_R15B) return 4 + (r - ZYDIS_REGISTER_SPL);
    if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) return r - ZYDIS_REGISTER_AX;
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) return r - ZYDIS_REGISTER_EAX;
    if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) return r - ZYDIS_REGISTER_RAX;
    return -1;
}

int sreg_index(ZydisRegister r) {
    if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS) return r - ZYDIS_REGISTER_ES;
    return -1;
}

Decoder::Decoder() {
    ZydisDecoderInit(&m_dec16, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&m_dec32, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecoderInit(&m_dec64, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

DecodeStatus Decoder::decode(const uint8_t* bytes, size_t avail, int code_bits, Insn& out, bool& ends_block) const {
    const ZydisDecoder* dec = code_bits == 64 ? &m_dec64 : code_bits == 32 ? &m_dec32 : &m_dec16;
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    out = Insn{};
    ends_block = false;
    ZyanStatus st = ZydisDecoderDecodeFull(dec, bytes, avail, &ins, ops);
    if (st == ZYDIS_STATUS_NO_MORE_DATA) return avail >= 15 ? DecodeStatus::Invalid : DecodeStatus::NeedMoreBytes;
    if (!ZYAN_SUCCESS(st)) {
        out.fn = handle_undefined;
        out.len = 1;
        ends_block = true;
        return DecodeStatus::Invalid;
    }
    out.len = ins.length;
    out.mnemonic = static_cast<uint16_t>(ins.mnemonic);
    out.osize = static_cast<uint8_t>(ins.operand_width / 8);
    out.asize = static_cast<uint8_t>(ins.address_width / 8);
    if (ins.attributes & ZYDIS_ATTRIB_HAS_LOCK) out.prefix |= kPrefixLock;
    if (ins.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) out.prefix |= kPrefixRep;
    if (ins.attributes & ZYDIS_ATTRIB_HAS_REPNE) out.prefix |= kPrefixRepne;

    // Memory operand: string instructions take the (overridable) source segment of [rSI].
    const ZydisDecodedOperand* mem = nullptr;
    for (unsigned i = 0; i < ins.operand_count; ++i) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
        int b = gpr_index(ops[i].mem.base);
        if (!mem || (b == hv::RSI && ops[i].visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)) mem = &ops[i];
    }
    if (mem) {
        out.seg = static_cast<uint8_t>(sreg_index(mem->mem.segment) >= 0 ? sreg_index(mem->mem.segment) : kDs);
        if (mem->mem.base == ZYDIS_REGISTER_RIP || mem->mem.base == ZYDIS_REGISTER_EIP) out.base = kRegRip;
        else if (int b = gpr_index(mem->mem.base); b >= 0) out.base = static_cast<uint8_t>(b);
        if (int x = gpr_index(mem->mem.index); x >= 0) out.index = static_cast<uint8_t>(x);
        out.scale_shift = mem->mem.scale == 8 ? 3 : mem->mem.scale == 4 ? 2 : mem->mem.scale == 2 ? 1 : 0;
        out.disp = mem->mem.disp.value;
    }
    out.far_branch = ins.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
    uint8_t* kinds[3] = {&out.k0, &out.k1, &out.k2};
    uint8_t* regs[3] = {&out.r0, &out.r1, &out.r2};
    bool have_imm = false;
    for (unsigned i = 0; i < ins.operand_count_visible && i < 3; ++i) {
        const ZydisDecodedOperand& op = ops[i];
        switch (op.type) {
            case ZYDIS_OPERAND_TYPE_REGISTER: {
                *kinds[i] = kOpReg;
                int g = gpr_index(op.reg.value);
                *regs[i] = static_cast<uint8_t>(g >= 0 ? g : 0);
                if (g >= 0) out.gprs |= static_cast<uint8_t>(1u << i);
                break;
            }
            case ZYDIS_OPERAND_TYPE_MEMORY:
                *kinds[i] = kOpMem;
                break;
            case ZYDIS_OPERAND_TYPE_POINTER:
                *kinds[i] = kOpImm;
                out.imm = op.ptr.offset;
                out.imm2 = op.ptr.segment;
                break;
            case ZYDIS_OPERAND_TYPE_IMMEDIATE:
                *kinds[i] = kOpImm;
                if (!have_imm) {
                    out.imm = op.imm.value.u;
                    have_imm = true;
                    if (i == 0 && op.imm.is_relative) out.rel_branch = true;
                } else {
                    out.imm2 = static_cast<uint16_t>(op.imm.value.u);
                }
                break;
            default:
                break;
        }
        if (i == 1) out.size1 = static_cast<uint8_t>(op.size / 8);
    }

    const HandlerTable& table = handler_table();
    Selector sel = table.select[ins.mnemonic];
    Handler h = sel ? sel(DecodeView{ins, ops, code_bits}, out) : nullptr;
    out.cls = table.cls[ins.mnemonic];
    out.fn = h ? h : handle_undefined;
    if (out.cls) {
        out.counted = out.fn;
        out.fn = run_counted;
    }
    ends_block = !h || ends_block_category(ins) || writes_segment_or_control(ins, ops);
    return DecodeStatus::Ok;
}

}  // namespace popek::emu
