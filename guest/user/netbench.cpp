/// netbench KEY BYTES: streams BYTES bytes to the peer KEY over one authenticated, encrypted
/// channel as fast as the protocol allows, in messages of 1400 bytes with a sequence number and
/// a checkable pattern, keeping at most NETBENCH_WINDOW messages unacknowledged (the stream and
/// its acknowledgements: include/popek/pvabi/netbench.h; the host end is `popek net-peer
/// --recv-bytes BYTES`). Prints the rate by the kernel's clock (10 ms ticks).
#include "popek/pvabi/netbench.h"
#include "rt/ulib.h"

using namespace pos;

namespace {

long parse_count(const char* s) {
    long v = 0;
    for (; *s >= '0' && *s <= '9'; ++s) {
        if (v > (1L << 40)) return -1;
        v = v * 10 + (*s - '0');
    }
    return *s == 0 && v > 0 ? v : -1;
}

/// Waits for the next acknowledgement on `fd`; the messages it accounts for, or a negative error.
long read_ack(int fd) {
    static PosNetMessage msg;
    for (;;) {
        long n = sys::read(fd, &msg, sizeof msg);
        if (n < 0) return n;
        if (msg.length != NETBENCH_ACK_BYTES) continue;   // not an acknowledgement
        uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = v << 8 | msg.data[i];
        return static_cast<long>(v);
    }
}

}  // namespace

int main(int argc, char** argv) {
    uint8_t key[POS_NET_KEY];
    long bytes = argc == 3 ? parse_count(argv[2]) : -1;
    if (argc != 3 || strlen(argv[1]) != 64 || !parse_hex(argv[1], 64, key) || bytes < 0) {
        print("usage: netbench KEY BYTES (KEY: 64 hex digits)\n");
        return 2;
    }
    long fd = sys::net_open(key, POS_NET_CONNECT);
    if (fd < 0) {
        char prefix[17];
        copy_string(prefix, sizeof prefix, argv[1]);
        print("netbench: %s: %s\n", prefix, net_open_error(fd));
        return 1;
    }
    const int channel = static_cast<int>(fd);
    const uint64_t total = netbench_messages(static_cast<uint64_t>(bytes));
    static uint8_t msg[NETBENCH_MESSAGE];
    uint64_t sent = 0, acked = 0;
    long start = sys::uptime_ms();
    long err = 0;
    while (err >= 0 && acked < total) {
        if (sent < total && sent - acked < NETBENCH_WINDOW) {
            uint32_t len = netbench_length(static_cast<uint64_t>(bytes), sent);
            for (uint32_t j = 0; j < len; ++j) msg[j] = netbench_byte(sent, j);
            err = sys::write(channel, msg, len);
            ++sent;
            continue;
        }
        err = read_ack(channel);
        if (err >= 0 && static_cast<uint64_t>(err) > acked) acked = static_cast<uint64_t>(err);
    }
    long ms = sys::uptime_ms() - start;
    sys::close(channel);
    if (err < 0) {
        print("netbench: %s after %lu of %lu messages\n", error_string(err), sent, total);
        return 1;
    }
    long kb_s = ms > 0 ? bytes / ms : 0;   // bytes per ms = KB/s
    print("netbench: %ld bytes in %lu messages, %ld ms, %ld KB/s\n", bytes, total, ms, kb_s);
    return 0;
}
