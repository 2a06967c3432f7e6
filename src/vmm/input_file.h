#pragma once
/// Reading the user's kernel and initrd files: only regular files (a directory, FIFO or device is
/// refused with one clear error instead of an abort or a hang), refused by size before a byte is
/// read when they cannot fit. Small files are read whole; large ones on demand, straight into
/// guest RAM (loader::LoadRequest::kernel_reader / initrd_reader), so that fresh host memory is
/// not touched twice for them: on a nested host a first touch costs ~4 ms per MiB once the host
/// has taken freed memory back (free page reporting), more than the copy itself.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace popek::vmm {

/// How much of a file read_input_file reads up front.
enum class ReadMode {
    Whole,          ///< every byte (configuration files, small images)
    ElfMetadata,    ///< a large ELF: only what loader::ElfFile::parse reads; the rest on demand
    OnDemand,       ///< a large file: nothing; every range on demand (an initrd, copied whole)
};

/// A file's bytes (a kernel ELF is tens of MiB): read into anonymous memory that the host may
/// back with huge pages (util/huge_mapping.h), freed as a whole after loading; or, when
/// `on_demand`, only partly (ReadMode), the rest readable through read_at while it lives.
struct InputFile {
    UniqueMapping data;
    size_t size = 0;
    bool on_demand = false;   ///< bytes() holds only the metadata (or nothing): use read_at
    UniqueFd fd;              ///< kept while on_demand
    std::string name;         ///< "kernel 'PATH'", for errors

    /// The file's bytes; with on_demand, those read up front and zeros elsewhere.
    std::span<const uint8_t> bytes() const {
        return data.get() ? std::span<const uint8_t>{static_cast<const uint8_t*>(data.get()), size}
                          : std::span<const uint8_t>{};
    }
    /// Reads [offset, offset + out.size()) of the file into `out`.
    Result<void> read_at(uint64_t offset, std::span<uint8_t> out) const;
};

/// Files from this size on are read on demand where the mode allows it.
inline constexpr uint64_t kOnDemandMinBytes = uint64_t{4} << 20;

/// The whole of `path` (`what` names it in errors: "kernel", "initrd"), or as much as `mode`
/// says for a file of at least `on_demand_min` bytes. Fails when it is not a regular file, is
/// empty, or is larger than `max_bytes` (the caller's bound: guest RAM for an initrd, which is
/// copied whole into it).
Result<InputFile> read_input_file(const std::string& path, std::string_view what, uint64_t max_bytes,
                                  ReadMode mode = ReadMode::Whole, uint64_t on_demand_min = kOnDemandMinBytes);

}  // namespace popek::vmm
