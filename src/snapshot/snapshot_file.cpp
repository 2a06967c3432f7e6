#include "snapshot/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <set>
#include <utility>

#include "snapshot/snap_codec.h"

namespace popek::snapshot {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto kCrcTable = make_crc_table();

}  // namespace

uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc) {
    crc = ~crc;
    for (uint8_t b : bytes) crc = kCrcTable[(crc ^ b) & 0xff] ^ (crc >> 8);
    return ~crc;
}

std::string tag_name(uint32_t t) {
    std::string s;
    for (int i = 0; i < 4; ++i) {
        const char c = static_cast<char>(t >> (8 * i));
        s += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return s;
}

bool known_tag(uint32_t t) {
    using namespace tags;
    for (uint32_t k : {kConfig, kClock, kCpu, kLapic, kIoapic, kPic, kPit, kUart, kCmos, kVirtio, kI8042, kAcpiPm, kXen, kEventChannels,
                       kGrantTable, kXenStore, kXenDevice, kShare})
        if (t == k) return true;
    return false;
}

const Section* Image::find(uint32_t t, uint32_t instance) const {
    for (const Section& s : sections)
        if (s.tag == t && s.instance == instance) return &s;
    return nullptr;
}

std::vector<uint8_t> encode(const Image& image) {
    Writer w;
    w.bytes(std::span(reinterpret_cast<const uint8_t*>(kMagic), sizeof kMagic));
    w.u32(image.header.format_version);
    w.str(image.header.popek_version);
    w.u64(image.header.ram_bytes);
    w.u32(image.header.vcpus);
    w.u32(static_cast<uint32_t>(image.sections.size()));
    for (const Section& s : image.sections) {
        w.u32(s.tag);
        w.u32(s.instance);
        w.u32(static_cast<uint32_t>(s.payload.size()));
        w.bytes(s.payload);
    }
    w.u32(crc32(w.buffer()));
    return std::move(w.buffer());
}

Result<Image> decode(std::span<const uint8_t> bytes, std::string_view expect_version) {
    constexpr size_t kFixed = sizeof kMagic + 4;
    if (bytes.size() < kFixed + 4) return fail("the snapshot is truncated ({} bytes): not a popek snapshot", bytes.size());
    if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return fail("not a popek snapshot (bad magic)");
    Reader r(bytes.first(bytes.size() - 4));
    std::array<uint8_t, sizeof kMagic> magic{};
    r.bytes(magic);
    Image image;
    image.header.format_version = r.u32();
    if (image.header.format_version != kFormatVersion)
        return fail("snapshot format version {} is not supported (this popek reads version {})",
                    image.header.format_version, kFormatVersion);
    Reader crc_reader(bytes.last(4));
    const uint32_t stored = crc_reader.u32();
    if (crc32(bytes.first(bytes.size() - 4)) != stored)
        return fail("the snapshot is corrupted or truncated (CRC-32 mismatch)");
    image.header.popek_version = r.str(kMaxVersionBytes);
    if (r.ok() && image.header.popek_version != expect_version)
        return fail("the snapshot was made by popek {} and this is popek {}: snapshots restore only on the same version",
                    image.header.popek_version, expect_version);
    image.header.ram_bytes = r.u64();
    image.header.vcpus = r.u32();
    const uint32_t count = r.bounded(r.u32(), kMaxSections, "the section count");
    std::set<std::pair<uint32_t, uint32_t>> seen;
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
        Section s;
        s.tag = r.u32();
        s.instance = r.u32();
        const uint32_t len = r.bounded(r.u32(), kMaxSectionBytes, "a section length");
        if (!r.ok()) break;
        if (len > r.remaining()) {
            r.invalid("section {} claims {} bytes, {} are left", tag_name(s.tag), len, r.remaining());
            break;
        }
        if (!known_tag(s.tag)) {
            r.invalid("unknown section `{}`", tag_name(s.tag));
            break;
        }
        if (!seen.insert({s.tag, s.instance}).second) {
            r.invalid("section `{}` {} appears twice", tag_name(s.tag), s.instance);
            break;
        }
        s.payload.resize(len);
        r.bytes(s.payload);
        image.sections.push_back(std::move(s));
    }
    TRY_VOID(r.finish("the snapshot"));
    return image;
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail_errno("cannot open the snapshot `{}`", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail("the snapshot `{}` is not a regular file", path);
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
        ::close(fd);
        return fail("the snapshot `{}` is {} bytes, more than a snapshot can be ({})", path, st.st_size, kMaxFileBytes);
    }
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return fail("cannot read the snapshot `{}`", path);
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return bytes;
}

Result<void> write_file(const std::string& path, std::span<const uint8_t> bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail_errno("cannot create `{}`", path);
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            auto e = fail_errno("cannot write `{}`", path);
            ::close(fd);
            return e;
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto e = fail_errno("cannot sync `{}`", path);
        ::close(fd);
        return e;
    }
    ::close(fd);
    return {};
}

}  // namespace popek::snapshot
