#pragma once
/// Linux KVM ABI structures that <linux/kvm.h> gets wrong when compiled as C++.
///
/// Debian 12's uapi headers declare the trailing arrays of kvm_cpuid2 and kvm_msrs with
/// __DECLARE_FLEX_ARRAY, which in C++ expands to an empty struct of size 1: offsetof(entries)
/// becomes 12 instead of 8 and the ioctl numbers encode the wrong size, so the kernel answers
/// EINVAL. These mirrors have the C layout (Documentation/virt/kvm/api.rst, 4.46 and 4.18).
#include <linux/kvm.h>

#include <cstdint>

namespace popek::hv::kvm {

struct KvmCpuid2Header {
    uint32_t nent;
    uint32_t padding;
    // kvm_cpuid_entry2 entries[nent] follow
};
static_assert(sizeof(KvmCpuid2Header) == 8);

struct KvmMsrsHeader {
    uint32_t nmsrs;
    uint32_t pad;
    // kvm_msr_entry entries[nmsrs] follow
};
static_assert(sizeof(KvmMsrsHeader) == 8);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_msr_entry) == 16);

inline constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmCpuid2Header);
inline constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmCpuid2Header);
inline constexpr unsigned long kKvmGetMsrs = _IOWR(KVMIO, 0x88, KvmMsrsHeader);
inline constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmMsrsHeader);

}  // namespace popek::hv::kvm
