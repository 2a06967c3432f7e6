#pragma once
/// Least privilege once set up (issue 19 item 6; docs/security-model.md "Privileges").
///
/// `popek run` opens everything it needs (kernel, initrd, disks, /dev/kvm, tap, sockets) and
/// spawns the driver domain before any guest code runs; after that no thread needs a capability.
/// Linux keeps capabilities and credentials per thread (capabilities(7), credentials(7)), so each
/// popek thread drops its own as it confines itself (host/thread_confinement.h), before its
/// seccomp filter is loaded and before it does anything else:
///   - the capability bounding set is emptied (PR_CAPBSET_DROP, needs CAP_SETPCAP: as root);
///   - with --gid: no supplementary groups, real/effective/saved gid GID (setgroups, setresgid);
///   - with --uid: real/effective/saved uid UID (setresuid); a thread that could become root
///     again afterwards ends popek;
///   - effective, permitted and inheritable sets emptied (capset(2)), ambient set cleared.
/// The calls are made with syscall(2), not glibc's wrappers: those broadcast a credential change
/// to every thread of the process (nptl's setxid signal), and the threads already confined by
/// seccomp may not make it. A thread created by a thread that dropped inherits the dropped state.
///
/// --chroot DIR (Firecracker's jailer, reduced): chroot(2) into DIR once, process-wide, right
/// before the vCPU threads start. Everything the VM uses is open by then, so DIR may be empty.
#include <cstdint>
#include <optional>
#include <string>

#include "util/result.h"

namespace popek::host {

/// What `popek run --uid UID --gid GID --chroot DIR` asks for; all empty: only drop capabilities.
struct PrivilegeDrop {
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
    std::string chroot_dir;
    /// The run's options that would use a path after the chroot (checked by check_privilege_drop).
    bool api_sock = false, gdb_unix = false, net_dgram = false;
};

/// A user error (popek exits 2) when the request cannot be honoured: --uid without --gid (or the
/// reverse), --uid/--gid/--chroot when popek was not started as root, a --chroot that is not a
/// directory, or --chroot with an option that would resolve a path inside the jail afterwards.
Result<void> check_privilege_drop(const PrivilegeDrop& drop);

/// Every thread that calls drop_thread_privileges() from now on drops. Call before any thread.
void enable_privilege_drop(PrivilegeDrop drop);
bool privilege_drop_enabled();

/// --chroot: chroot(2) and chdir("/"), once per process; a no-op without it or when not enabled.
Result<void> enter_chroot();

/// The calling thread gives up its capabilities and, with --uid/--gid, its credentials (above);
/// a no-op when not enabled.
Result<void> drop_thread_privileges();

}  // namespace popek::host
