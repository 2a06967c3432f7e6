#pragma once
/// The one place popek includes Xen's public headers (Debian libxen-dev, Xen 4.17). Every PV wire
/// structure and constant comes from them; nothing here is redefined by hand.
///
/// __XEN_INTERFACE_VERSION__ selects the 4.14+ interface (the same one Linux guests use); the
/// x86-64 arch header is picked by xen.h from __x86_64__.
#include <cerrno>
#include <cstdint>

#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

extern "C" {
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/features.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <xen/io/console.h>
#include <xen/io/protocols.h>
#include <xen/io/ring.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/version.h>
}

namespace popek::pv {

/// Xen domain id (domid_t in xen.h).
using DomId = domid_t;

/// Xen's page size (xen.h gives XEN_PAGE_SHIFT; frame numbers in every PV structure count these).
inline constexpr uint64_t kXenPageSize = uint64_t{1} << XEN_PAGE_SHIFT;

/// popek plays the control domain: domain 0 owns the store layout and runs the backends.
inline constexpr DomId kControlDomain = 0;

}  // namespace popek::pv
