// libFuzzer target: popek-os's sealed disk (src/sealdisk, docs/guest-os.md "Storage"): the header
// parser, the tree-node checks and the whole mount (MAC, tree hashes) and read path, on images the
// back end controls.
//
// Input: byte 0 selects the mode. Even: the rest is a raw disk image (padded to whole sectors, at
// most 64 sectors), parsed and mounted with the test secret. Odd: a genuine volume (48 sectors,
// formatted and written with the test secret; XChaCha20-Poly1305, or AES-256-GCM when bit 1 of
// byte 0 is set and the CPU has AES-NI) is patched by the records that follow, each
// [offset u16 LE][xor u8] inside the image, then mounted, read whole, written and mounted again.
// Even inputs are also opened as a sealed file (src/sealdisk/sealed_file.h).
// Invariants: nothing crashes; a parsed header describes a tree that fits the disk it names; a
// volume that mounts reads every sector as Ok or Integrity, never anything else; a one-sector
// write (a read-modify-write of its 4 KiB unit, format v2) is Ok or Integrity, and the volume
// mounts again afterwards.
// fuzz-sources: src/sealdisk/format.cpp src/sealdisk/volume.cpp src/sealdisk/unit_cipher.cpp src/sealdisk/sealed_file.cpp
// fuzz-libs: -lsodium
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <sodium.h>

#include "../unit/sealdisk_test_util.h"
#include "sealdisk/sealed_file.h"

using namespace popek::sealdisk;
using popek::sealdisk::testing::MemoryDisk;
using popek::sealdisk::testing::test_secret;

namespace {

constexpr uint64_t kMaxSectors = 64;
constexpr uint64_t kGenuineSectors = 48;

void exercise(MemoryDisk& disk) {
    Header h;
    Geometry g;
    if (parse_header(disk.bytes.data(), disk.bytes.size(), h, g) == ParseError::None) {
        if (g.total_sectors() > h.raw_sectors || g.nodes != h.meta_sectors) __builtin_trap();
        for (uint64_t n = 0; n < g.nodes && g.node_sector(n) < disk.bytes.size() / kSectorSize; ++n)
            (void)check_node(g, n, disk.sector(g.node_sector(n)));
    }
    static std::vector<uint8_t> tree(64 * kSectorSize);
    Volume v;
    if (v.mount(disk.device(), test_secret(), tree.data(), tree.size()) != Status::Ok) return;
    if (v.geometry().total_sectors() > disk.bytes.size() / kSectorSize) __builtin_trap();
    std::vector<uint8_t> buf(kSectorSize);
    for (uint64_t s = 0; s < v.geometry().data_sectors; ++s) {
        Status st = v.read(s, buf.data(), 1);
        if (st != Status::Ok && st != Status::Integrity) __builtin_trap();
    }
    Status w = v.write(0, buf.data(), 1);
    if (w != Status::Ok && w != Status::Integrity) __builtin_trap();
    Volume again;
    if (again.mount(disk.device(), test_secret(), tree.data(), tree.size()) != Status::Ok) __builtin_trap();
}

std::vector<uint8_t> make_image(uint32_t cipher) {
    MemoryDisk disk(kGenuineSectors);
    std::vector<uint8_t> tree(64 * kSectorSize);
    Volume v;
    if (v.format(disk.device(), test_secret(), tree.data(), tree.size(), cipher) != Status::Ok) __builtin_trap();
    std::vector<uint8_t> data(3 * kSectorSize, 0x61);
    if (v.write(1, data.data(), 3) != Status::Ok) __builtin_trap();
    return disk.bytes;
}

/// The genuine volume of `cipher` (XChaCha20-Poly1305 for AES-256-GCM on a CPU without AES-NI).
const std::vector<uint8_t>& genuine_image(uint32_t cipher = kCipherXChaCha20Poly1305) {
    static const std::vector<uint8_t> xchacha = make_image(kCipherXChaCha20Poly1305);
    static const std::vector<uint8_t> aes = sodium_init() >= 0 && cipher_available(kCipherAes256Gcm)
                                                ? make_image(kCipherAes256Gcm)
                                                : xchacha;
    return cipher == kCipherAes256Gcm ? aes : xchacha;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        size_t bytes = size - 1 < kMaxSectors * kSectorSize ? size - 1 : kMaxSectors * kSectorSize;
        MemoryDisk disk((bytes + kSectorSize - 1) / kSectorSize);
        if (bytes > 0) std::memcpy(disk.bytes.data(), data + 1, bytes);
        exercise(disk);
        // The same bytes as a sealed file (sdisk fcat on a --share file the host wrote).
        static std::vector<uint8_t> plain(kMaxSectors * kSectorSize);
        size_t got = 0;
        if (open_file(test_secret(), "/share/f", data + 1, bytes, plain.data(), plain.size(), &got) == FileStatus::Ok &&
            got + kFileOverhead != bytes)
            __builtin_trap();
        return 0;
    }
    MemoryDisk disk(kGenuineSectors);
    disk.bytes = genuine_image((data[0] & 2) != 0 ? kCipherAes256Gcm : kCipherXChaCha20Poly1305);
    for (size_t at = 1; at + 3 <= size; at += 3) {
        size_t offset = (data[at] | size_t{data[at + 1]} << 8) % disk.bytes.size();
        disk.bytes[offset] ^= data[at + 2];
    }
    exercise(disk);
    return 0;
}

#ifdef POPEK_FUZZ_STANDALONE
// ctest runner without libFuzzer (g++ builds): a genuine image, patches of its header, tree and
// data, a zero disk; then a deterministic stream of mutations of them. `0 DIR` writes the seeds.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "seed_writer.h"

int main(int argc, char** argv) {
    long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 10000;
    std::vector<std::vector<uint8_t>> seeds;
    std::vector<uint8_t> raw{0};
    raw.insert(raw.end(), genuine_image().begin(), genuine_image().end());
    seeds.push_back(raw);                                              // the genuine image, mounted as given
    seeds.push_back({1});                                              // unpatched: mounts, reads
    seeds.push_back({1, 40, 0, 1});                                    // the header's generation
    seeds.push_back({1, 0x08, 0x02, 0x80});                            // leaf 0, entry 0 (unit 0)
    seeds.push_back({1, 0x64, 0x0a, 0x01});                            // a data sector (unit 0)
    seeds.push_back(std::vector<uint8_t>(1 + 4 * kSectorSize, 0));     // an unformatted disk
    std::vector<uint8_t> header_only(raw.begin(), raw.begin() + 1 + kSectorSize);
    seeds.push_back(header_only);                                      // a header naming sectors that are not there
    std::vector<uint8_t> raw_aes{0};
    raw_aes.insert(raw_aes.end(), genuine_image(kCipherAes256Gcm).begin(), genuine_image(kCipherAes256Gcm).end());
    seeds.push_back(raw_aes);                                          // the AES-256-GCM image, mounted as given
    seeds.push_back({3});                                              // AES-256-GCM, unpatched
    seeds.push_back({3, 0x64, 0x0a, 0x01});                            // a data sector of its unit 0
    seeds.push_back({3, 0x08, 0x02, 0x01});                            // its leaf 0, entry 0's salt (the subkey)
    seeds.push_back({1, 12, 0, 3});                                    // cipher 1 -> 2 in the header (MAC)
    if (argc > 2 && !popek::fuzz::write_seeds(argv[2], seeds)) return 1;
    for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
    std::mt19937 rng(16);
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> in = seeds[rng() % seeds.size()];
        popek::fuzz::mutate(in, rng);
        LLVMFuzzerTestOneInput(in.data(), in.size());
    }
    std::printf("fuzz_sealdisk: %ld inputs, no crash\n", iterations);
    return 0;
}
#endif
