/// netd: popek-os's network service (docs/guest-os.md "Networking (phase 2)"). The kernel starts
/// it at boot as user `system` when a vif is connected; only it may use the frame and request
/// calls. It owns the secure-net identities (each user's secret key from /etc/keys/USER, which
/// only `system` may open) and runs netsec::NetService (src/netsec/net_service.h) between the
/// kernel's channels and the interface's frames. One thread: it drains frames and requests
/// without blocking, retries Hellos, passes messages on, and when idle sleeps in the kernel until
/// a request or a frame arrives (every 10 ms only while a handshake is in progress). Its counters
/// go to the kernel for net_stats; dropped packets are also logged as their counters grow.
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
constexpr int kMaxKnown = 8;             // identities in /etc/keys/known

struct Pending {
    uint16_t len;
    uint8_t data[POS_NET_MAX_MESSAGE];
};

/// What netd knows of one kernel channel.
struct Slot {
    bool open = false, closing = false, connect = false;
    int service = -1;         // NetService channel, -1 for an unsupported one
    uint8_t peer[POS_NET_KEY]{};
    long since_ms = 0;        // when the oldest pending message was queued
    Pending pending[kPending];
    unsigned head = 0, count = 0;
    bool held = false;        // `message` taken from NetService, the kernel's inbox was full
    PosNetMessage message;
    // Accept-any (`recv` without a key): one NetService accept channel per known identity.
    bool any = false;
    int any_count = 0, next_source = 0, from = -1;
    int any_service[kMaxKnown];
    int any_known[kMaxKnown];   // index into State::known
};

struct Local {
    char user[32];
    int index;
};

struct State {
    Slot slots[kChannels];
    Local locals[NetService::kMaxIdentities];
    int local_count = 0;
    uint8_t known[kMaxKnown][POS_NET_KEY];
    uint64_t refused = 0;     // messages of accept-any channels the policy refused
    uint64_t delivered = 0;   // messages handed to the kernel for programs
    int known_count = -1;     // -1: /etc/keys/known not read yet
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

/// The known identities, read once from /etc/keys/known (lines `NAME HEX64`, `#` comments): the
/// only peers an accept-any channel accepts handshakes from. Anyone else is unknown-peer.
void load_known(State& st) {
    if (st.known_count >= 0) return;
    st.known_count = 0;
    long fd = sys::open("/etc/keys/known");
    if (fd < 0) {
        print("netd: /etc/keys/known: %s\n", error_string(fd));
        return;
    }
    static char text[4096];
    long n = sys::read(static_cast<int>(fd), text, sizeof text - 1);
    sys::close(static_cast<int>(fd));
    text[n > 0 ? n : 0] = 0;
    int line_no = 0;
    for (char* line = text; *line != 0;) {
        ++line_no;
        char* end = line;
        while (*end != 0 && *end != '\n') ++end;
        char* p = line;
        while (p < end && *p == ' ') ++p;
        if (p < end && *p != '#') {
            while (p < end && *p != ' ') ++p;   // the name
            while (p < end && *p == ' ') ++p;
            bool ok = end - p >= 64 && (end - p == 64 || p[64] == ' ') && st.known_count < kMaxKnown &&
                      parse_hex(p, 64, st.known[st.known_count]);
            if (ok) ++st.known_count;
            else print("netd: /etc/keys/known: line %d ignored (not NAME KEY, or more than %d keys)\n", line_no, kMaxKnown);
        }
        line = *end != 0 ? end + 1 : end;
    }
}

/// An accept-any channel: accept channels to every known identity (a key with a channel of its
/// own for this user keeps it).
void open_any(NetService& svc, State& st, Slot& s, int local, int channel, long now) {
    load_known(st);
    s.any = true;
    for (int k = 0; k < st.known_count && local >= 0; ++k) {
        long c = svc.open(local, st.known[k], false, static_cast<uint64_t>(now));
        if (c < 0) continue;
        s.any_service[s.any_count] = static_cast<int>(c);
        s.any_known[s.any_count++] = k;
    }
    if (s.any_count == 0) print("netd: channel %d: no known identity to accept from\n", channel);
}

void handle_request(NetService& svc, State& st, long now) {
    const PosNetRequest& r = st.req;
    if (r.channel < 0 || r.channel >= kChannels) return;
    Slot& s = st.slots[r.channel];
    if (r.kind == POS_NETREQ_OPEN) {
        s = Slot{};
        s.open = true;
        s.connect = r.mode == POS_NET_CONNECT;
        memcpy(s.peer, r.peer, sizeof s.peer);
        int local = identity_of(svc, st, r.user);
        if (r.any_peer) {
            open_any(svc, st, s, local, r.channel, now);
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

/// Takes the next received message for slot `index` into s.message: from its channel, or for an
/// accept-any slot from its channels in turn (with the sender's key); false when there is none.
bool take_message(NetService& svc, const State& st, Slot& s, int index) {
    const int sources = s.any ? s.any_count : (s.service >= 0 ? 1 : 0);
    for (int k = 0; k < sources; ++k) {
        int source = s.any ? (s.next_source + k) % sources : 0;
        int c = s.any ? s.any_service[source] : s.service;
        long n = svc.recv(c, s.message.data, sizeof s.message.data);
        if (n < 0) continue;
        s.message.channel = index;
        s.message.length = static_cast<uint32_t>(n);
        memcpy(s.message.peer, s.any ? st.known[s.any_known[source]] : s.peer, sizeof s.message.peer);
        s.from = c;
        if (s.any) s.next_source = (source + 1) % sources;
        return true;
    }
    return false;
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
        if (!s.closing) {
            // A message the kernel could not take yet (the reader's two slots are full) is held
            // and offered again first, so a slow reader slows the channel instead of losing it.
            while (s.held || take_message(svc, st, s, i)) {
                s.held = true;
                long r = sys::netd_deliver(&s.message);
                if (r == -POS_ENOSPC) break;
                s.held = false;
                if (r == -POS_EACCES) {   // accept-any: the kernel logged the policy's denial
                    ++st.refused;
                    print("netd: channel %d: message from %02x%02x%02x%02x%02x%02x%02x%02x refused by the policy\n", i,
                          s.message.peer[0], s.message.peer[1], s.message.peer[2], s.message.peer[3], s.message.peer[4],
                          s.message.peer[5], s.message.peer[6], s.message.peer[7]);
                } else if (r < 0) {
                    print("netd: channel %d: deliver: %s\n", i, error_string(r));
                } else {
                    ++st.delivered;
                    if (s.any) s.service = s.from;   // writes on an accept-any channel answer the last sender
                }
            }
        }
        if (s.closing && (s.count == 0 || s.service < 0)) {
            if (s.any) {
                for (int k = 0; k < s.any_count; ++k) svc.close(s.any_service[k]);
            } else if (s.service >= 0) {
                svc.close(s.service);
            }
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

/// True while something is due by the clock rather than by an event: a connect channel whose
/// handshake has not completed (Hello retries at growing intervals: hello_retry_delay_ms) or messages
/// waiting for it (dropped after kSendGiveUpMs).
bool waiting_on_time(const NetService& svc, const State& st) {
    for (const Slot& s : st.slots)
        if (s.open && s.service >= 0 && (s.count > 0 || (s.connect && !svc.connected(s.service)))) return true;
    return false;
}

/// Publishes the counters to the kernel (net_stats) whenever one changed, and logs the drop
/// counters (names as `popek net-peer` prints them) whenever one of them grew.
void publish_stats(const NetService& svc, const State& st) {
    static PosNetdCounters last;
    PosNetdCounters now{};
    for (int i = 0; i < st.local_count; ++i) {
        const Counters& c = svc.counters(st.locals[i].index);
        now.tx_packets += c.tx_packets;
        now.rx_messages += c.rx_messages;
        now.rx_keepalives += c.rx_keepalives;
        now.handshakes_started += c.handshakes_started;
        now.handshakes_completed += c.handshakes_completed;
        now.dropped_malformed += c.dropped_malformed;
        now.dropped_bad_auth += c.dropped_bad_auth;
        now.dropped_replay += c.dropped_replay;
        now.dropped_unknown_peer += c.dropped_unknown_peer;
        now.dropped_no_session += c.dropped_no_session;
    }
    now.dropped_unroutable = svc.dropped_unroutable();
    now.dropped_undeliverable = svc.dropped_undeliverable();
    now.refused_by_policy = st.refused;
    now.delivered = st.delivered;
    if (memcmp(&now, &last, sizeof now) == 0) return;
    if (long r = sys::net_stats_publish(&now); r < 0) print("netd: net_stats: %s\n", error_string(r));
    if (now.dropped_malformed != last.dropped_malformed || now.dropped_bad_auth != last.dropped_bad_auth ||
        now.dropped_replay != last.dropped_replay || now.dropped_unknown_peer != last.dropped_unknown_peer ||
        now.dropped_no_session != last.dropped_no_session || now.dropped_unroutable != last.dropped_unroutable)
        print("netd: dropped: malformed %lu, bad-auth %lu, replay %lu, unknown-peer %lu, no-session %lu, unroutable %lu\n",
              now.dropped_malformed, now.dropped_bad_auth, now.dropped_replay, now.dropped_unknown_peer,
              now.dropped_no_session, now.dropped_unroutable);
    last = now;
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
        svc.tick(static_cast<uint64_t>(now));
        service_channels(svc, st, now);
        publish_stats(svc, st);
        if (busy) continue;
        if (waiting_on_time(svc, st)) {   // Hello retries and the give-up run on the clock
            sys::sleep_ms(10);
            continue;
        }
        // Idle: sleep in the kernel until a program opens, writes or closes a channel, a reader
        // makes room for a held message, or a frame arrives (the netfront event wakes us).
        if (sys::netd_next_request(&st.req, POS_NET_WAKE_ON_FRAME, held_mask(st)) == 0)
            handle_request(svc, st, sys::uptime_ms());
    }
}
