#pragma once
/// Snapshots of a whole VM on the own engine (docs/snapshot.md): PUT /snapshot/create writes the
/// state file and the memory file of a paused VM; `popek run --restore` and PUT /snapshot/load
/// rebuild the VM the snapshot describes and load its state before any vCPU runs.
/// `--accel kvm`, `--share` and `--driver-domain` are refused ("not supported yet"); a `--xen`
/// guest's platform is saved and restored by XenPlatform (xen_platform_snapshot.cpp).
#include <initializer_list>
#include <optional>
#include <string>

#include "hv/hypervisor.h"
#include "memory/guest_memory.h"
#include "snapshot/engine_state.h"
#include "snapshot/snapshot_file.h"
#include "util/result.h"
#include "vmm/vm_options.h"

namespace popek::vmm {

class Board;
class XenPlatform;

/// Refuses what snapshots do not cover yet: KVM, PCI devices and the IOMMU.
Result<void> check_snapshot_support(const VmOptions& options);
/// The engine and devices a snapshot of `board`'s VM covers (also reverse execution's).
snapshot::EngineParts snapshot_parts(emu::EngineShared& engine, Board& board);

struct SnapshotFiles {
    std::string snapshot_path;
    std::string mem_file_path;
};

/// Writes `files` for a paused VM (`xen`: its Xen platform, null without --xen). Returns the
/// bytes of guest RAM written (non-zero pages).
Result<uint64_t> create_snapshot(hv::Vm& vm, Board& board, XenPlatform* xen, const memory::GuestMemory& mem,
                                 const VmOptions& options, const SnapshotFiles& files);

/// A snapshot read and checked, before anything is built.
class RestorePlan {
public:
    /// Reads options.restore_path; the VM options come from the snapshot, the rest (engine,
    /// console, --stats, --gdb) from `options`.
    static Result<RestorePlan> open(const VmOptions& options);
    const VmOptions& options() const { return m_options; }
    /// Guest RAM from the memory file (exactly the snapshot's RAM size) into fresh (zero) RAM;
    /// the pages `written` (page frame numbers) were written since and are zeroed first.
    Result<void> load_memory(const memory::GuestMemory& mem, std::initializer_list<uint64_t> written = {}) const;
    /// Every vCPU and device state, into the VM built from options() (vCPUs created; `xen`: its
    /// Xen platform, built before load_memory(), null without --xen).
    Result<void> apply(hv::Vm& vm, Board& board, XenPlatform* xen) const;

private:
    VmOptions m_options;
    snapshot::Image m_image;
};

}  // namespace popek::vmm
