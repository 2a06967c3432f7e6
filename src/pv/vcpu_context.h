#pragma once
/// VCPUOP_initialise for an HVM/PVH guest (xen/vcpu.h): the vcpu_hvm_context it passes
/// (xen/hvm/hvm_vcpu.h, the same layout for 32- and 64-bit callers) checked as Xen checks it
/// (xen/arch/x86/hvm/domain.c arch_set_info_hvm_guest) and turned into the engine-neutral state
/// the vCPU starts in at VCPUOP_up.
#include "hv/cpu_state.h"
#include "pv/pv_result.h"
#include "pv/xen_abi.h"

namespace popek::pv {

/// -EINVAL (as Xen) for: a mode other than VCPU_HVM_MODE_32B/64B, non-zero padding, attribute
/// bits 12-15 set, null attributes for CS, SS or TR, a system segment for CS/DS/ES/SS, TR not a
/// busy TSS, a non-present segment, CS not code, SS not writable data, DS/ES execute-only, EIP
/// past the CS limit, SS.DPL != CS.DPL, DS/ES.DPL > CS.DPL, EFER.LMA without LME; in 64-bit mode
/// a non-canonical RIP, CR0.PG, CR4.PAE or EFER.LME clear; reserved CR4 or EFER bits.
/// Registers the context does not name (FS, GS, LDTR, GDTR, IDTR, CR2) keep their INIT values
/// (SDM Vol. 3A 9.1.1); selectors are 0; EFER.LMA follows EFER.LME, as Xen sets it.
PvResult<hv::CpuState> hvm_context_to_state(const vcpu_hvm_context_t& ctx);

}  // namespace popek::pv
