// Sealed disk throughput (issue 16; docs/guest-os.md "Storage", "Figures"): popek-os under
// `--xen --disk` runs `sdisk bench KIB`, which times sequential 64 KiB writes and reads of KIB KiB
// on the raw blkif disk and then through the sealed layer (per 4 KiB unit the cipher sdisk picks:
// AES-256-GCM where the guest's CPUID has AES-NI and PCLMULQDQ, else XChaCha20-Poly1305; the guest
// names it and so does this report), in one boot. Printed next to host baselines measured in the
// same run, for both ciphers: the bare AEAD encrypt + decrypt of 4 KiB units, and the same
// sealdisk::Volume code on the host over an in-memory disk. The ratio that matters is sealed /
// raw inside the guest (target >= 0.5).
//
// usage: guest_disk_bench [--kib N] [--runs R] [--cipher aes256gcm|xchacha20] [--accel LIST]
#include "bench_args.h"
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "../tests/unit/sealdisk_test_util.h"
#include "child_process.h"
#include "netsec_baselines.h"
#include "vm_console.h"

namespace {

using namespace bench;
namespace fs = std::filesystem;
namespace sd = popek::sealdisk;

struct Figures {
    double raw_w = -1, raw_r = -1, sealed_w = -1, sealed_r = -1;   ///< MB/s as the guest measured them
    std::string cipher;                                              ///< as the guest named it
    std::string failure;
};

/// One boot of popek-os with a fresh 8 MiB disk: `sdisk bench kib`.
Figures guest_run(const std::string& accel, long kib, const std::string& cipher) {
    Figures f;
    char tmpl[] = "/tmp/popek-guest-disk-bench-XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const fs::path disk = dir / "disk.img";
    std::ofstream(disk).close();
    fs::resize_file(disk, 8 << 20);
    {
        Console vm({POPEK_BINARY, "run", "--xen", "--accel", accel, "--kernel", POPEK_OS_ELF, "--disk", disk.string()});
        if (vm.wait_for("$ ", 60) < 0) f.failure = "no prompt";
        vm.type("sdisk bench " + std::to_string(kib) + (cipher.empty() ? "" : " --cipher " + cipher) + "\n");
        if (f.failure.empty() && vm.wait_for("sealed/raw", 600) < 0) f.failure = "no result: " + vm.seen();
        vm.type("exit\n");
        std::smatch m;
        const std::regex line(R"(sdisk bench: [0-9]+ KiB (raw|sealed) write [0-9]+ us ([0-9]+) KB/s read [0-9]+ us ([0-9]+) KB/s)");
        std::string seen = vm.seen();
        if (std::regex_search(seen, m, std::regex(R"(sdisk bench: cipher ([a-z0-9-]+))"))) f.cipher = m[1];
        for (auto it = std::sregex_iterator(seen.begin(), seen.end(), line); it != std::sregex_iterator(); ++it) {
            double w = std::stod((*it)[2]) / 1e3, r = std::stod((*it)[3]) / 1e3;
            if ((*it)[1] == "raw") f.raw_w = w, f.raw_r = r;
            else f.sealed_w = w, f.sealed_r = r;
        }
        if (f.failure.empty() && (f.raw_w < 0 || f.sealed_w < 0)) f.failure = "unparsed output";
    }
    fs::remove_all(dir);
    return f;
}

/// Bare AES-256-GCM (libsodium's AES-NI code, expanded key reused) encrypt + decrypt of `size`-byte messages.
double raw_aes_gcm_mb_s(long messages, size_t size) {
    std::vector<uint8_t> msg(size, 0x42), sealed(size), opened(size);
    uint8_t key[crypto_aead_aes256gcm_KEYBYTES], nonce[crypto_aead_aes256gcm_NPUBBYTES] = {}, ad[16] = {}, tag[16];
    crypto_aead_aes256gcm_keygen(key);
    crypto_aead_aes256gcm_state st;
    crypto_aead_aes256gcm_beforenm(&st, key);
    double t0 = now_s();
    for (long i = 0; i < messages; ++i) {
        sd::store_le64(nonce, static_cast<uint64_t>(i));
        crypto_aead_aes256gcm_encrypt_detached_afternm(sealed.data(), tag, nullptr, msg.data(), size, ad, sizeof ad, nullptr, nonce, &st);
        if (crypto_aead_aes256gcm_decrypt_detached_afternm(opened.data(), nullptr, sealed.data(), size, tag, ad, sizeof ad, nonce, &st) != 0)
            std::abort();
    }
    return static_cast<double>(messages) * static_cast<double>(size) / (now_s() - t0) / 1e6;
}

/// The same Volume code on the host over memory (format with `cipher`): write then read `mib` MiB; MB/s each.
std::pair<double, double> host_volume_mb_s(long mib, uint32_t cipher) {
    sd::testing::MemoryDisk disk(static_cast<uint64_t>(mib) * 2048 * 9 / 8 + 64);   // data + tree
    std::vector<uint8_t> tree(16384 * sd::kSectorSize);
    sd::Volume v;
    if (v.format(disk.device(), sd::testing::test_secret(), tree.data(), tree.size(), cipher) != sd::Status::Ok) std::abort();
    std::vector<uint8_t> chunk(128 * sd::kSectorSize, 0x5a);
    const uint64_t sectors = static_cast<uint64_t>(mib) * 2048;
    double t0 = now_s();
    for (uint64_t at = 0; at < sectors; at += 128)
        if (v.write(at, chunk.data(), 128) != sd::Status::Ok) std::abort();
    double w = static_cast<double>(mib) * 1048576 / (now_s() - t0) / 1e6;
    t0 = now_s();
    for (uint64_t at = 0; at < sectors; at += 128)
        if (v.read(at, chunk.data(), 128) != sd::Status::Ok) std::abort();
    double r = static_cast<double>(mib) * 1048576 / (now_s() - t0) / 1e6;
    return {w, r};
}

}  // namespace

int main(int argc, char** argv) {
    long kib = 4096;
    int runs = 3;
    std::string cipher;   // empty: what sdisk picks
    std::vector<std::string> accels{"kvm", "interp", "bt"};
    if (auto rc = parse_bench_args(argc, argv, "usage: guest_disk_bench [--kib N] [--runs N] [--cipher aes256gcm|xchacha20] [--accel kvm,interp,bt]",
                                   {{"--kib", [&](const std::string& v) { kib = std::max(64L, std::atol(v.c_str())); }},
                                    {"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }},
                                    {"--cipher", [&](const std::string& v) { cipher = v; }},
                                    {"--accel", [&](const std::string& v) {
                                         accels.clear();
                                         std::stringstream list(v);
                                         for (std::string a; std::getline(list, a, ',');) accels.push_back(a);
                                     }}}))
        return *rc;
    if (sodium_init() < 0) return 2;
    std::printf("guest_disk_bench: %ld KiB sequential write then read in 64 KiB requests, median of %d boots\n", kib, runs);
    std::printf("  raw XChaCha20-Poly1305 encrypt+decrypt of 4 KiB units (cipher 1), host (baseline)  %8.1f MB/s\n",
                raw_aead_mb_s(25000, sd::kUnitBytes));
    const bool host_aes = sd::cipher_available(sd::kCipherAes256Gcm);
    if (host_aes)
        std::printf("  raw AES-256-GCM encrypt+decrypt of 4 KiB units (cipher 2), host (baseline)         %8.1f MB/s\n",
                    raw_aes_gcm_mb_s(25000, sd::kUnitBytes));
    else
        std::printf("  raw AES-256-GCM (cipher 2), host: skipped (no AES-NI/PCLMULQDQ)\n");
    std::map<std::string, std::pair<double, double>> host_by_cipher;   // the host volume, per cipher name
    for (uint32_t c : {sd::kCipherXChaCha20Poly1305, sd::kCipherAes256Gcm}) {
        if (!sd::cipher_available(c)) continue;
        auto [hw, hr] = host_by_cipher[sd::cipher_name(c)] = host_volume_mb_s(64, c);
        std::printf("  sealdisk::Volume on the host over memory, 64 MiB, %-18s (baseline) write %8.1f MB/s  read %8.1f MB/s\n",
                    sd::cipher_name(c), hw, hr);
    }
    for (const std::string& accel : accels) {
        if (accel == "kvm" && !kvm_usable()) {
            std::printf("  popek --xen --accel kvm: skipped (/dev/kvm not usable)\n");
            continue;
        }
        std::vector<double> rw, rr, sw, sr;
        std::string failure, used;
        for (int r = 0; r < runs; ++r) {
            Figures f = guest_run(accel, kib, cipher);
            if (!f.failure.empty()) failure = f.failure;
            if (!f.cipher.empty()) used = f.cipher;
            rw.push_back(f.raw_w), rr.push_back(f.raw_r), sw.push_back(f.sealed_w), sr.push_back(f.sealed_r);
        }
        if (median(sw) < 0) {
            std::printf("  popek --xen --accel %-6s failed: %s\n", accel.c_str(), failure.c_str());
            continue;
        }
        const auto host = host_by_cipher.count(used) ? host_by_cipher[used] : std::pair<double, double>{-1, -1};
        std::printf("  popek --xen --accel %-6s raw blkif  write %8.1f MB/s  read %8.1f MB/s\n", accel.c_str(), median(rw), median(rr));
        std::printf("  popek --xen --accel %-6s sealed (%s) write %8.1f MB/s  read %8.1f MB/s  (sealed/raw: write %.3fx, read "
                    "%.3fx; sealed/host volume: write %.3fx, read %.3fx)%s\n",
                    accel.c_str(), used.empty() ? "?" : used.c_str(), median(sw), median(sr), median(sw) / median(rw),
                    median(sr) / median(rr), median(sw) / host.first, median(sr) / host.second,
                    failure.empty() ? "" : " (a run failed)");
    }
    return 0;
}
