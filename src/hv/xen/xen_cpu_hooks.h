#pragma once
/// The Xen personality on the own engine (interp, bt): the emu::CpuHooks that make its CPU answer
/// as hv/xen/xen_personality.h says every engine must. The KVM engine routes the same
/// instructions to the same xen_personality functions in hv/kvm/kvm_vcpu.cpp.
#include <memory>

#include "emu/cpu_hooks.h"

namespace popek::hv::xen {

/// The hooks (stateless: one instance serves every VM) an own-engine VM installs under --xen.
emu::CpuHooks& engine_hooks();

/// The hooks of one `--xen --viridian` VM of `vcpus` vCPUs: Xen's interface moved to 0x40000100
/// (XenLayout) under the Hyper-V one (hv/xen/viridian.h), whose state is this VM's.
std::unique_ptr<emu::CpuHooks> make_viridian_engine_hooks(int vcpus);

}  // namespace popek::hv::xen
