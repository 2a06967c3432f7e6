#pragma once
/// Snapshots of a whole VM on the own engine (docs/snapshot.md): PUT /snapshot/create writes the
/// state file and the memory file of a paused VM; `popek run --restore` and PUT /snapshot/load
/// rebuild the VM the snapshot describes and load its state before any vCPU runs.
/// `--accel kvm` and `--xen` are refused ("not supported yet").
#include <optional>
#include <string>

#include "hv/hypervisor.h"
#include "memory/guest_memory.h"
#include "snapshot/snapshot_file.h"
#include "util/result.h"
#include "vmm/vm_options.h"

namespace popek::vmm {

class Board;

/// Refuses what snapshots do not cover yet: KVM, the Xen platform.
Result<void> check_snapshot_support(hv::Accel accel, bool xen);

struct SnapshotFiles {
    std::string snapshot_path;
    std::string mem_file_path;
};

/// Writes `files` for a paused VM. Returns the bytes of guest RAM written (non-zero pages).
Result<uint64_t> create_snapshot(hv::Vm& vm, Board& board, const memory::GuestMemory& mem, const VmOptions& options,
                                 const SnapshotFiles& files);

/// A snapshot read and checked, before anything is built.
class RestorePlan {
public:
    /// Reads options.restore_path; the VM options come from the snapshot, the rest (engine,
    /// console, --stats, --gdb) from `options`.
    static Result<RestorePlan> open(const VmOptions& options);
    const VmOptions& options() const { return m_options; }
    /// Guest RAM from the memory file (exactly the snapshot's RAM size).
    Result<void> load_memory(const memory::GuestMemory& mem) const;
    /// Every vCPU and device state, into the VM built from options() (vCPUs created).
    Result<void> apply(hv::Vm& vm, Board& board) const;

private:
    VmOptions m_options;
    snapshot::Image m_image;
};

}  // namespace popek::vmm
