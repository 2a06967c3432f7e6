#include "hv/interp/interp_hypervisor.h"

#include "hv/interp/interp_vm.h"

namespace popek::hv::interp {
namespace {

class InterpHypervisor final : public Hypervisor {
public:
    Accel accel() const override { return Accel::Interp; }
    Result<std::unique_ptr<Vm>> create_vm(const VmConfig& config) override {
        if (config.vcpus < 1 || config.vcpus > max_vcpus()) return fail("interp: {} vCPUs not supported", config.vcpus);
        return std::unique_ptr<Vm>(new InterpVm(config));
    }
    int max_vcpus() const override { return 64; }
};

}  // namespace

Result<std::unique_ptr<Hypervisor>> open_interp() { return std::unique_ptr<Hypervisor>(new InterpHypervisor()); }

}  // namespace popek::hv::interp
