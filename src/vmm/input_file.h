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

#include "util/result.h"

namespace popek::vmm {

/// A file's bytes, in a buffer that was never zero-filled (a kernel ELF is tens of MiB).
struct InputFile {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
    std::span<const uint8_t> bytes() const { return {data.get(), size}; }
};

/// The whole of `path` (`what` names it in errors: "kernel", "initrd"). Fails when it is not a
/// regular file, is empty, or is larger than `max_bytes` (the caller's bound: guest RAM for an
/// initrd, which is copied whole into it).
Result<InputFile> read_input_file(const std::string& path, std::string_view what, uint64_t max_bytes);

}  // namespace popek::vmm
