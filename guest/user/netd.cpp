/// netd: popek-os's network service (docs/guest-os.md "Networking (phase 2)"). The kernel starts
/// it at boot as user `system` when a vif is connected; only it may use the frame and request
/// calls. It owns the secure-net identities (each user's secret key from /etc/keys/USER, which
/// only `system` may open) and runs netsec::NetService (src/netsec/net_service.h) between the
/// kernel's channels and the interface's frames. One thread: it drains frames and requests
/// without blocking, retries Hellos, passes messages on, and sleeps a tick when idle. Dropped
/// packets are logged on the console as their counters grow.
#include <sodium.h>

#include <new>

#include "netsec/endpoint.h"
#include "netsec/net_service.h"
#include "rt/ulib.h"
#include "sodium_shim/shim.h"

using namespace pos;
using namespace popek::netsec;

namespace {

constexpr int kChannels = 16;            // the kernel's kMaxChannels
constexpr long kSendGiveUpMs = 15000;    // a message whose handshake never completes is dropped
constexpr unsigned kPending = 2;         // the kernel's per-channel outgoing slots

struct Pending {
    uint16_t len;
    uint8_t data[POS_NET_MAX_MESSAGE];
};

/// What netd knows of one kernel channel.
struct Slot {
    bool open = false, closing = false;
    int service = -1;         // NetService channel, -1 for an unsupported one
    uint8_t peer[POS_NET_KEY]{};
    long since_ms = 0;        // when the oldest pending message was queued
    Pending pending[kPending];
    unsigned head = 0, count = 0;
    bool held = false;        // `message` taken from NetService, the kernel's inbox was full
    PosNetMessage message;
};

struct Local {
    char user[32];
    int index;
};

struct State {
    Slot slots[kChannels];
    Local locals[NetService::kMaxIdentities];
    int local_count = 0;
    PosNetRequest req;
    uint8_t frame[kMaxFrame];
};

void transmit(void*, const uint8_t* frame, size_t len) {
    if (long r = sys::netd_frame_tx(frame, len); r < 0) print("netd: frame_tx: %s\n", error_string(r));
}

/// The NetService identity of `user`, loading /etc/keys/USER the first time; -1 on failure.
int identity_of(NetService& svc, State& st, const char* user) {
    for (int i = 0; i < st.local_count; ++i)
        if (strcmp(st.locals[i].user, user) == 0) return st.locals[i].index;
    if (st.local_count == NetService::kMaxIdentities) return -1;
    char path[64];
    format(path, sizeof path, "/etc/keys/%s", user);
    long fd = sys::open(path);
    if (fd < 0) {
        print("netd: %s: %s\n", path, error_string(fd));
        return -1;
    }
    char text[80] = {};
    long n = sys::read(static_cast<int>(fd), text, sizeof text - 1);
    sys::close(static_cast<int>(fd));
    uint8_t secret[kKeyBytes];
    Identity id;
    if (n < 64 || !parse_hex(text, 64, secret) || !identity_from_secret(id, secret)) {
        print("netd: %s: not a secret key\n", path);
        return -1;
    }
    sodium_memzero(secret, sizeof secret);
    long index = svc.add_identity(id);
    sodium_memzero(&id, sizeof id);
    if (index < 0) return -1;
    Local& l = st.locals[st.local_count++];
    copy_string(l.user, sizeof l.user, user);
    l.index = static_cast<int>(index);
    return l.index;
}

void handle_request(NetService& svc, State& st, long now) {
    const PosNetRequest& r = st.req;
    if (r.channel < 0 || r.channel >= kChannels) return;
    Slot& s = st.slots[r.channel];
    if (r.kind == POS_NETREQ_OPEN) {
        s = Slot{};
        s.open = true;
        memcpy(s.peer, r.peer, sizeof s.peer);
        int local = identity_of(svc, st, r.user);
        if (r.any_peer) {
            print("netd: channel %d: accepting any key is not supported yet\n", r.channel);
        } else if (local >= 0) {
            long c = svc.open(local, r.peer, r.mode == POS_NET_CONNECT, static_cast<uint64_t>(now));
            if (c < 0) print("netd: channel %d: open: %s\n", r.channel, error_string(c));
            s.service = c < 0 ? -1 : static_cast<int>(c);
        }
    } else if (r.kind == POS_NETREQ_SEND && s.open) {
        if (s.count == kPending) {   // never: a full slot is in the `held` mask of the request call
            print("netd: channel %d: message dropped (queue full)\n", r.channel);
            return;
        }
        Pending& p = s.pending[(s.head + s.count++) % kPending];
        p.len = static_cast<uint16_t>(r.length);
        memcpy(p.data, r.data, r.length);
        if (s.count == 1) s.since_ms = now;
    } else if (r.kind == POS_NETREQ_CLOSE) {
        s.closing = true;   // after its pending messages went out (or gave up)
    }
}

/// Sends pending messages of established channels, delivers received ones, closes finished ones.
void service_channels(NetService& svc, State& st, long now) {
    for (int i = 0; i < kChannels; ++i) {
        Slot& s = st.slots[i];
        if (!s.open) continue;
        while (s.count > 0 && s.service >= 0) {
            Pending& p = s.pending[s.head];
            long r = svc.send(s.service, p.data, p.len);
            if (r == kErrAgain && now - s.since_ms < kSendGiveUpMs) break;
            if (r < 0) print("netd: channel %d: message dropped (%s)\n", i, r == kErrAgain ? "no handshake" : error_string(r));
            s.head = (s.head + 1) % kPending;
            s.count--;
            s.since_ms = now;
        }
        if (s.service >= 0 && !s.closing) {
            // A message the kernel could not take yet (the reader's two slots are full) is held
            // and offered again first, so a slow reader slows the channel instead of losing it.
            for (;;) {
                if (!s.held) {
                    long n = svc.recv(s.service, s.message.data, sizeof s.message.data);
                    if (n < 0) break;
                    s.message.channel = i;
                    s.message.length = static_cast<uint32_t>(n);
                    memcpy(s.message.peer, s.peer, sizeof s.message.peer);
                    s.held = true;
                }
                long r = sys::netd_deliver(&s.message);
                if (r == -POS_ENOSPC) break;
                if (r < 0) print("netd: channel %d: deliver: %s\n", i, error_string(r));
                s.held = false;
            }
        }
        if (s.closing && (s.count == 0 || s.service < 0)) {
            if (s.service >= 0) svc.close(s.service);
            s = Slot{};
        }
    }
}

/// The channels whose outgoing queue is full: the kernel keeps their messages (and their writers
/// blocked) until netd has sent what it holds.
uint32_t held_mask(const State& st) {
    uint32_t mask = 0;
    for (int i = 0; i < kChannels; ++i)
        if (st.slots[i].open && st.slots[i].count == kPending) mask |= 1u << i;
    return mask;
}

/// Logs the drop counters (names as `popek net-peer` prints them) whenever one of them grew.
void report_drops(const NetService& svc, const State& st) {
    static uint64_t last[6];
    uint64_t now[6] = {0, 0, 0, 0, 0, svc.dropped_unroutable()};
    for (int i = 0; i < st.local_count; ++i) {
        const Counters& c = svc.counters(st.locals[i].index);
        now[0] += c.dropped_malformed;
        now[1] += c.dropped_bad_auth;
        now[2] += c.dropped_replay;
        now[3] += c.dropped_unknown_peer;
        now[4] += c.dropped_no_session;
    }
    if (memcmp(now, last, sizeof now) == 0) return;
    memcpy(last, now, sizeof now);
    print("netd: dropped: malformed %lu, bad-auth %lu, replay %lu, unknown-peer %lu, no-session %lu, unroutable %lu\n",
          now[0], now[1], now[2], now[3], now[4], now[5]);
}

}  // namespace

int main(int, char**) {
    if (pos_sodium_init() < 0) {
        print("netd: sodium_init failed\n");
        return 1;
    }
    alignas(NetService) static unsigned char service_storage[sizeof(NetService)];
    alignas(State) static unsigned char state_storage[sizeof(State)];
    NetService& svc = *new (service_storage) NetService(transmit, nullptr);
    State& st = *new (state_storage) State;
    for (;;) {
        bool busy = false;
        long n;
        while ((n = sys::netd_frame_rx(st.frame, sizeof st.frame, POS_NET_NONBLOCK)) > 0) {
            svc.on_frame(st.frame, static_cast<size_t>(n));
            busy = true;
        }
        long now = sys::uptime_ms();
        while (sys::netd_next_request(&st.req, POS_NET_NONBLOCK, held_mask(st)) == 0) {
            handle_request(svc, st, now);
            busy = true;
        }
        if (busy) report_drops(svc, st);
        svc.tick(static_cast<uint64_t>(now));
        service_channels(svc, st, now);
        if (!busy) sys::sleep_ms(10);
    }
}
