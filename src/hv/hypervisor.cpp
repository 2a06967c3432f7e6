#include "hv/hypervisor.h"

#include "hv/interp/interp_hypervisor.h"
#include "hv/kvm/kvm_hypervisor.h"

namespace popek::hv {

std::string_view accel_name(Accel a) {
    switch (a) {
        case Accel::Kvm: return "kvm";
        case Accel::Interp: return "interp";
        case Accel::Bt: return "bt";
    }
    return "?";
}

Result<Accel> parse_accel(std::string_view s) {
    if (s == "kvm") return Accel::Kvm;
    if (s == "interp") return Accel::Interp;
    if (s == "bt") return Accel::Bt;
    return fail("unknown accelerator '{}' (expected kvm, interp or bt)", s);
}

Result<std::unique_ptr<Hypervisor>> open_hypervisor(Accel accel) {
    switch (accel) {
        case Accel::Kvm: return kvm::open_kvm();
        case Accel::Interp: return interp::open_interp();
        case Accel::Bt: return interp::open_bt();
    }
    return fail("unknown accelerator");
}

}  // namespace popek::hv
