#include "net/netd_calls.h"

#include <stddef.h>

#include "auth/policy.h"
#include "common/string.h"
#include "drivers/netfront.h"
#include "lib/kprint.h"
#include "net/channels.h"
#include "popek_os/abi.h"
#include "proc/process.h"
#include "proc/sched.h"
#include "proc/user_access.h"

namespace pos {
namespace {

NetFront* g_nic = nullptr;
int g_netd_pid = 0;
// Kernel copies of what crosses the boundary. Calls run with the big lock dropped only while
// blocked, so each buffer is used by one call at a time per direction (netd is one thread).
uint8_t g_tx_frame[NetFront::kMaxFrame];
uint8_t g_rx_frame[NetFront::kMaxFrame];
PosNetRequest g_request;
PosNetMessage g_delivery;
PosNetdCounters g_netd_counters;   // what netd last published (under the scheduler lock)

/// 0 for netd; otherwise logs the attempt and gives -POS_EPERM.
long check_netd(const char* call) {
    Process* p = current_process();
    if (g_netd_pid != 0 && p->pid == g_netd_pid) return 0;
    kprintf("denied: user=%s action=%s object=%s reason=reserved for netd\n",
            p->user != nullptr ? p->user->name : "?", call, p->name);
    return -POS_EPERM;
}

void key_to_hex(const uint8_t* key, char* out) {
    static const char kDigits[] = "0123456789abcdef";
    for (int i = 0; i < POS_NET_KEY; ++i) {
        out[2 * i] = kDigits[key[i] >> 4];
        out[2 * i + 1] = kDigits[key[i] & 15];
    }
    out[2 * POS_NET_KEY] = 0;
}

/// netd's wait for a request also ends when a frame is waiting (POS_NET_WAKE_ON_FRAME).
bool frames_waiting_locked() { return g_nic != nullptr && g_nic->frames_queued_locked(); }

}  // namespace

void netd_attach_interface(NetFront* nic) {
    g_nic = nic;
    if (nic != nullptr) nic->set_rx_hook(channel_wake_netd_locked);
}

int netd_start() {
    if (g_nic == nullptr) return -POS_EIO;
    const User* system = policy_find_user("system");
    if (system == nullptr) {
        kprintf("popek-os: net: the policy declares no user `system`: netd not started\n");
        return -POS_ENOENT;
    }
    const char* argv[] = {"netd"};
    int pid = process_spawn(nullptr, system, "/bin/netd", argv, 1);
    if (pid < 0) {
        kprintf("popek-os: net: cannot start /bin/netd (error %d)\n", -pid);
        return pid;
    }
    g_netd_pid = pid;
    channel_netd_running(true);
    kprintf("popek-os: net: netd started (pid %d, user system)\n", pid);
    return pid;
}

void netd_process_exited(int pid) {
    if (g_netd_pid == 0 || pid != g_netd_pid) return;
    g_netd_pid = 0;
    channel_netd_running(false);
    kprintf("popek-os: net: netd exited; network channels closed\n");
}

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

long sys_net_open(uint64_t ukey, uint64_t mode) {
    if (mode != POS_NET_CONNECT && mode != POS_NET_ACCEPT) return -POS_EINVAL;
    const bool accept = mode == POS_NET_ACCEPT;
    const bool any = ukey == 0;
    if (any && !accept) return -POS_EINVAL;   // a connection needs a peer
    uint8_t key[POS_NET_KEY] = {};
    if (!any) {
        if (!user_readable(ukey, sizeof key)) return -POS_EFAULT;
        memcpy(key, reinterpret_cast<const void*>(ukey), sizeof key);
    }
    char object[2 * POS_NET_KEY + 1] = "*";
    if (!any) key_to_hex(key, object);
    Process* p = current_process();
    // Accept-any needs some accept rule for the user (`*` or per key); each sender is then
    // checked against the rules as its messages arrive (sys_netd_deliver).
    bool allowed = any ? policy_has_rule(p->user, Action::Accept) || authorize(p->user, Action::Accept, object)
                       : authorize(p->user, accept ? Action::Accept : Action::Connect, object);
    if (!allowed) return -POS_EACCES;
    int slot = 0;
    while (slot < kMaxOpenFiles && p->files[slot].used) ++slot;
    if (slot == kMaxOpenFiles) return -POS_EMFILE;
    long channel = channel_open(p->user, key, any, accept);
    if (channel < 0) return channel;
    p->files[slot] = {true, static_cast<int>(channel), 0, false, true};
    return 3 + slot;
}

long sys_netd_next_request(uint64_t ureq, uint64_t flags, uint64_t held) {
    if (long r = check_netd("netd_next_request"); r < 0) return r;
    if ((flags & ~uint64_t{POS_NET_NONBLOCK | POS_NET_WAKE_ON_FRAME}) != 0 || held >> kMaxChannels != 0) return -POS_EINVAL;
    if (!user_writable(ureq, sizeof(PosNetRequest))) return -POS_EFAULT;
    const bool block = (flags & POS_NET_NONBLOCK) == 0;
    auto* also_wake = (flags & POS_NET_WAKE_ON_FRAME) != 0 ? frames_waiting_locked : nullptr;
    if (!channel_next_request(g_request, block, static_cast<uint32_t>(held), also_wake)) return -POS_EAGAIN;
    size_t len = offsetof(PosNetRequest, data) + (g_request.kind == POS_NETREQ_SEND ? g_request.length : 0);
    return copy_to_user(ureq, &g_request, len);
}

long sys_netd_deliver(uint64_t umsg) {
    if (long r = check_netd("netd_deliver"); r < 0) return r;
    if (!user_readable(umsg, offsetof(PosNetMessage, data))) return -POS_EFAULT;
    memcpy(&g_delivery, reinterpret_cast<const void*>(umsg), offsetof(PosNetMessage, data));
    if (g_delivery.length > POS_NET_MAX_MESSAGE) return -POS_EINVAL;
    if (!user_readable(umsg + offsetof(PosNetMessage, data), g_delivery.length)) return -POS_EFAULT;
    memcpy(g_delivery.data, reinterpret_cast<const uint8_t*>(umsg) + offsetof(PosNetMessage, data), g_delivery.length);
    if (const User* user = channel_any_peer_user(g_delivery.channel)) {
        char sender[2 * POS_NET_KEY + 1];
        key_to_hex(g_delivery.peer, sender);
        if (!authorize(user, Action::Accept, sender)) return -POS_EACCES;   // logged as a denial
    }
    return channel_deliver(g_delivery);
}

long sys_net_stats(uint64_t ubuf, uint64_t flags) {
    if (flags != 0 && flags != POS_NET_STATS_PUBLISH) return -POS_EINVAL;
    if (flags == POS_NET_STATS_PUBLISH) {
        if (long r = check_netd("net_stats_publish"); r < 0) return r;
        if (!user_readable(ubuf, sizeof(PosNetdCounters))) return -POS_EFAULT;
        LockGuard guard(sched_lock());
        memcpy(&g_netd_counters, reinterpret_cast<const void*>(ubuf), sizeof g_netd_counters);
        return 0;
    }
    if (!user_writable(ubuf, sizeof(PosNetStats))) return -POS_EFAULT;
    if (g_nic == nullptr) return -POS_EIO;
    PosNetStats out{};
    {
        LockGuard guard(sched_lock());
        out.netd = g_netd_counters;
        out.netd_running = g_netd_pid != 0 ? 1 : 0;
        NetFront::Stats s = g_nic->stats();
        out.vif_rx_frames = s.rx_frames;
        out.vif_rx_dropped = s.rx_dropped;
        out.vif_rx_bad = s.rx_bad;
        out.vif_tx_frames = s.tx_frames;
        out.vif_tx_errors = s.tx_errors;
    }
    out.netd_request_calls = channel_netd_request_calls();
    return copy_to_user(ubuf, &out, sizeof out);
}

long net_channel_write(int channel, uint64_t ubuf, uint64_t len) {
    if (len > POS_NET_MAX_MESSAGE) return -POS_EINVAL;
    if (!user_readable(ubuf, len)) return -POS_EFAULT;
    uint8_t msg[POS_NET_MAX_MESSAGE];
    memcpy(msg, reinterpret_cast<const void*>(ubuf), len);
    return channel_write(channel, msg, len);
}

long net_channel_read(int channel, uint64_t ubuf, uint64_t len) {
    if (len < sizeof(PosNetMessage)) return -POS_EINVAL;   // room for the largest message
    if (!user_writable(ubuf, sizeof(PosNetMessage))) return -POS_EFAULT;
    PosNetMessage msg;
    long n = channel_read(channel, msg);
    if (n < 0) return n;
    if (long r = copy_to_user(ubuf, &msg, static_cast<size_t>(n)); r < 0) return r;
    return n;
}

}  // namespace pos
