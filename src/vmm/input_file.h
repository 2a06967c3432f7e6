#pragma once
/// Reading the user's kernel and initrd files: only regular files (a directory, FIFO or device is
/// refused with one clear error instead of an abort or a hang), refused by size before a byte is
/// read when they cannot fit, and read with one allocation of the file's size.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace popek::vmm {

/// The whole of `path` (`what` names it in errors: "kernel", "initrd"). Fails when it is not a
/// regular file, is empty, or is larger than `max_bytes` (the caller's bound: guest RAM for an
/// initrd, which is copied whole into it).
Result<std::vector<uint8_t>> read_input_file(const std::string& path, std::string_view what, uint64_t max_bytes);

}  // namespace popek::vmm
