/// netstat: the network counters (net_stats system call): netd's secure-net counters as it last
/// published them (names as `popek net-peer` prints them, docs/secure-net.md "Drop counters") and
/// the kernel's netif front end counters.
#include "rt/ulib.h"

using namespace pos;

int main(int, char**) {
    static PosNetStats st;
    if (long r = sys::net_stats(&st); r < 0) {
        print("netstat: %s\n", r == -POS_EIO ? "no network interface" : error_string(r));
        return 1;
    }
    const PosNetdCounters& n = st.netd;
    print("netd: %s, %lu request calls\n", st.netd_running ? "running" : "not running", st.netd_request_calls);
    print("messages: delivered %lu, received %lu (+%lu keepalive), packets sent %lu\n", n.delivered, n.rx_messages,
          n.rx_keepalives, n.tx_packets);
    print("handshakes: completed %lu (started %lu)\n", n.handshakes_completed, n.handshakes_started);
    print("dropped: malformed %lu, bad-auth %lu, replay %lu, unknown-peer %lu, no-session %lu, unroutable %lu, "
          "undeliverable %lu, refused-by-policy %lu\n",
          n.dropped_malformed, n.dropped_bad_auth, n.dropped_replay, n.dropped_unknown_peer, n.dropped_no_session,
          n.dropped_unroutable, n.dropped_undeliverable, n.refused_by_policy);
    print("vif0: rx %lu frames (dropped %lu, bad %lu), tx %lu frames (errors %lu)\n", st.vif_rx_frames, st.vif_rx_dropped,
          st.vif_rx_bad, st.vif_tx_frames, st.vif_tx_errors);
    return 0;
}
