#include "vmm/input_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "loader/elf.h"
#include "util/fd.h"
#include "util/huge_mapping.h"

namespace popek::vmm {
namespace {

/// What ReadMode::ElfMetadata reads up front at most (tables and notes; a kernel's are a few KiB)
/// and always (the start of the file: the multiboot header search looks at its first 8 KiB).
constexpr uint64_t kMetadataMaxBytes = uint64_t{16} << 20;
constexpr uint64_t kPrefixBytes = 64 << 10;

Result<void> pread_all(int fd, uint8_t* out, size_t len, uint64_t offset, const std::string& name) {
    size_t done = 0;
    while (done < len) {
        const ssize_t n = ::pread(fd, out + done, len - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("cannot read {}: {}", name, std::strerror(errno));
        if (n == 0) return fail("{} shrank while being read", name);
        done += static_cast<size_t>(n);
    }
    return {};
}

/// An anonymous buffer of the file's size that only the fetched ranges touch (4 KiB pages: the
/// untouched rest stays unbacked), holding the ELF's metadata; false when the file needs a whole read.
Result<bool> read_elf_metadata(InputFile& file) {
    void* raw = ::mmap(nullptr, file.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return fail_errno("mmap {} bytes for {}", file.size, file.name);
    file.data = UniqueMapping(raw, file.size);
    auto* const buffer = static_cast<uint8_t*>(raw);
    std::string error;
    const uint64_t prefix = std::min<uint64_t>(file.size, kPrefixBytes);
    // A range inside one of the first reads (the prefix; a note both a PT_NOTE and a SHT_NOTE
    // name) is not read again. Only the first 16 are kept: a hostile file's 2 x 65535 table
    // entries then cost at most 16 comparisons each.
    std::vector<std::pair<uint64_t, uint64_t>> done;
    auto fetch = [&](uint64_t offset, uint64_t len) {
        for (const auto& [at, n] : done)
            if (offset >= at && offset + len <= at + n) return true;
        auto read = pread_all(file.fd.get(), buffer + offset, len, offset, file.name);
        if (!read) error = read.error().message;
        else if (done.size() < 16) done.emplace_back(offset, len);
        return read.has_value();
    };
    if (!fetch(0, prefix)) return fail("{}", error);
    if (loader::fetch_elf_metadata(file.bytes(), kMetadataMaxBytes, fetch)) return true;
    if (!error.empty()) return fail("{}", error);
    file.data = {};
    return false;
}

}  // namespace

Result<void> InputFile::read_at(uint64_t offset, std::span<uint8_t> out) const {
    if (offset > size || out.size() > size - offset)
        return fail("{}: {} bytes at {:#x} lie past its end ({} bytes)", name, out.size(), offset, size);
    if (!on_demand) {
        std::copy_n(bytes().begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
        return {};
    }
    return pread_all(fd.get(), out.data(), out.size(), offset, name);
}

Result<InputFile> read_input_file(const std::string& path, std::string_view what, uint64_t max_bytes, ReadMode mode,
                                  uint64_t on_demand_min) {
    // O_NONBLOCK: opening a FIFO without a writer must not block (it is refused below).
    const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (raw < 0) return fail("cannot read {} '{}': {}", what, path, std::strerror(errno));
    InputFile file;
    file.fd = UniqueFd(raw);
    file.name = fmt::format("{} '{}'", what, path);
    struct stat st {};
    if (::fstat(file.fd.get(), &st) != 0) return fail("cannot read {}: {}", file.name, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return fail("{} '{}' is a directory, not a file", what, path);
    if (!S_ISREG(st.st_mode)) return fail("{} '{}' is not a regular file (a device, FIFO or socket)", what, path);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size == 0) return fail("{} '{}' is empty", what, path);
    if (size > max_bytes)
        return fail("{} '{}' is {} MiB, more than fits ({} MiB; raise --mem?)", what, path, (size + (1 << 20) - 1) >> 20,
                    max_bytes >> 20);
    file.size = static_cast<size_t>(size);
    if (mode != ReadMode::Whole && size >= on_demand_min) {
        file.on_demand = mode == ReadMode::OnDemand || TRY(read_elf_metadata(file));
        if (file.on_demand) return file;
    }
    file.data = TRY(map_huge_anonymous(file.size, "the file's bytes", true));
    TRY_VOID(pread_all(file.fd.get(), static_cast<uint8_t*>(file.data.get()), file.size, 0, file.name));
    file.fd = {};
    return file;
}

}  // namespace popek::vmm
