#pragma once
/// The Xen personality on the own engine (interp, bt): the emu::CpuHooks that make its CPU answer
/// as hv/xen/xen_personality.h says every engine must. The KVM engine routes the same
/// instructions to the same xen_personality functions in hv/kvm/kvm_vcpu.cpp.
#include "emu/cpu_hooks.h"

namespace popek::hv::xen {

/// The hooks (stateless: one instance serves every VM) an own-engine VM installs under --xen.
emu::CpuHooks& engine_hooks();

}  // namespace popek::hv::xen
