#pragma once
/// Xen's public ABI (Debian libxen-dev, Xen 4.17 headers in /usr/include/xen) for the kernel: every
/// PV structure and constant popek-os uses comes from these headers, so the OS would also boot on
/// real Xen (issue 7). The ring macros of io/ring.h need the three barriers below.
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include <stddef.h>
#include <stdint.h>

// io/ring.h: full, read and write barriers. On x86-64 only the full one needs a fence; the others
// need the compiler not to reorder (stores are not reordered with stores, loads not with loads).
#define xen_mb() asm volatile("mfence" ::: "memory")
#define xen_rmb() asm volatile("" ::: "memory")
#define xen_wmb() asm volatile("" ::: "memory")

#include <xen/xen.h>
#include <xen/arch-x86/cpuid.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/io/blkif.h>
#include <xen/io/console.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>

namespace pos::xen {

/// Linux errno values, which Xen returns negated (xen/errno.h is not part of the public headers
/// Debian ships). Only the ones the kernel tests for.
inline constexpr long kENOENT = 2, kEIO = 5, kEAGAIN = 11, kENOSPC = 28, kETIME = 62, kENOSYS = 38;

}  // namespace pos::xen
