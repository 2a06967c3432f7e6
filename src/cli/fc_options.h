#pragma once
/// Firecracker's VM description (vmm/fc_config.h: a config file, or what API calls set) mapped
/// onto the VmOptions the command line fills, so `popek run --config-file`, the API socket and
/// `popek run --kernel ...` build the same VM.
#include <string>

#include "util/result.h"
#include "vmm/fc_config.h"
#include "vmm/vm_options.h"

namespace popek::cli {

/// `--accel auto`: kvm when /dev/kvm is usable, else interp.
std::string resolve_accel(const std::string& accel);

/// The VM `config` describes. Drives become --disk (the root device first, and Firecracker's
/// `root=/dev/vda ro|rw` added to the boot args), network interfaces --net tap=NAME with their MAC,
/// the `"popek"` key the CLI's own options. Errors name the field ("popek: `net` ...").
Result<vmm::VmOptions> to_vm_options(const vmm::fc::Config& config);

/// A VM described by a config file or the API, plus what only the command line says: --stats,
/// --perf-map, --gdb, --gdb-wait and the serial console wiring.
vmm::VmOptions with_cli_extras(vmm::VmOptions described, const vmm::VmOptions& cli);

/// Reads and maps a config file (`popek run --config-file FILE`); errors start with FILE.
Result<vmm::VmOptions> load_config_file(const std::string& path);

}  // namespace popek::cli
