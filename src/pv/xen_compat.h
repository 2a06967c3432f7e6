#pragma once
/// Xen's 32-bit x86 ("compat") layouts of the hypercall argument structures that differ from the
/// x86-64 ones. A guest that is not in 64-bit mode passes them this way, and Xen translates them
/// (xen/common/compat/, xen/arch/x86/x86_64/compat/). Debian's libxen-dev ships the public headers
/// for the host's arch only, so these follow the i386 reading of the same headers: xen_ulong_t,
/// xen_pfn_t and guest handles are 32 bits wide, and a uint64_t member is only 4-byte aligned.
/// Structures not listed here have the same layout in both ABIs.
#include <cstddef>
#include <cstdint>

#include "pv/xen_abi.h"

namespace popek::pv::compat {

/// memory.h struct xen_add_to_physmap (XENMEM_add_to_physmap).
struct AddToPhysmap {
    domid_t domid;
    uint16_t size;
    uint32_t space;
    uint32_t idx;    ///< xen_ulong_t
    uint32_t gpfn;   ///< xen_pfn_t
};
static_assert(sizeof(AddToPhysmap) == 16 && offsetof(AddToPhysmap, gpfn) == 12);

/// memory.h struct xen_memory_reservation (XENMEM_increase/decrease_reservation, populate_physmap).
struct MemoryReservation {
    uint32_t extent_start;   ///< XEN_GUEST_HANDLE(xen_pfn_t): 32-bit frames
    uint32_t nr_extents;     ///< xen_ulong_t
    uint32_t extent_order;
    uint32_t mem_flags;
    domid_t domid;
};
static_assert(sizeof(MemoryReservation) == 20 && offsetof(MemoryReservation, domid) == 16);

/// sched.h struct sched_poll (SCHEDOP_poll).
struct SchedPoll {
    uint32_t ports;       ///< XEN_GUEST_HANDLE(evtchn_port_t)
    uint32_t nr_ports;
    uint64_t timeout;
};
static_assert(sizeof(SchedPoll) == 16 && offsetof(SchedPoll, timeout) == 8);

/// grant_table.h struct gnttab_setup_table (GNTTABOP_setup_table); the frame list holds 32-bit
/// xen_pfn_t entries.
struct GnttabSetupTable {
    domid_t dom;
    uint32_t nr_frames;
    int16_t status;
    uint32_t frame_list;  ///< XEN_GUEST_HANDLE(xen_pfn_t)
};
static_assert(sizeof(GnttabSetupTable) == 16 && offsetof(GnttabSetupTable, frame_list) == 12);

/// grant_table.h struct gnttab_get_status_frames (GNTTABOP_get_status_frames): a 32-bit handle
/// to the frame list, whose entries are uint64_t in both ABIs.
struct GnttabGetStatusFrames {
    uint32_t nr_frames;
    uint16_t dom;
    int16_t status;
    uint32_t frame_list;
};
static_assert(sizeof(GnttabGetStatusFrames) == 12 && offsetof(GnttabGetStatusFrames, frame_list) == 8);

/// vcpu.h struct vcpu_runstate_info (VCPUOP_register_runstate_memory_area's area).
struct [[gnu::packed]] RunstateInfo {
    int32_t state;
    uint64_t state_entry_time;
    uint64_t time[4];
};
static_assert(sizeof(RunstateInfo) == 44);

/// version.h xen_platform_parameters_t (XENVER_platform_parameters).
struct PlatformParameters {
    uint32_t virt_start;  ///< xen_ulong_t
};

}  // namespace popek::pv::compat
