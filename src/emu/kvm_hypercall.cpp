/// KVM's hypercall ABI on the own engine, for guests that are not Xen guests (Linux
/// Documentation/virt/kvm/x86/hypercalls.rst; arch/x86/kvm/x86.c kvm_emulate_hypercall): VMCALL or
/// VMMCALL with the number in RAX and arguments in RBX, RCX, RDX, RSI; the result in RAX. Outside
/// 64-bit mode all of them are 32 bits wide (the result zero-extended). CPL > 0 gets -KVM_EPERM.
///
/// Answered: KVM_HC_VAPIC_POLL_IRQ (0), KVM_HC_SEND_IPI (the number of IPIs delivered),
/// KVM_HC_SCHED_YIELD (0: a hint). Everything else is -KVM_ENOSYS, what KVM answers for numbers it
/// does not know. popek does not advertise KVM's CPUID signature (0x40000000 "KVMKVMKVM"), so
/// guests that look for KVM's paravirtual features (kvmclock, PV EOI, ...) do not find them; the
/// hypercalls answer guests that issue them anyway, as kvm-unit-tests do.
#include "emu/cpu.h"
#include "emu/irqchip/cpu_interrupts.h"

namespace popek::emu {

namespace {
// Hypercall numbers and errors (include/uapi/linux/kvm_para.h).
constexpr uint64_t kHcVapicPollIrq = 1, kHcSendIpi = 10, kHcSchedYield = 11;
constexpr int64_t kKvmEnosys = 1000, kKvmEperm = 1, kKvmEinval = 22;
/// ICR destination mode (logical) and shorthand bits: KVM_HC_SEND_IPI takes neither.
constexpr uint64_t kIcrLogical = 1u << 11, kIcrShorthand = 3u << 18;

/// KVM_HC_SEND_IPI (hypercalls.rst section 8; arch/x86/kvm/lapic.c kvm_pv_send_ipi): bit i of the
/// bitmap in a0 names physical APIC ID min + i, bit i of a1 ID min + cluster + i (cluster = 64 in
/// 64-bit mode, 32 otherwise; the sum wraps at 32 bits as in KVM). a3 is the ICR's low word.
int64_t send_ipi(CpuInterrupts* ints, uint64_t low, uint64_t high, uint32_t min, uint64_t icr, bool op64) {
    if (icr & (kIcrLogical | kIcrShorthand)) return -kKvmEinval;
    if (!ints) return 0;
    const unsigned cluster = op64 ? 64 : 32;
    int64_t count = 0;
    uint64_t maps[2] = {low, high};
    for (uint64_t map : maps) {
        for (unsigned i = 0; i < cluster; ++i) {
            if (!((map >> i) & 1)) continue;
            uint64_t id = uint64_t{min} + i;
            if (id >= 0xffffffffULL) break;   // no APIC has such an ID (KVM: beyond max_apic_id)
            count += ints->send_physical_ipi(static_cast<uint32_t>(id), static_cast<uint32_t>(icr));
        }
        min += cluster;
    }
    return count;
}
}  // namespace

void Cpu::kvm_vmcall() {
    const bool op64 = mode64;
    const uint64_t mask = op64 ? ~0ULL : 0xffffffffULL;
    const uint64_t nr = gpr[hv::RAX] & mask, a0 = gpr[hv::RBX] & mask, a1 = gpr[hv::RCX] & mask,
                   a2 = gpr[hv::RDX] & mask, a3 = gpr[hv::RSI] & mask;
    int64_t ret = -kKvmEnosys;
    if (cpl != 0) {
        ret = -kKvmEperm;
    } else if (nr == kHcVapicPollIrq || nr == kHcSchedYield) {
        ret = 0;
    } else if (nr == kHcSendIpi) {
        ret = send_ipi(m_ints, a0, a1, static_cast<uint32_t>(a2), a3, op64);
        schedule.service = true;   // (deterministic runs: right after this block-ending instruction)
        budget = 0;   // an IPI to this vCPU may have made an interrupt deliverable
    }
    gpr[hv::RAX] = static_cast<uint64_t>(ret) & mask;
}

}  // namespace popek::emu
