#pragma once
/// `popek disk-inspect IMG`: what a popek sealed disk's header makes public (docs/guest-os.md
/// "Storage"): format version, cipher, key derivation, sizes, generation, disk id. It never needs
/// or asks for the key, so it cannot check integrity; the guest does that.
#include <string>

#include "util/result.h"

namespace popek::sealdisk {

/// The report for the image at `path`, or an error naming what is wrong (unreadable, not a sealed
/// disk, inconsistent or truncated).
Result<std::string> inspect_image(const std::string& path);

}  // namespace popek::sealdisk
