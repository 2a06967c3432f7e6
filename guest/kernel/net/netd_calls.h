#pragma once
/// The frame calls of netd, the ring-3 network service (docs/guest-os.md "Networking (phase 2)"):
/// only the process the kernel started as netd may move Ethernet frames through the netif front
/// end; any other caller gets -POS_EPERM and the attempt is logged like a policy denial.
#include <stdint.h>

namespace pos {

class NetFront;

/// The interface the frame calls use (nullptr: none, the calls give -POS_EIO to netd).
void netd_attach_interface(NetFront* nic);
/// The pid of the process started as netd (0: none started).
void netd_set_pid(int pid);

long sys_netd_frame_tx(uint64_t ubuf, uint64_t len);
long sys_netd_frame_rx(uint64_t ubuf, uint64_t cap, uint64_t flags);

}  // namespace pos
