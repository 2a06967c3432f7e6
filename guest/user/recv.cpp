/// recv [KEY]: waits for one message from the peer with public key KEY (without KEY: from any
/// known identity the policy lets the user accept) over an authenticated, encrypted channel
/// (net_open accept, read) and prints it as `popek net-peer` does: the first 16 hex digits of the
/// sender's key, ": ", the message with bytes other than printable ASCII as \xNN.
#include "rt/ulib.h"

using namespace pos;

int main(int argc, char** argv) {
    uint8_t key[POS_NET_KEY];
    if (argc > 2 || (argc == 2 && (strlen(argv[1]) != 64 || !parse_hex(argv[1], 64, key)))) {
        print("usage: recv [KEY] (KEY: 64 hex digits; none: any peer the policy allows)\n");
        return 2;
    }
    long fd = sys::net_open(argc == 2 ? key : nullptr, POS_NET_ACCEPT);
    if (fd < 0) {
        char prefix[17];
        copy_string(prefix, sizeof prefix, argc == 2 ? argv[1] : "*");   // the first 16 digits, as net-peer names keys
        print("recv: %s: %s\n", prefix, net_open_error(fd));
        return 1;
    }
    static PosNetMessage msg;
    long n = sys::read(static_cast<int>(fd), &msg, sizeof msg);
    sys::close(static_cast<int>(fd));
    if (n < 0) {
        print("recv: %s\n", error_string(n));
        return 1;
    }
    static const char kDigits[] = "0123456789abcdef";
    char line[16 + 2 + 4 * POS_NET_MAX_MESSAGE + 2];
    size_t at = 0;
    for (int i = 0; i < 8; ++i) {
        line[at++] = kDigits[msg.peer[i] >> 4];
        line[at++] = kDigits[msg.peer[i] & 15];
    }
    line[at++] = ':';
    line[at++] = ' ';
    for (uint32_t i = 0; i < msg.length && i < POS_NET_MAX_MESSAGE; ++i) {
        uint8_t c = msg.data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            line[at++] = static_cast<char>(c);
        } else {
            line[at++] = '\\';
            line[at++] = 'x';
            line[at++] = kDigits[c >> 4];
            line[at++] = kDigits[c & 15];
        }
    }
    line[at++] = '\n';
    sys::write(1, line, at);
    return 0;
}
