#pragma once
/// `popek net-peer`: a host program that speaks secure-net over a unix datagram link
/// (docs/secure-net.md "popek net-peer"): generate a key, send messages, receive, echo.
#include <string>
#include <vector>

namespace popek::netsec {

struct NetPeerOptions {
    std::string gen_key_path;        ///< --gen-key FILE: write a new identity, print its public key
    std::string key_path;            ///< --key FILE: this peer's identity
    bool print_public = false;       ///< --public: print the public key of --key and exit
    std::vector<std::string> peers;  ///< --peer HEX: accepted identities; messages go to the first
    std::string local_path, remote_path;  ///< --dgram LOCAL,REMOTE
    std::vector<std::string> messages;    ///< --send MSG (in order)
    int receive_count = 0;           ///< --recv N: wait for N messages (after sending)
    uint64_t receive_bytes = 0;      ///< --recv-bytes N: receive, verify and acknowledge a netbench
                                     ///< stream of N bytes (include/popek/pvabi/netbench.h)
    bool echo = false;               ///< --echo: send every received message back
    double timeout_s = 10;           ///< --timeout: give up after this long without progress (0: never)
};

/// Runs the tool; the process exit status (0 ok, 1 failed or timed out, 2 usage error).
int run_net_peer(const NetPeerOptions& options);

}  // namespace popek::netsec
