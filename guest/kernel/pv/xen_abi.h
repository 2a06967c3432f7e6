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

// Linux errno values (Xen returns them negated; xen/errno.h is not among the headers Debian
// ships). io/xs_wire.h builds its xsd_errors name table from these macros.
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define E2BIG 7
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EBUSY 16
#define EEXIST 17
#define EISDIR 21
#define EINVAL 22
#define ENOSPC 28
#define EROFS 30
#define ENOSYS 38
#define ENOTEMPTY 39
#define ETIME 62
#define EISCONN 106

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
#include <xen/io/netif.h>
#include <xen/io/console.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>

namespace pos::xen {

inline constexpr long kENOENT = ENOENT, kEIO = EIO, kEAGAIN = EAGAIN, kENOSPC = ENOSPC, kETIME = ETIME,
                      kENOSYS = ENOSYS;

}  // namespace pos::xen
