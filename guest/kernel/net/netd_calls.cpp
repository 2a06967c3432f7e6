#include "net/netd_calls.h"

#include "auth/policy.h"
#include "common/string.h"
#include "drivers/netfront.h"
#include "lib/kprint.h"
#include "popek_os/abi.h"
#include "proc/process.h"
#include "proc/user_access.h"

namespace pos {
namespace {

NetFront* g_nic = nullptr;
int g_netd_pid = 0;
// One frame in flight through the kernel at a time per direction (netd is one thread).
uint8_t g_tx_frame[NetFront::kMaxFrame];
uint8_t g_rx_frame[NetFront::kMaxFrame];

/// 0 for netd; otherwise logs the attempt and gives -POS_EPERM.
long check_netd(const char* call) {
    Process* p = current_process();
    if (g_netd_pid != 0 && p->pid == g_netd_pid) return 0;
    kprintf("denied: user=%s action=%s object=%s reason=only netd may use the frame calls\n",
            p->user != nullptr ? p->user->name : "?", call, p->name);
    return -POS_EPERM;
}

}  // namespace

void netd_attach_interface(NetFront* nic) { g_nic = nic; }
void netd_set_pid(int pid) { g_netd_pid = pid; }

long sys_netd_frame_tx(uint64_t ubuf, uint64_t len) {
    if (long r = check_netd("netd_frame_tx"); r < 0) return r;
    if (len > NetFront::kMaxFrame) return -POS_EINVAL;
    if (!user_readable(ubuf, len)) return -POS_EFAULT;
    if (g_nic == nullptr || !g_nic->connected()) return -POS_EIO;
    memcpy(g_tx_frame, reinterpret_cast<const void*>(ubuf), len);
    return g_nic->send(g_tx_frame, len);
}

long sys_netd_frame_rx(uint64_t ubuf, uint64_t cap, uint64_t flags) {
    if (long r = check_netd("netd_frame_rx"); r < 0) return r;
    if ((flags & ~uint64_t{POS_NET_NONBLOCK}) != 0) return -POS_EINVAL;
    if (cap > NetFront::kMaxFrame) cap = NetFront::kMaxFrame;
    if (!user_writable(ubuf, cap)) return -POS_EFAULT;
    if (g_nic == nullptr) return -POS_EIO;
    long n = g_nic->receive(g_rx_frame, cap, (flags & POS_NET_NONBLOCK) == 0);
    if (n < 0) return n;
    if (long r = copy_to_user(ubuf, g_rx_frame, static_cast<size_t>(n)); r < 0) return r;
    return n;
}

}  // namespace pos
