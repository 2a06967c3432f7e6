// sdisk bench KIB: sequential write then read of KIB KiB on the raw disk and on the sealed volume,
// in 64 KiB requests, timed with the uptime clock (10 ms ticks: every figure is the mean of passes
// repeated for at least 300 ms; a sealed write pass rewrites the same units, each a new version).
// The raw pass overwrites the volume, so the sealed pass formats first (with the cipher asked for, or
// the default: AES-256-GCM where the CPU has AES-NI); a line names the cipher. One line per figure, then the ratios in per mille.
#include "sdisk/sdisk.h"

namespace pos::sdisk {
namespace {

using namespace popek::sealdisk;

constexpr uint64_t kRequestSectors = 128;   // 64 KiB
alignas(16) uint8_t g_data[kRequestSectors * kSectorSize];

/// KB/s (1000 bytes) of `kib` KiB in `us` microseconds.
uint64_t kb_per_s(uint64_t kib, long us) { return kib * 1024 * 1000 / (us > 0 ? static_cast<uint64_t>(us) : 1); }

/// One timed pass; ms or a negative error.
long pass(uint64_t sectors, bool write, Volume* volume, SectorDevice& raw, uint64_t raw_base) {
    long start = sys::uptime_ms();
    for (uint64_t at = 0; at < sectors; at += kRequestSectors) {
        uint64_t n = sectors - at < kRequestSectors ? sectors - at : kRequestSectors;
        if (write) g_data[0] = static_cast<uint8_t>(at);
        if (volume != nullptr) {
            Status s = write ? volume->write(at, g_data, n) : volume->read(at, g_data, n);
            if (s != Status::Ok) {
                report("bench", s, *volume);
                return -POS_EIO;
            }
        } else {
            long r = write ? raw.write(raw.context, raw_base + at, g_data, n) : raw.read(raw.context, raw_base + at, g_data, n);
            if (r < 0) return r;
        }
    }
    return sys::uptime_ms() - start;
}

Volume g_bench_volume;

/// A pass is too short for the 10 ms clock: passes are repeated until 300 ms have gone by;
/// the mean time of one pass in microseconds, or a negative error.
long repeated(uint64_t sectors, bool write, Volume* volume, SectorDevice& raw, uint64_t base) {
    long total = 0, passes = 0;
    while (total < 300) {
        long ms = pass(sectors, write, volume, raw, base);
        if (ms < 0) return ms;
        total += ms;
        ++passes;
    }
    return total * 1000 / passes;
}

}  // namespace

int bench(RawDisk& disk, const uint8_t* secret, uint64_t kib, uint32_t cipher) {
    for (size_t i = 0; i < sizeof g_data; ++i) g_data[i] = static_cast<uint8_t>(i * 13 + 7);
    if (!mount_or_format(g_bench_volume, disk, secret, true, cipher)) return 1;
    const uint64_t sectors = kib * 2;
    if (kib == 0 || sectors > g_bench_volume.geometry().data_sectors) {
        print("sdisk: bench: %lu KiB does not fit the volume (%lu KiB)\n", static_cast<unsigned long>(kib),
              static_cast<unsigned long>(g_bench_volume.geometry().data_sectors / 2));
        return 2;
    }
    SectorDevice raw = disk.device();
    // Raw first, over the volume's data sectors (the same disk region the sealed pass uses).
    const uint64_t base = g_bench_volume.geometry().data_sector(0);
    long raw_w = repeated(sectors, true, nullptr, raw, base);
    long raw_r = repeated(sectors, false, nullptr, raw, base);
    if (!mount_or_format(g_bench_volume, disk, secret, true, cipher)) return 1;
    print("sdisk bench: cipher %s\n", cipher_name(g_bench_volume.header().cipher));
    long seal_w = repeated(sectors, true, &g_bench_volume, raw, 0);
    long seal_r = repeated(sectors, false, &g_bench_volume, raw, 0);
    if (raw_w < 0 || raw_r < 0 || seal_w < 0 || seal_r < 0) {
        print("sdisk: bench: I/O failed\n");
        return 1;
    }
    print("sdisk bench: %lu KiB raw write %ld us %lu KB/s read %ld us %lu KB/s\n", static_cast<unsigned long>(kib),
          raw_w, static_cast<unsigned long>(kb_per_s(kib, raw_w)), raw_r, static_cast<unsigned long>(kb_per_s(kib, raw_r)));
    print("sdisk bench: %lu KiB sealed write %ld us %lu KB/s read %ld us %lu KB/s\n", static_cast<unsigned long>(kib),
          seal_w, static_cast<unsigned long>(kb_per_s(kib, seal_w)), seal_r,
          static_cast<unsigned long>(kb_per_s(kib, seal_r)));
    auto permille = [](long raw_us, long sealed_us) { return (raw_us > 0 ? raw_us : 1) * 1000 / (sealed_us > 0 ? sealed_us : 1); };
    print("sdisk bench: sealed/raw write %ld/1000 read %ld/1000\n", permille(raw_w, seal_w), permille(raw_r, seal_r));
    return 0;
}

}  // namespace pos::sdisk
