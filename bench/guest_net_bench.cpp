// Encrypted channel throughput guest -> host (issue 7 item 9; docs/secure-net.md "Throughput
// guest -> host"): popek-os under `--xen --net dgram=` runs `netbench KEY BYTES` (one channel,
// 1400-byte messages, windowed by the receiver's acknowledgements) and `popek net-peer
// --recv-bytes BYTES` receives it on the host, checking every byte. Printed next to two baselines
// measured in the same run: the bare XChaCha20-Poly1305 encrypt + decrypt on the host, and
// host -> host secure-net over the same unix datagram transport.
//
// usage: guest_net_bench [--bytes N] [--runs R]
#include "bench_args.h"
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "../tests/backend/test_peer_key.h"
#include "child_process.h"
#include "netsec_baselines.h"
#include "popek/pvabi/netbench.h"
#include "vm_console.h"

namespace {

using namespace bench;
namespace fs = std::filesystem;

struct Transfer {
    double host_mb_s = -1;   ///< as the host receiver measured it (first to last message)
    double guest_kb_s = -1;  ///< as netbench measured it with the guest's 10 ms clock
    std::string failure;
};

/// One boot: the guest streams `bytes` bytes to a `popek net-peer --recv-bytes` on the host.
Transfer transfer(const std::string& accel, long bytes) {
    Transfer t;
    char tmpl[] = "/tmp/popek-guest-net-bench-XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const fs::path key = dir / "host.key";
    std::ofstream(key) << popek::test::kTestPeerSecret << "\n";
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    const std::string vm_sock = (dir / "vm.sock").string(), peer_sock = (dir / "peer.sock").string();
    {
        Console vm({POPEK_BINARY, "run", "--xen", "--accel", accel, "--kernel", POPEK_OS_ELF, "--net",
                    "dgram=" + vm_sock + "," + peer_sock});
        std::smatch m;
        if (vm.wait_for("$ ", 60) < 0) t.failure = "no prompt";
        vm.type("whoami\n");
        std::string guest_key;
        if (t.failure.empty() && vm.wait_for("\n$ ", 30) > 0 &&
            std::regex_search(vm.seen(), m, std::regex("alice key=([0-9a-f]{64})")))
            guest_key = m[1];
        else if (t.failure.empty())
            t.failure = "whoami failed";
        if (t.failure.empty()) {
            RunResult peer;
            std::thread receiver([&] {
                peer = run_once({POPEK_BINARY, "net-peer", "--key", key.string(), "--peer", guest_key, "--dgram",
                                 peer_sock + "," + vm_sock, "--recv-bytes", std::to_string(bytes), "--timeout", "60"},
                                "\x01never", 600, nullptr, true);
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(300));   // the peer binds its socket
            vm.type("netbench " + std::string(popek::test::kTestPeerPublic) + " " + std::to_string(bytes) + "\n");
            vm.wait_for("netbench: ", 600);
            vm.wait_for("\n$ ", 600);
            receiver.join();
            if (std::regex_search(peer.output, m, std::regex(R"(stream: ([0-9]+) of ([0-9]+) bytes verified.* ([0-9.]+) MB/s)")) &&
                peer.status == 0)
                t.host_mb_s = std::stod(m[3]);
            else
                t.failure = "receiver: " + peer.output.substr(peer.output.size() > 400 ? peer.output.size() - 400 : 0);
            if (std::regex_search(vm.seen(), m, std::regex(R"(netbench: [0-9]+ bytes in [0-9]+ messages, [0-9]+ ms, ([0-9]+) KB/s)")))
                t.guest_kb_s = std::stod(m[1]);
        }
    }
    fs::remove_all(dir);
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    long bytes = 2 << 20;
    int runs = 3;
    if (auto rc = parse_bench_args(argc, argv, "usage: guest_net_bench [--bytes N] [--runs N]",
                                   {{"--bytes", [&](const std::string& v) { bytes = std::max(1L, std::atol(v.c_str())); }},
                                    {"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }}}))
        return *rc;
    if (sodium_init() < 0) return 2;
    std::printf("guest_net_bench: %ld bytes guest -> host in %d-byte messages, median of %d boots\n", bytes,
                NETBENCH_MESSAGE, runs);
    const long messages = 200000;
    double raw = raw_aead_mb_s(messages, NETBENCH_MESSAGE);
    double loss = 0;
    double dgram = dgram_mb_s(messages, NETBENCH_MESSAGE, &loss);
    std::printf("  raw XChaCha20-Poly1305 encrypt+decrypt, host (baseline)   %8.2f MB/s\n", raw);
    std::printf("  secure-net host->host over unix datagrams (baseline)      %8.2f MB/s  (%.2f%% lost)\n", dgram, loss * 100);
    for (const char* accel : {"kvm", "interp"}) {
        if (std::string(accel) == "kvm" && !kvm_usable()) {
            std::printf("  popek --xen --accel kvm: skipped (/dev/kvm not usable)\n");
            continue;
        }
        std::vector<double> host, guest;
        std::string failure;
        for (int r = 0; r < runs; ++r) {
            Transfer t = transfer(accel, bytes);
            if (!t.failure.empty()) failure = t.failure;
            host.push_back(t.host_mb_s);
            guest.push_back(t.guest_kb_s / 1e3);
        }
        double mb_s = median(host);
        if (mb_s < 0) {
            std::printf("  popek --xen --accel %-6s guest->host: failed: %s\n", accel, failure.c_str());
            continue;
        }
        std::printf("  popek --xen --accel %-6s guest->host (popek-os netbench)  %8.2f MB/s  (%.4fx raw, %.4fx host->host; "
                    "guest clock %.2f MB/s)%s\n",
                    accel, mb_s, mb_s / raw, mb_s / dgram, median(guest), failure.empty() ? "" : " (a run failed)");
    }
    return 0;
}
