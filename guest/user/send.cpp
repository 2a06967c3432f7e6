/// send KEY MESSAGE...: sends one message to the peer with public key KEY (64 hex digits) over an
/// authenticated, encrypted channel (net_open connect, write, close; docs/guest-os.md
/// "Networking (phase 2)"). The policy decides whom each user may connect to.
#include "rt/ulib.h"

using namespace pos;

int main(int argc, char** argv) {
    uint8_t key[POS_NET_KEY];
    if (argc < 3 || strlen(argv[1]) != 64 || !parse_hex(argv[1], 64, key)) {
        print("usage: send KEY MESSAGE (KEY: 64 hex digits)\n");
        return 2;
    }
    static char msg[POS_NET_MAX_MESSAGE + 1];
    size_t len = 0;
    for (int i = 2; i < argc; ++i) {
        size_t n = strlen(argv[i]);
        if (len + n + (i > 2) > POS_NET_MAX_MESSAGE) {
            print("send: message longer than %d bytes\n", POS_NET_MAX_MESSAGE);
            return 1;
        }
        if (i > 2) msg[len++] = ' ';
        memcpy(msg + len, argv[i], n);
        len += n;
    }
    long fd = sys::net_open(key, POS_NET_CONNECT);
    if (fd < 0) {
        char prefix[17];
        copy_string(prefix, sizeof prefix, argv[1]);   // the first 16 digits, as net-peer names keys
        print("send: %s: %s\n", prefix, net_open_error(fd));
        return 1;
    }
    long r = sys::write(static_cast<int>(fd), msg, len);
    sys::close(static_cast<int>(fd));
    if (r < 0) {
        print("send: %s\n", error_string(r));
        return 1;
    }
    return 0;
}
