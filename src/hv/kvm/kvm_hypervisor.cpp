#include "hv/kvm/kvm_hypervisor.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include "hv/kvm/kvm_abi.h"
#include "hv/kvm/kvm_vm.h"

namespace popek::hv::kvm {
namespace {

class KvmHypervisor final : public Hypervisor {
public:
    explicit KvmHypervisor(std::shared_ptr<const KvmSystem> sys) : m_sys(std::move(sys)) {}
    Accel accel() const override { return Accel::Kvm; }
    int max_vcpus() const override { return m_sys->max_vcpus; }
    Result<std::unique_ptr<Vm>> create_vm(const VmConfig& config) override {
        if (config.vcpus < 1 || config.vcpus > m_sys->max_vcpus)
            return fail("KVM supports 1..{} vCPUs, {} requested", m_sys->max_vcpus, config.vcpus);
        if (config.viridian) return fail("--viridian is not supported on --accel kvm yet (use --accel interp or bt)");
        auto vm = TRY(KvmVm::create(m_sys, config));
        return std::unique_ptr<Vm>(std::move(vm));
    }

private:
    std::shared_ptr<const KvmSystem> m_sys;
};

Result<std::vector<kvm_cpuid_entry2>> supported_cpuid(int kvm) {
    for (uint32_t n = 64; n <= 4096; n *= 2) {
        std::vector<uint8_t> buf(sizeof(KvmCpuid2Header) + n * sizeof(kvm_cpuid_entry2));
        auto* c = reinterpret_cast<KvmCpuid2Header*>(buf.data());
        c->nent = n;
        if (::ioctl(kvm, kKvmGetSupportedCpuid, c) == 0) {
            auto* first = reinterpret_cast<kvm_cpuid_entry2*>(buf.data() + sizeof(KvmCpuid2Header));
            return std::vector<kvm_cpuid_entry2>(first, first + std::min(c->nent, n));
        }
        if (errno != E2BIG) return fail_errno("KVM_GET_SUPPORTED_CPUID");
    }
    return fail("KVM_GET_SUPPORTED_CPUID: too many entries");
}

}  // namespace

Result<std::unique_ptr<Hypervisor>> open_kvm() {
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return fail("/dev/kvm is absent: this host has no KVM (try --accel interp)");
        if (errno == EACCES || errno == EPERM)
            return fail("/dev/kvm: permission denied (add yourself to the kvm group, or use --accel interp)");
        return fail_errno("open /dev/kvm");
    }
    auto sys = std::make_shared<KvmSystem>();
    sys->kvm.reset(fd);
    int api = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) return fail("/dev/kvm: API version {} (popek needs {})", api, KVM_API_VERSION);
    for (auto [cap, name] : {std::pair{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                             std::pair{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"}}) {
        if (::ioctl(fd, KVM_CHECK_EXTENSION, cap) <= 0) return fail("/dev/kvm lacks {}", name);
    }
    sys->has_irqchip = ::ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) > 0;
    int max = ::ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0) max = ::ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    sys->max_vcpus = max > 0 ? std::min(max, 255) : 4;
    int sz = ::ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz <= 0) return fail_errno("KVM_GET_VCPU_MMAP_SIZE");
    sys->run_mmap_size = static_cast<size_t>(sz);
    sys->supported_cpuid = TRY(supported_cpuid(fd));
    return std::unique_ptr<Hypervisor>(new KvmHypervisor(std::move(sys)));
}

}  // namespace popek::hv::kvm
