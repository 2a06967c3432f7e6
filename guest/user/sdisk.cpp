/// sdisk: the sealed disk (docs/guest-os.md "Storage"): /dev/xvda encrypted and authenticated in
/// ring 3 with libsodium (src/sealdisk), keyed from /etc/keys/disk. A fresh (all-zero) disk is
/// formatted on first use. A sector or tree node that does not verify fails the command with
/// "sdisk: integrity error: ..." on the console; the OS goes on.
///   sdisk put WORDS...           the words and a newline at the start of the volume
///   sdisk cat                    the volume's text from its start up to the first NUL byte
///   sdisk write SECTOR WORDS...  the words at the start of data sector SECTOR (rest zero)
///   sdisk read SECTOR            that sector's text up to the first NUL byte
///   sdisk info                   format version, cipher, sizes, generation
///   sdisk format [--cipher C]    a fresh volume (everything on it is lost); C is aes256gcm or
///                                xchacha20 (default: aes256gcm where the CPU has AES-NI)
///   sdisk bench KIB [--cipher C] raw /dev/xvda vs sealed sequential write and read (formats)
///   sdisk fput PATH WORDS...     the words as a sealed file PATH (e.g. /share/out/F: the host
///                                sees ciphertext bound to the path; the name stays visible)
///   sdisk fcat PATH              a sealed file's text; "integrity error" if it was changed or moved
#include "sdisk/sdisk.h"

using namespace pos;
using namespace pos::sdisk;
using namespace popek::sealdisk;

namespace {

constexpr uint64_t kCatSectors = 64;
alignas(16) uint8_t g_buf[kCatSectors * kSectorSize];
Volume g_volume;

size_t join_words(char* out, size_t cap, int argc, char** argv, int from) {
    size_t n = 0;
    for (int i = from; i < argc; ++i) {
        size_t len = strlen(argv[i]);
        if (n + len + 2 > cap) break;
        if (i > from) out[n++] = ' ';
        memcpy(out + n, argv[i], len);
        n += len;
    }
    out[n++] = '\n';
    return n;
}

bool parse_u64(const char* s, uint64_t& out) {
    if (*s == 0) return false;
    uint64_t v = 0;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9' || v > (~uint64_t{0} - 9) / 10) return false;
        v = v * 10 + static_cast<uint64_t>(*s - '0');
    }
    out = v;
    return true;
}

void print_text(const uint8_t* p, size_t max) {
    size_t n = 0;
    while (n < max && p[n] != 0) ++n;
    sys::write(1, p, n);
}

int put(int argc, char** argv) {
    // Read-modify-write of the first sector: the bytes after the words are kept, as `put` does.
    Status s = g_volume.read(0, g_buf, 1);
    if (s != Status::Ok) return report("put", s, g_volume), 1;
    size_t n = join_words(reinterpret_cast<char*>(g_buf), kSectorSize - 1, argc, argv, 2);
    s = g_volume.write(0, g_buf, 1);
    if (s != Status::Ok) return report("put", s, g_volume), 1;
    print("sdisk: put %lu bytes\n", static_cast<unsigned long>(n));
    return 0;
}

int cat() {
    const uint64_t total = g_volume.geometry().data_sectors;
    for (uint64_t at = 0; at < total; at += kCatSectors) {
        uint64_t n = total - at < kCatSectors ? total - at : kCatSectors;
        Status s = g_volume.read(at, g_buf, n);
        if (s != Status::Ok) return report("cat", s, g_volume), 1;
        size_t bytes = static_cast<size_t>(n * kSectorSize);
        size_t len = 0;
        while (len < bytes && g_buf[len] != 0) ++len;
        sys::write(1, g_buf, len);
        if (len < bytes) break;
    }
    return 0;
}

int write_sector(uint64_t sector, int argc, char** argv) {
    memset(g_buf, 0, kSectorSize);
    size_t n = join_words(reinterpret_cast<char*>(g_buf), kSectorSize - 1, argc, argv, 3);
    Status s = g_volume.write(sector, g_buf, 1);
    if (s != Status::Ok) return report("write", s, g_volume), 1;
    print("sdisk: sector %lu: %lu bytes\n", static_cast<unsigned long>(sector), static_cast<unsigned long>(n));
    return 0;
}

int read_sector(uint64_t sector) {
    Status s = g_volume.read(sector, g_buf, 1);
    if (s != Status::Ok) return report("read", s, g_volume), 1;
    print_text(g_buf, kSectorSize);
    return 0;
}

int info() {
    const Header& h = g_volume.header();
    print("sdisk: popek sealed disk v%u, cipher %s + blake2b tree, kdf blake2b+crypto_kdf\n", h.version,
          cipher_name(h.cipher));
    print("sdisk: %lu data sectors (%lu KiB), %lu tree nodes in %u levels, generation %lu\n",
          static_cast<unsigned long>(h.data_sectors), static_cast<unsigned long>(h.data_sectors / 2),
          static_cast<unsigned long>(h.meta_sectors), g_volume.geometry().levels,
          static_cast<unsigned long>(h.generation));
    return 0;
}

int usage() {
    print("usage: sdisk put WORDS... | cat | write SECTOR WORDS... | read SECTOR | info"
          " | format [--cipher aes256gcm|xchacha20] | bench KIB [--cipher aes256gcm|xchacha20]"
          " | fput PATH WORDS... | fcat PATH\n");
    return 2;
}

/// `--cipher NAME` at argv[at] (absent: 0, the default); false for anything else.
bool parse_cipher(int argc, char** argv, int at, uint32_t& out) {
    out = 0;
    if (argc == at) return true;
    if (argc != at + 2 || strcmp(argv[at], "--cipher") != 0) return false;
    const char* name = argv[at + 1];
    if (strcmp(name, "aes256gcm") == 0 || strcmp(name, "aes-256-gcm") == 0) out = kCipherAes256Gcm;
    else if (strcmp(name, "xchacha20") == 0 || strcmp(name, "xchacha20-poly1305") == 0) out = kCipherXChaCha20Poly1305;
    return out != 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const char* cmd = argv[1];
    uint64_t number = 0;
    const bool numbered = strcmp(cmd, "write") == 0 || strcmp(cmd, "read") == 0 || strcmp(cmd, "bench") == 0;
    if (numbered && (argc < 3 || !parse_u64(argv[2], number))) return usage();
    uint32_t cipher = 0;
    const bool formats = strcmp(cmd, "format") == 0 || strcmp(cmd, "bench") == 0;
    if (formats && !parse_cipher(argc, argv, strcmp(cmd, "bench") == 0 ? 3 : 2, cipher)) return usage();
    uint8_t secret[kSecretBytes];
    if (!load_secret(secret)) return 1;
    if (strcmp(cmd, "fput") == 0 && argc >= 3) {
        char text[512];
        size_t n = join_words(text, sizeof text, argc, argv, 3);
        return file_put(secret, argv[2], text, n);
    }
    if (strcmp(cmd, "fcat") == 0 && argc == 3) return file_cat(secret, argv[2]);
    RawDisk disk;
    if (!open_raw(disk)) return 1;
    if (strcmp(cmd, "bench") == 0) return bench(disk, secret, number, cipher);
    if (!mount_or_format(g_volume, disk, secret, strcmp(cmd, "format") == 0, cipher)) return 1;
    if (strcmp(cmd, "put") == 0) return put(argc, argv);
    if (strcmp(cmd, "cat") == 0) return cat();
    if (strcmp(cmd, "write") == 0) return write_sector(number, argc, argv);
    if (strcmp(cmd, "read") == 0) return read_sector(number);
    if (strcmp(cmd, "info") == 0 || strcmp(cmd, "format") == 0) return info();
    return usage();
}
