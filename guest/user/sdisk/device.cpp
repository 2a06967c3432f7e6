// sdisk: the raw disk under the sealed volume, the key, mounting (docs/guest-os.md "Storage").
#include <sodium.h>

#include "sdisk/sdisk.h"
#include "sodium_shim/shim.h"

namespace pos::sdisk {
namespace {

using namespace popek::sealdisk;

// The tree lives here once verified: 2048 nodes cover volumes up to ~15.5 MiB.
alignas(64) uint8_t g_tree[2048 * kSectorSize];

long transfer(void* ctx, uint64_t sector, void* buf, uint64_t count, bool write) {
    auto* disk = static_cast<RawDisk*>(ctx);
    if (sys::seek(disk->fd, sector * kSectorSize) < 0) return -POS_EIO;
    auto* p = static_cast<uint8_t*>(buf);
    uint64_t left = count * kSectorSize;
    while (left > 0) {
        size_t n = left < (1u << 20) ? static_cast<size_t>(left) : (1u << 20);
        long r = write ? sys::write(disk->fd, p, n) : sys::read(disk->fd, p, n);
        if (r <= 0) return r < 0 ? r : -POS_EIO;
        p += r;
        left -= static_cast<uint64_t>(r);
    }
    return 0;
}

}  // namespace

SectorDevice RawDisk::device() {
    SectorDevice d;
    d.context = this;
    d.sectors = bytes / kSectorSize;
    d.read = [](void* c, uint64_t s, void* buf, uint64_t n) { return transfer(c, s, buf, n, false); };
    d.write = [](void* c, uint64_t s, const void* buf, uint64_t n) {
        return transfer(c, s, const_cast<void*>(buf), n, true);
    };
    return d;
}

bool open_raw(RawDisk& disk) {
    PosDirEntry e;
    bool found = false;
    for (long i = 0; sys::listdir(i, &e) == 1; ++i)
        if (strcmp(e.name, kDevicePath) == 0) found = true, disk.bytes = e.size;
    if (!found) {
        print("sdisk: no disk (%s): boot with --xen --disk FILE\n", kDevicePath);
        return false;
    }
    long fd = sys::open(kDevicePath, POS_O_WRITE);
    if (fd < 0) {
        print("sdisk: %s: %s\n", kDevicePath, error_string(fd));
        return false;
    }
    disk.fd = static_cast<int>(fd);
    return true;
}

bool load_secret(uint8_t out[kSecretBytes]) {
    long fd = sys::open(kKeyPath);
    if (fd < 0) {
        PosUserInfo me{};
        sys::whoami(&me);
        print("sdisk: %s: %s (the policy does not let %s use the sealed disk)\n", kKeyPath, error_string(fd),
              me.name);
        return false;
    }
    char text[80] = {};
    long n = sys::read(static_cast<int>(fd), text, sizeof text - 1);
    sys::close(static_cast<int>(fd));
    bool ok = n >= 64 && parse_hex(text, 64, out);
    sodium_memzero(text, sizeof text);
    if (!ok) print("sdisk: %s: not a 64-digit hex secret\n", kKeyPath);
    return ok;
}

void report(const char* what, Status s, const Volume& volume) {
    if (s == Status::Integrity && volume.bad_sector() != ~uint64_t{0})
        print("sdisk: integrity error: %s: sector %lu failed verification (modified, moved or rolled back)\n", what,
              static_cast<unsigned long>(volume.bad_sector()));
    else if (s == Status::Integrity && volume.bad_node() != ~uint64_t{0})
        print("sdisk: integrity error: %s: version tree node %lu does not verify\n", what,
              static_cast<unsigned long>(volume.bad_node()));
    else if (s == Status::Integrity)
        print("sdisk: integrity error: %s: the header does not verify (other key, or modified)\n", what);
    else if (s == Status::CipherUnavailable)
        print("sdisk: %s: the cipher %s needs AES-NI and PCLMULQDQ, which this CPU does not have%s\n", what,
              cipher_name(volume.header().cipher),
              strcmp(what, "format") == 0 ? " (use --cipher xchacha20)" : " (the disk was formatted on another CPU)");
    else if (s == Status::BadFormat)
        print("sdisk: %s: %s: %s\n", what, status_name(s), parse_error_name(volume.parse_error()));
    else
        print("sdisk: %s: %s\n", what, status_name(s));
}

bool mount_or_format(Volume& volume, RawDisk& disk, const uint8_t* secret, bool force_format, uint32_t cipher) {
    if (pos_sodium_init() < 0) {
        print("sdisk: sodium_init failed\n");
        return false;
    }
    Status s = force_format ? Status::NotFormatted : volume.mount(disk.device(), secret, g_tree, sizeof g_tree);
    if (s == Status::NotFormatted) {
        s = volume.format(disk.device(), secret, g_tree, sizeof g_tree, cipher);
        if (s == Status::Ok)
            print("sdisk: formatted %s: %lu data sectors, %lu tree nodes, %s\n", kDevicePath,
                  static_cast<unsigned long>(volume.geometry().data_sectors),
                  static_cast<unsigned long>(volume.geometry().nodes), cipher_name(volume.header().cipher));
        else if (s == Status::CipherUnavailable)
            return report("format", s, volume), false;
    }
    if (s != Status::Ok) {
        report("mount", s, volume);
        return false;
    }
    return true;
}

}  // namespace pos::sdisk
