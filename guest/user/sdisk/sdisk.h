#pragma once
/// sdisk (guest/user/sdisk.cpp): what its parts share. The sealed disk lives on /dev/xvda; its key
/// is derived from the secret in /etc/keys/disk, which the policy lets only the users allowed to
/// use the sealed disk open (docs/guest-os.md "Storage").
#include "rt/ulib.h"
#include "sealdisk/volume.h"

namespace pos::sdisk {

constexpr const char* kDevicePath = "/dev/xvda";
constexpr const char* kKeyPath = "/etc/keys/disk";

/// The raw disk as a sealdisk::SectorDevice (positioned reads and writes through `seek`).
struct RawDisk {
    int fd = -1;
    uint64_t bytes = 0;
    popek::sealdisk::SectorDevice device();
};

/// Opens /dev/xvda for writing and learns its size; false (and a message) on failure.
bool open_raw(RawDisk& disk);
/// Reads the 32-byte secret; false (and a message: a policy denial names the user) on failure.
bool load_secret(uint8_t out[popek::sealdisk::kSecretBytes]);
/// Mounts the volume, formatting a fresh (all-zero) disk first: the message on failure names
/// the reason ("integrity error: ..." for a tree or header that does not verify). A format uses
/// `cipher` (0: AES-256-GCM where the CPU has AES-NI, else XChaCha20-Poly1305).
bool mount_or_format(popek::sealdisk::Volume& volume, RawDisk& disk, const uint8_t* secret, bool force_format,
                     uint32_t cipher = 0);
/// Reports a failed volume operation on the console (the kernel has no other log).
void report(const char* what, popek::sealdisk::Status s, const popek::sealdisk::Volume& volume);

/// sdisk fput PATH WORDS / fcat PATH: a sealed file (e.g. under /share); the exit status.
int file_put(const uint8_t* secret, const char* path, const char* text, size_t len);
int file_cat(const uint8_t* secret, const char* path);

/// sdisk bench KIB: raw vs sealed sequential write and read (formats the disk with `cipher`).
int bench(RawDisk& disk, const uint8_t* secret, uint64_t kib, uint32_t cipher);

}  // namespace pos::sdisk
