#pragma once
/// The network system calls (docs/guest-os.md "Networking (phase 2)"): `net_open` for every
/// program (policy-checked: `allow USER|* connect|accept KEYHEX64|*`), read/write on the channel
/// fd it returns, and netd's calls. Only the process the kernel started as netd may use the frame
/// and request calls; any other caller gets -POS_EPERM and the attempt is logged like a denial.
#include <stdint.h>

namespace pos {

class NetFront;

/// The interface the frame calls use (nullptr: none, the calls give -POS_EIO to netd).
void netd_attach_interface(NetFront* nic);
/// Starts /bin/netd as user `system` (needs an attached interface); its pid or -POS_E*.
int netd_start();
/// A process ended: if it was netd, the network channels stop.
void netd_process_exited(int pid);

long sys_netd_frame_tx(uint64_t ubuf, uint64_t len);
long sys_netd_frame_rx(uint64_t ubuf, uint64_t cap, uint64_t flags);
long sys_net_open(uint64_t ukey, uint64_t mode);
long sys_netd_next_request(uint64_t ureq, uint64_t flags, uint64_t held);
long sys_netd_deliver(uint64_t umsg);
/// The network counters; with POS_NET_STATS_PUBLISH (netd only) stores netd's part instead.
long sys_net_stats(uint64_t ubuf, uint64_t flags);
/// read/write on a channel fd (numbered `channel`).
long net_channel_write(int channel, uint64_t ubuf, uint64_t len);
long net_channel_read(int channel, uint64_t ubuf, uint64_t len);

}  // namespace pos
