#include "net/channels.h"

#include "auth/policy.h"
#include "common/string.h"
#include "proc/sched.h"

namespace pos {
namespace {

struct Message {
    uint16_t len;
    uint8_t peer[POS_NET_KEY];
    uint8_t data[POS_NET_MAX_MESSAGE];
};

constexpr unsigned kSlots = 2;

struct Ring {
    Message slot[kSlots];
    unsigned head = 0, count = 0;
    bool full() const { return count == kSlots; }
    Message& push() { return slot[(head + count++) % kSlots]; }
    Message& front() { return slot[head]; }
    void pop() {
        head = (head + 1) % kSlots;
        --count;
    }
};

enum class State : uint8_t { Free, Opening, Open, Closing };

struct Channel {
    State state = State::Free;
    bool told_open = false;   // netd has seen the OPEN
    bool accept = false, any_peer = false;
    const User* user = nullptr;
    uint8_t peer[POS_NET_KEY]{};
    Ring out, in;
    WaitQueue readers, writers;
};

Channel g_channels[kMaxChannels];
WaitQueue g_netd_waiting;
bool g_netd = false;
uint64_t g_netd_request_calls = 0;   // netd_next_request calls: how often netd looked for work

bool valid(int c) { return c >= 0 && c < kMaxChannels && g_channels[c].state != State::Free; }

/// The next request in table order; per channel: OPEN, then its messages, then CLOSE. Channels
/// in `held` (bit per channel) whose OPEN netd has seen are skipped: netd cannot take their
/// messages yet, so they stay here and their writers block (flow control, no loss).
bool take_request_locked(PosNetRequest& req, uint32_t held) {
    for (int i = 0; i < kMaxChannels; ++i) {
        Channel& c = g_channels[i];
        if (c.state == State::Free) continue;
        if (c.told_open && (held & (1u << i)) != 0) continue;
        memset(&req, 0, offsetof(PosNetRequest, data));
        req.channel = i;
        if (!c.told_open) {
            if (c.state == State::Closing && c.out.count == 0) {   // closed before netd knew: nothing to do
                c.state = State::Free;
                continue;
            }
            c.told_open = true;
            if (c.state == State::Opening) c.state = State::Open;   // a Closing one still sends first
            req.kind = POS_NETREQ_OPEN;
            req.mode = c.accept ? POS_NET_ACCEPT : POS_NET_CONNECT;
            req.any_peer = c.any_peer;
            copy_string(req.user, sizeof req.user, c.user->name);
            memcpy(req.peer, c.peer, sizeof req.peer);
            return true;
        }
        if (c.out.count > 0) {
            Message& m = c.out.front();
            req.kind = POS_NETREQ_SEND;
            req.length = m.len;
            memcpy(req.peer, c.peer, sizeof req.peer);
            memcpy(req.data, m.data, m.len);
            c.out.pop();
            c.writers.wake_all_locked();
            return true;
        }
        if (c.state == State::Closing) {
            req.kind = POS_NETREQ_CLOSE;
            c.state = State::Free;
            c.in.count = 0;
            return true;
        }
    }
    return false;
}

}  // namespace

long channel_open(const User* user, const uint8_t* peer, bool any_peer, bool accept) {
    LockGuard guard(sched_lock());
    if (!g_netd) return -POS_EIO;
    for (int i = 0; i < kMaxChannels; ++i) {
        Channel& c = g_channels[i];
        if (c.state != State::Free) continue;
        c.state = State::Opening;
        c.told_open = false;
        c.accept = accept;
        c.any_peer = any_peer;
        c.user = user;
        if (!any_peer) memcpy(c.peer, peer, sizeof c.peer);
        else memset(c.peer, 0, sizeof c.peer);
        c.out.head = c.out.count = c.in.head = c.in.count = 0;
        g_netd_waiting.wake_all_locked();
        return i;
    }
    return -POS_ENOSPC;
}

long channel_write(int channel, const void* kbuf, size_t len) {
    if (len > POS_NET_MAX_MESSAGE) return -POS_EINVAL;
    LockGuard guard(sched_lock());
    if (!valid(channel)) return -POS_EBADF;
    Channel& c = g_channels[channel];
    while (c.out.full() && g_netd) c.writers.wait_locked();
    if (!g_netd) return -POS_EIO;
    Message& m = c.out.push();
    m.len = static_cast<uint16_t>(len);
    memcpy(m.data, kbuf, len);
    g_netd_waiting.wake_all_locked();
    return static_cast<long>(len);
}

long channel_read(int channel, PosNetMessage& out) {
    LockGuard guard(sched_lock());
    if (!valid(channel)) return -POS_EBADF;
    Channel& c = g_channels[channel];
    while (c.in.count == 0 && g_netd) c.readers.wait_locked();
    if (c.in.count == 0) return -POS_EIO;
    Message& m = c.in.front();
    out.channel = channel;
    out.length = m.len;
    memcpy(out.peer, m.peer, sizeof out.peer);
    memcpy(out.data, m.data, m.len);
    c.in.pop();
    g_netd_waiting.wake_all_locked();   // netd may hold a message for this channel
    return static_cast<long>(offsetof(PosNetMessage, data) + out.length);
}

void channel_close(int channel) {
    LockGuard guard(sched_lock());
    if (!valid(channel)) return;
    Channel& c = g_channels[channel];
    if (!g_netd) {
        c.state = State::Free;
        return;
    }
    c.state = State::Closing;
    g_netd_waiting.wake_all_locked();
}

bool channel_next_request(PosNetRequest& req, bool block, uint32_t held, bool (*also_wake_locked)()) {
    LockGuard guard(sched_lock());
    ++g_netd_request_calls;
    for (;;) {
        if (take_request_locked(req, held)) return true;
        if (!block || (also_wake_locked != nullptr && also_wake_locked())) return false;
        g_netd_waiting.wait_locked();
    }
}

void channel_wake_netd_locked() { g_netd_waiting.wake_all_locked(); }

uint64_t channel_netd_request_calls() {
    LockGuard guard(sched_lock());
    return g_netd_request_calls;
}

const User* channel_any_peer_user(int channel) {
    LockGuard guard(sched_lock());
    if (channel < 0 || channel >= kMaxChannels || g_channels[channel].state != State::Open) return nullptr;
    return g_channels[channel].any_peer ? g_channels[channel].user : nullptr;
}

long channel_deliver(const PosNetMessage& msg) {
    if (msg.length > POS_NET_MAX_MESSAGE) return -POS_EINVAL;
    LockGuard guard(sched_lock());
    int i = msg.channel;
    if (i < 0 || i >= kMaxChannels || g_channels[i].state != State::Open) return -POS_EINVAL;
    Channel& c = g_channels[i];
    if (c.in.full()) return -POS_ENOSPC;
    Message& m = c.in.push();
    m.len = static_cast<uint16_t>(msg.length);
    memcpy(m.peer, msg.peer, sizeof m.peer);
    memcpy(m.data, msg.data, msg.length);
    c.readers.wake_all_locked();
    return 0;
}

void channel_netd_running(bool running) {
    LockGuard guard(sched_lock());
    g_netd = running;
    if (running) return;
    for (Channel& c : g_channels) {
        c.readers.wake_all_locked();
        c.writers.wake_all_locked();
    }
}

}  // namespace pos
