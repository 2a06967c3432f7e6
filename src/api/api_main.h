#pragma once
/// `popek run --api-sock PATH`: serve Firecracker's API (docs/api.md) and run the VM it starts,
/// or the one the command line describes (then at once, the API controlling it while it runs).
#include "util/result.h"
#include "vmm/machine.h"
#include "vmm/vm_options.h"

namespace popek::api {

/// `options` as the command line filled them; `vm_described`: --kernel or --config-file was given.
/// Errors are the socket's (path in use, too long) and a described VM's set-up errors; a VM the
/// API starts reports its set-up errors to InstanceStart and the API waits for another.
Result<vmm::RunOutcome> run_with_api(const std::string& socket_path, const vmm::VmOptions& options, bool vm_described);

}  // namespace popek::api
