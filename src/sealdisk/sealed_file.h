#pragma once
/// popek sealed file, version 1: a whole file encrypted and authenticated for storage the guest
/// does not trust, e.g. a `--share` directory on the host (docs/guest-os.md "Storage", "Sealed
/// files on --share"). One XChaCha20-Poly1305 message (libsodium, combined mode) whose associated
/// data is the header and the file's guest path, so a file's contents cannot be changed or moved
/// to another name undetected. Names and sizes stay visible; an older copy of the same file opens
/// (no freshness for files). Layout, little endian:
///   0  magic "POPEKSF1" (8) | 8 version = 1 (4) | 12 cipher = 1 (4) | 16 nonce (24)
///   40 ciphertext (n) | 40+n Poly1305 tag (16)
/// Portable and allocation-free, like the rest of src/sealdisk.
#include <stddef.h>
#include <stdint.h>

#include "sealdisk/volume.h"

namespace popek::sealdisk {

constexpr size_t kFileHeaderBytes = 40;
constexpr size_t kFileOverhead = kFileHeaderBytes + kTagBytes;
inline constexpr char kFileMagic[8] = {'P', 'O', 'P', 'E', 'K', 'S', 'F', '1'};

enum class FileStatus : uint8_t { Ok, Integrity, BadFormat, TooSmall, Crypto };
const char* file_status_name(FileStatus s);

/// Seals `len` bytes of `plain` for guest path `path` into `out` (cap >= len + kFileOverhead);
/// *out_len is the sealed size.
FileStatus seal_file(const uint8_t secret[kSecretBytes], const char* path, const uint8_t* plain, size_t len,
                     uint8_t* out, size_t cap, size_t* out_len);
/// Checks and opens a sealed file read from `path`: BadFormat (not a sealed file, or an unknown
/// version or cipher), Integrity (modified, truncated, another key or another path), TooSmall
/// (cap cannot hold the plaintext).
FileStatus open_file(const uint8_t secret[kSecretBytes], const char* path, const uint8_t* sealed, size_t len,
                     uint8_t* out, size_t cap, size_t* out_len);

}  // namespace popek::sealdisk
