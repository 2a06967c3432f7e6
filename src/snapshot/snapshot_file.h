#pragma once
/// The snapshot container (docs/snapshot.md "File layout"): a versioned header, tagged sections,
/// and a CRC-32 over everything before it. Engine-independent: what a section holds is decided by
/// its reader (vm_state.cpp, device_state.cpp); this layer only frames and checks bytes.
///
/// The reader treats the file as hostile: every length is checked against the bytes that are
/// there and against a fixed bound, and a bad magic, another format or popek version, a CRC
/// mismatch, truncation, unknown or duplicate sections each give one clear error.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/result.h"

namespace popek::snapshot {

inline constexpr char kMagic[8] = {'P', 'O', 'P', 'E', 'K', 'S', 'N', 'P'};
/// 2: the CPU section gained PKRU and IA32_PKRS (SMAP/PKU/PKS in the engine).
inline constexpr uint32_t kFormatVersion = 2;
/// Bounds of the reader: the whole state file (guest RAM is in the memory file), one section,
/// the number of sections, the version string.
inline constexpr uint64_t kMaxFileBytes = uint64_t{64} << 20;
inline constexpr uint32_t kMaxSectionBytes = 16u << 20;
inline constexpr uint32_t kMaxSections = 4096;
inline constexpr size_t kMaxVersionBytes = 64;

/// Four ASCII characters as a little-endian u32 ("CPU " reads as such in a hex dump).
constexpr uint32_t tag(const char (&s)[5]) {
    return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
           uint32_t(uint8_t(s[3])) << 24;
}
std::string tag_name(uint32_t t);

/// The section tags this popek writes and reads (docs/snapshot.md "Sections").
namespace tags {
inline constexpr uint32_t kConfig = tag("CONF"), kClock = tag("CLCK"), kCpu = tag("CPU "), kLapic = tag("LAPC"),
                          kIoapic = tag("IOAP"), kPic = tag("PIC "), kPit = tag("PIT "), kUart = tag("UART"),
                          kCmos = tag("CMOS"), kVirtio = tag("VIRT"), kI8042 = tag("KBC "), kAcpiPm = tag("ACPI");
/// The Xen platform of a `--xen` guest (docs/snapshot.md "Xen guests").
inline constexpr uint32_t kXen = tag("XEN "), kEventChannels = tag("EVTC"), kGrantTable = tag("GNTT"),
                          kXenStore = tag("XSTR"), kXenDevice = tag("XDEV"), kShare = tag("SHRE");
}
bool known_tag(uint32_t t);

struct Section {
    uint32_t tag = 0;
    uint32_t instance = 0;   ///< vCPU index, virtio device index; 0 for one-of-a-kind sections
    std::vector<uint8_t> payload;
};

struct Header {
    uint32_t format_version = kFormatVersion;
    std::string popek_version;
    uint64_t ram_bytes = 0;   ///< the memory file's exact size
    uint32_t vcpus = 0;
};

struct Image {
    Header header;
    std::vector<Section> sections;
    /// The section (tag, instance), or null.
    const Section* find(uint32_t tag, uint32_t instance = 0) const;
};

/// IEEE 802.3 CRC-32 (the zlib / PNG polynomial, reflected 0xEDB88320).
uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc = 0);

std::vector<uint8_t> encode(const Image& image);
/// Parses and checks a whole snapshot file's bytes; `expect_version`: the popek version that may
/// read it (POPEK_VERSION; tests pass their own).
Result<Image> decode(std::span<const uint8_t> bytes, std::string_view expect_version);

/// The file at `path`, at most kMaxFileBytes.
Result<std::vector<uint8_t>> read_file(const std::string& path);
/// Writes `bytes` to `path` (created or truncated, then fsync'd).
Result<void> write_file(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace popek::snapshot
