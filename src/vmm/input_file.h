#pragma once
/// Reading the user's kernel and initrd files: only regular files (a directory, FIFO or device is
/// refused with one clear error instead of an abort or a hang), refused by size before a byte is
/// read when they cannot fit, and read with one allocation of the file's size.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace popek::vmm {

/// A file's bytes (a kernel ELF is tens of MiB): read into anonymous memory that the host may
/// back with huge pages (util/huge_mapping.h), freed as a whole after loading.
struct InputFile {
    UniqueMapping data;
    size_t size = 0;
    std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(data.get()), size}; }
};

/// The whole of `path` (`what` names it in errors: "kernel", "initrd"). Fails when it is not a
/// regular file, is empty, or is larger than `max_bytes` (the caller's bound: guest RAM for an
/// initrd, which is copied whole into it).
Result<InputFile> read_input_file(const std::string& path, std::string_view what, uint64_t max_bytes);

}  // namespace popek::vmm
