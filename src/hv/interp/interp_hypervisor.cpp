#include "hv/interp/interp_hypervisor.h"

#include "hv/interp/interp_vm.h"

namespace popek::hv::interp {
namespace {

class InterpHypervisor final : public Hypervisor {
public:
    explicit InterpHypervisor(bool translate) : m_translate(translate) {}
    Accel accel() const override { return m_translate ? Accel::Bt : Accel::Interp; }
    Result<std::unique_ptr<Vm>> create_vm(const VmConfig& config) override {
        if (config.vcpus < 1 || config.vcpus > max_vcpus())
            return fail("{}: {} vCPUs not supported", accel_name(accel()), config.vcpus);
        return std::unique_ptr<Vm>(new InterpVm(config, m_translate));
    }
    int max_vcpus() const override { return 64; }

private:
    bool m_translate;
};

}  // namespace

Result<std::unique_ptr<Hypervisor>> open_interp() { return std::unique_ptr<Hypervisor>(new InterpHypervisor(false)); }
Result<std::unique_ptr<Hypervisor>> open_bt() { return std::unique_ptr<Hypervisor>(new InterpHypervisor(true)); }

}  // namespace popek::hv::interp
