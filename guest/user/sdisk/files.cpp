// sdisk fput / fcat: sealed files (src/sealdisk/sealed_file.h), meant for --share directories the
// host can read and change (docs/guest-os.md "Storage", "Sealed files on --share").
#include "sdisk/sdisk.h"
#include "sealdisk/sealed_file.h"
#include "sodium_shim/shim.h"

namespace pos::sdisk {
namespace {

using namespace popek::sealdisk;

constexpr size_t kMaxPlain = 64 * 1024;
alignas(16) uint8_t g_plain[kMaxPlain];
alignas(16) uint8_t g_sealed[kMaxPlain + kFileOverhead + 1];

}  // namespace

int file_put(const uint8_t* secret, const char* path, const char* text, size_t len) {
    size_t sealed_len = 0;
    if (pos_sodium_init() < 0) return print("sdisk: sodium_init failed\n"), 1;
    FileStatus s = seal_file(secret, path, reinterpret_cast<const uint8_t*>(text), len, g_sealed, sizeof g_sealed,
                             &sealed_len);
    if (s != FileStatus::Ok) return print("sdisk: fput: %s: %s\n", path, file_status_name(s)), 1;
    long fd = sys::open(path, POS_O_WRITE);
    if (fd < 0) return print("sdisk: fput: %s: %s\n", path, error_string(fd)), 1;
    long w = sys::write(static_cast<int>(fd), g_sealed, sealed_len);
    sys::close(static_cast<int>(fd));
    if (w != static_cast<long>(sealed_len))
        return print("sdisk: fput: %s: %s\n", path, error_string(w < 0 ? w : -POS_EIO)), 1;
    print("sdisk: fput: %s: %lu bytes sealed (%lu on the host)\n", path, static_cast<unsigned long>(len),
          static_cast<unsigned long>(sealed_len));
    return 0;
}

int file_cat(const uint8_t* secret, const char* path) {
    if (pos_sodium_init() < 0) return print("sdisk: sodium_init failed\n"), 1;
    long fd = sys::open(path);
    if (fd < 0) return print("sdisk: fcat: %s: %s\n", path, error_string(fd)), 1;
    size_t len = 0;
    for (;;) {
        long r = sys::read(static_cast<int>(fd), g_sealed + len, sizeof g_sealed - len);
        if (r < 0) {
            sys::close(static_cast<int>(fd));
            return print("sdisk: fcat: %s: %s\n", path, error_string(r)), 1;
        }
        if (r == 0 || (len += static_cast<size_t>(r)) == sizeof g_sealed) break;
    }
    sys::close(static_cast<int>(fd));
    size_t plain_len = 0;
    FileStatus s = len == sizeof g_sealed ? FileStatus::TooSmall
                                          : open_file(secret, path, g_sealed, len, g_plain, sizeof g_plain, &plain_len);
    if (s == FileStatus::Integrity)
        return print("sdisk: integrity error: fcat: %s: %s\n", path, file_status_name(s)), 1;
    if (s != FileStatus::Ok) return print("sdisk: fcat: %s: %s\n", path, file_status_name(s)), 1;
    sys::write(1, g_plain, plain_len);
    return 0;
}

}  // namespace pos::sdisk
