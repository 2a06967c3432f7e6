// popek disk-inspect: the public part of a sealed disk's header, parsed with the format's own
// bounds-checked parser (the image is as hostile as the back end that wrote it).
#include "sealdisk/inspect.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "sealdisk/format.h"
#include "util/fd.h"

namespace popek::sealdisk {

Result<std::string> inspect_image(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) return fail("{}: {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail("{}: {}", path, std::strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) return fail("{}: not a regular file or block device", path);
    uint8_t sector[kSectorSize] = {};
    ssize_t n = ::pread(fd.get(), sector, sizeof sector, 0);
    if (n < 0) return fail("{}: {}", path, std::strerror(errno));
    Header h;
    Geometry g;
    ParseError e = parse_header(sector, static_cast<size_t>(n), h, g);
    if (e != ParseError::None) return fail("{}: {}", path, parse_error_name(e));
    uint64_t image_sectors = 0;
    if (S_ISREG(st.st_mode)) image_sectors = static_cast<uint64_t>(st.st_size) / kSectorSize;
    else if (off_t end = ::lseek(fd.get(), 0, SEEK_END); end > 0) image_sectors = static_cast<uint64_t>(end) / kSectorSize;
    if (image_sectors < g.total_sectors())
        return fail("{}: the image ({} sectors) is shorter than the volume its header describes ({} sectors)", path,
                    image_sectors, g.total_sectors());
    std::string id;
    for (uint8_t b : h.disk_id) id += fmt::format("{:02x}", b);
    std::string out;
    out += fmt::format("{}: popek sealed disk, format version {}\n", path, h.version);
    out += h.cipher == kCipherAes256Gcm
               ? "cipher: AES-256-GCM per 4 KiB unit of 8 sectors, a subkey per write call (unit address and version "
                 "as nonce and associated data), keyed BLAKE2b-256 version tree, header MAC\n"
               : "cipher: XChaCha20-Poly1305 per 4 KiB unit of 8 sectors (unit address and version as associated "
                 "data), keyed BLAKE2b-256 version tree, header MAC\n";
    out += fmt::format("key derivation: keyed BLAKE2b over the disk id, then crypto_kdf (context \"{}\"); "
                       "the key stays in the guest\n",
                       std::string(kKdfContext, sizeof kKdfContext));
    out += fmt::format("disk: {} sectors when formatted, {} now; volume: {} data sectors ({} KiB), {} tree nodes in {} "
                       "levels\n",
                       h.raw_sectors, image_sectors, h.data_sectors, h.data_sectors / 2, h.meta_sectors, g.levels);
    out += fmt::format("generation: {} header writes\n", h.generation);
    out += fmt::format("disk id: {}\n", id);
    out += "integrity: not checked here (it needs the guest's key)\n";
    return out;
}

}  // namespace popek::sealdisk
