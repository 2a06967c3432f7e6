#pragma once
/// Per-thread system-call allow-lists for the VMM process (issue 14 part 3, docs/seccomp.md).
///
/// Each popek thread, once set up, confines itself as its kind: the vCPU threads, the device / I/O
/// threads (console input, network back ends, the Xen timer, the gdb stub), the API socket's
/// threads, and the main thread (after it started the others). Filters are loaded per thread
/// (no SECCOMP_FILTER_FLAG_TSYNC): each kind gets its own list, and a thread a confined thread
/// creates (an API connection) inherits its creator's. Anything not listed kills the whole
/// process with SIGSYS (SCMP_ACT_KILL_PROCESS): a compromised thread must not leave the rest of
/// a half-dead VMM running.
///
/// Off unless enable_thread_confinement() was called: `popek run` does (without --no-seccomp);
/// in-process tests that build VMs do not, so gtest's own threads stay unconfined.
///
/// Two environment variables, read once by enable_thread_confinement():
/// - POPEK_SECCOMP_SELFTEST=vcpu|device|api|main: the first thread of that kind calls execve(2)
///   (on no list) right after confining itself, so a test can show the call is fatal; with
///   --no-seccomp the call fails (ENOENT) and popek says so on stderr and goes on.
/// - POPEK_SECCOMP_AUDIT=1 (or =FILE): a call off the list fails with ENOSYS and is reported on
///   stderr (or appended to FILE): "seccomp audit: <kind> thread: syscall N", instead of killing;
///   for deriving the lists. The call still does not happen: this weakens nothing.
#include <optional>
#include <span>
#include <string_view>

#include "host/seccomp_filter.h"
#include "util/result.h"

namespace popek::host {

enum class ThreadKind : uint8_t { Vcpu, Device, Api, Main };
inline constexpr ThreadKind kAllThreadKinds[] = {ThreadKind::Vcpu, ThreadKind::Device, ThreadKind::Api, ThreadKind::Main};

std::string_view thread_kind_name(ThreadKind kind);
std::optional<ThreadKind> parse_thread_kind(std::string_view name);

/// The calls a thread of `kind` may make (thread_syscalls.cpp); `share`: the VM has a --share
/// directory, whose requests its vCPU threads serve.
std::span<const SyscallRule> thread_allow_list(ThreadKind kind, bool share = false);

/// The VM being built has a --share directory (set before its threads start).
void set_confinement_share(bool share);

/// `seccomp`: confine each thread as it calls confine_this_thread (false: --no-seccomp, only the
/// self-test hook stays). Reads the environment variables above. Call before any thread starts.
Result<void> enable_thread_confinement(bool seccomp);
bool thread_confinement_enabled();

/// Drops the calling thread's capabilities and credentials when host::enable_privilege_drop()
/// was called (host/privilege_drop.h; a failure ends popek, status 4), then loads `kind`'s
/// filter on the calling thread when enabled (a no-op otherwise), then runs the
/// self-test when it names `kind`. A filter that cannot be loaded ends popek (status 4): running
/// unconfined after the user asked for confinement is not an option.
void confine_this_thread(ThreadKind kind);

}  // namespace popek::host
