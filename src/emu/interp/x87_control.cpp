/// x87 control instructions (SDM Vol. 1 8.1, 8.3.12; Vol. 2 F* pages): FNINIT FNCLEX FNSTCW FLDCW
/// FNSTSW (m16 and AX) FNSTENV FLDENV FNSAVE FRSTOR FWAIT, and EMMS. The FN forms do not check
/// for pending exceptions; the others do (x87::check). Environments use the protected-mode
/// layouts (14 bytes with a 16-bit operand size, else 28), also in real mode.
#include "emu/interp/x87_common.h"

namespace popek::emu {
namespace {

bool env16(const Insn& i) { return i.osize == 2; }
unsigned env_size(const Insn& i) { return env16(i) ? x87::kEnv16Size : x87::kEnv32Size; }

void fninit(Cpu& c, const Insn&) {
    x87::check(c, false);
    x87::init(c.fpu);
}

void fnclex(Cpu& c, const Insn&) {
    x87::check(c, false);
    c.fpu.fsw &= static_cast<uint16_t>(~(x87::kFswExceptions | x87::kFswSf | x87::kFswEs | x87::kFswB));
}

void fnstcw(Cpu& c, const Insn& i) {
    x87::check(c, false);
    write_mem<uint16_t>(c, i, c.fpu.fcw);
}

void fldcw(Cpu& c, const Insn& i) {
    x87::check(c, true);
    const uint16_t cw = read_mem<uint16_t>(c, i);
    c.fpu.fcw = static_cast<uint16_t>(cw | 0x40);   // bit 6 reads as 1 (reserved)
    // Unmasking an exception whose flag is set makes it pending (SDM Vol. 1 8.5 "FLDCW").
    if (c.fpu.fsw & ~c.fpu.fcw & x87::kFswExceptions) c.fpu.fsw |= x87::kFswEs | x87::kFswB;
    else c.fpu.fsw &= static_cast<uint16_t>(~(x87::kFswEs | x87::kFswB));
}

void fnstsw(Cpu& c, const Insn& i) {
    x87::check(c, false);
    if (i.k0 == kOpReg) c.set_reg<uint16_t>(hv::RAX, c.fpu.fsw);
    else write_mem<uint16_t>(c, i, c.fpu.fsw);
}

void fnstenv(Cpu& c, const Insn& i) {
    x87::check(c, false);
    uint8_t env[x87::kEnv32Size];
    x87::store_env(c.fpu, env, env16(i));
    const uint64_t la = c.linear(i.seg, effective_address(c, i), env_size(i), Access::Write);
    c.write_bytes_la(la, env, env_size(i), false);
    c.fpu.fcw |= x87::kFswExceptions;   // then masks all exceptions (SDM Vol. 2A FSTENV)
}

void fldenv(Cpu& c, const Insn& i) {
    x87::check(c, false);
    uint8_t env[x87::kEnv32Size];
    const uint64_t la = c.linear(i.seg, effective_address(c, i), env_size(i), Access::Read);
    c.read_bytes_la(la, env, env_size(i), Access::Read, false);
    const uint16_t fsw = c.fpu.fsw;
    x87::load_env(c.fpu, env, env16(i));
    const uint16_t loaded = c.fpu.fsw;
    c.fpu.fsw = fsw;
    x87::set_fsw_keep_registers(c.fpu, loaded);   // the registers stay, TOP may move
    x87::update_pending(c.fpu);
}

void fnsave(Cpu& c, const Insn& i) {
    x87::check(c, false);
    uint8_t img[108];
    const unsigned env = env_size(i);
    x87::store_env(c.fpu, img, env16(i));
    for (unsigned k = 0; k < 8; ++k) std::memcpy(img + env + 10 * k, c.fpu.st[k], 10);
    const uint64_t la = c.linear(i.seg, effective_address(c, i), env + 80, Access::Write);
    c.write_bytes_la(la, img, env + 80, false);
    x87::init(c.fpu);
}

void frstor(Cpu& c, const Insn& i) {
    x87::check(c, false);
    uint8_t img[108];
    const unsigned env = env_size(i);
    const uint64_t la = c.linear(i.seg, effective_address(c, i), env + 80, Access::Read);
    c.read_bytes_la(la, img, env + 80, Access::Read, false);
    x87::load_env(c.fpu, img, env16(i));
    x87::update_pending(c.fpu);
    for (unsigned k = 0; k < 8; ++k) {
        std::memcpy(c.fpu.st[k], img + env + 10 * k, 10);
        std::memset(c.fpu.st[k] + 10, 0, 6);
    }
}

/// FWAIT: #NM only when CR0.MP and CR0.TS (SDM Vol. 3A table 2-2), then pending exceptions.
void fwait(Cpu& c, const Insn&) {
    if ((c.cr0 & hv::kCr0Mp) && (c.cr0 & hv::kCr0Ts)) c.raise(kNm);
    if (c.fpu.fsw & x87::kFswEs) c.raise(kMf);
}

/// EMMS: all registers empty (SDM Vol. 2A EMMS; #UD when CR0.EM). Like every MMX instruction it
/// also leaves TOP = 0 (SDM Vol. 1 9.5.1), as the host CPU shows.
void emms(Cpu& c, const Insn&) {
    if (c.cr0 & hv::kCr0Em) c.raise(kUd);
    if (c.cr0 & hv::kCr0Ts) c.raise(kNm);
    if (c.fpu.fsw & x87::kFswEs) c.raise(kMf);
    x87::set_fsw_keep_registers(c.fpu, static_cast<uint16_t>(c.fpu.fsw & ~0x3800u));
    c.fpu.ftw = 0;
}

template <Handler H>
Handler mem_form(const DecodeView& d, Insn& i) {
    return d.ins.operand_count_visible >= 1 && d.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && !(i.prefix & kPrefixLock) ? H : nullptr;
}
template <Handler H>
Handler no_operand(const DecodeView&, Insn& i) { return (i.prefix & kPrefixLock) ? nullptr : H; }

}  // namespace

void register_x87_control(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_FNINIT, no_operand<fninit>);
    t.add(ZYDIS_MNEMONIC_FNCLEX, no_operand<fnclex>);
    t.add(ZYDIS_MNEMONIC_FWAIT, no_operand<fwait>);
    t.add(ZYDIS_MNEMONIC_EMMS, no_operand<emms>);
    t.add(ZYDIS_MNEMONIC_FNSTCW, mem_form<fnstcw>);
    t.add(ZYDIS_MNEMONIC_FLDCW, mem_form<fldcw>);
    t.add(ZYDIS_MNEMONIC_FNSTENV, mem_form<fnstenv>);
    t.add(ZYDIS_MNEMONIC_FLDENV, mem_form<fldenv>);
    t.add(ZYDIS_MNEMONIC_FNSAVE, mem_form<fnsave>);
    t.add(ZYDIS_MNEMONIC_FRSTOR, mem_form<frstor>);
    t.add(ZYDIS_MNEMONIC_FNSTSW, [](const DecodeView& d, Insn& i) -> Handler {
        if (d.ins.operand_count_visible < 1 || (i.prefix & kPrefixLock)) return nullptr;
        if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && d.ops[0].reg.value != ZYDIS_REGISTER_AX) return nullptr;
        return fnstsw;
    });
}

}  // namespace popek::emu
