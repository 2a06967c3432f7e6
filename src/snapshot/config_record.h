#pragma once
/// The VM's shape in a snapshot (docs/snapshot.md "CONF"): what `popek run --restore` rebuilds
/// before it loads state into it (vCPUs, RAM, devices in their order; a disk is re-opened by
/// its path). The engine is not part of it: an interp snapshot restores under bt and back.
#include "snapshot/snap_codec.h"
#include "vmm/vm_options.h"

namespace popek::snapshot {

inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr uint32_t kMaxDevices = 16;

void encode_config(Writer& w, const vmm::VmOptions& o);
/// Only the fields above are set; the rest keep their defaults. Range-checked (vCPUs, RAM).
vmm::VmOptions decode_config(Reader& r);

}  // namespace popek::snapshot
