// popek entry point: parse the command line, run the VM (or the net-peer tool), map the outcome to an exit status.
#include <fmt/core.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "api/api_main.h"
#include "api/periodic_metrics.h"
#include "cli/cli.h"
#include "host/privilege_drop.h"
#include "host/privileges.h"
#include "host/thread_confinement.h"
#include "sealdisk/inspect.h"
#include "vmm/exit_status.h"
#include "vmm/machine.h"

extern "C" const uint8_t popek_demo_guest_start[];
extern "C" const uint8_t popek_demo_guest_end[];

int main(int argc, char** argv) {
    // One heap for every thread, grown 64 MiB at a time: a vCPU thread's decoder and translator
    // allocate all through a guest's boot, and glibc's per-thread arenas grow by one mprotect()
    // per request (some 10 000 calls in a Debian boot). The tunables are hints: failure is harmless.
    (void)mallopt(M_ARENA_MAX, 1);
    (void)mallopt(M_TOP_PAD, 64 << 20);
    // The heap's first 64 MiB (a Debian boot's blocks and translator state fit) as transparent
    // huge pages where the host offers them: its first touches are then some 30 faults instead
    // of ~10 000 (each costly where popek itself runs in a VM; glibc's own switch for this,
    // glibc.malloc.hugetlb, is read from the environment only). Untouched pages stay free.
    // The heap grows (by the pad) when a request no longer fits its top: make it grow now with
    // requests below the mmap threshold, then mark what it grew by.
    if (const auto before = reinterpret_cast<uintptr_t>(sbrk(0)); before != ~uintptr_t{0}) {
        std::vector<void*> probes;
        while (probes.size() < 8 && reinterpret_cast<uintptr_t>(sbrk(0)) == before)
            probes.push_back(std::malloc(64 << 10));
        const auto top = reinterpret_cast<uintptr_t>(sbrk(0));
        const uintptr_t start = (before + 4095) & ~uintptr_t{4095};
        if (top != ~uintptr_t{0} && start < top)
            (void)madvise(reinterpret_cast<void*>(start), top - start, MADV_HUGEPAGE);
        for (void* p : probes) std::free(p);
    }
    // Before any thread exists, so that all of them and every child inherit it.
    if (auto limited = popek::host::limit_privilege_gain(); !limited) {
        fmt::print(stderr, "popek: {}\n", limited.error().message);
        return popek::vmm::kExitVmError;
    }
    std::vector<std::string> args(argv + 1, argv + argc);
    popek::cli::Parsed parsed = popek::cli::parse(args);
    if (parsed.action == popek::cli::Parsed::Exit) {
        fmt::print(parsed.exit_status == 0 ? stdout : stderr, "{}", parsed.message);
        return parsed.exit_status;
    }
    if (parsed.action == popek::cli::Parsed::NetPeer) return popek::netsec::run_net_peer(parsed.net_peer);
    if (parsed.action == popek::cli::Parsed::DiskInspect) {
        auto report = popek::sealdisk::inspect_image(parsed.disk_image);
        if (!report) fmt::print(stderr, "popek disk-inspect: {}\n", report.error().message);
        else fmt::print("{}", *report);
        return report ? 0 : popek::vmm::kExitUserError;
    }
    if (parsed.action == popek::cli::Parsed::Backend) {
        // No exit-time work under the driver domain's seccomp filter (LeakSanitizer's tracer
        // thread in the asan build would need clone and ptrace): leave at once.
        int status = popek::ddom::run_backend(parsed.backend);
        std::fflush(stderr);
        std::_Exit(status);
    }
    auto& opt = parsed.options;
    // The built-in demo guest, unless a kernel was given or the API (--api-sock) is to describe the VM.
    if (opt.kernel_path.empty() && (parsed.api_sock.empty() || parsed.vm_described))
        opt.kernel_bytes.assign(popek_demo_guest_start, popek_demo_guest_end);
    opt.serial_in_fd = STDIN_FILENO;

    // Before the first thread: each drops its capabilities (and with --uid/--gid its
    // credentials) once set up, then confines itself (docs/security-model.md, docs/seccomp.md).
    auto& drop = parsed.privileges;
    drop.api_sock = !parsed.api_sock.empty();
    drop.gdb_unix = opt.gdb.starts_with("unix:");
    drop.net_dgram = std::ranges::any_of(opt.nets, [](const auto& n) { return n.kind == popek::vmm::NetOption::Kind::Dgram; });
    if (auto checked = popek::host::check_privilege_drop(drop); !checked) {
        fmt::print(stderr, "popek: {}\n", checked.error().message);
        return popek::vmm::kExitUserError;
    }
    popek::host::enable_privilege_drop(drop);
    // Before the first thread: each confines itself once set up (docs/seccomp.md).
    if (auto confined = popek::host::enable_thread_confinement(parsed.seccomp); !confined) {
        fmt::print(stderr, "popek: {}\n", confined.error().message);
        return popek::vmm::kExitUserError;
    }
    // Without the API socket, the config file's `metrics` section still gets its lines (every
    // 60 s and at the end: docs/metrics.md).
    std::optional<popek::api::PeriodicMetrics> metrics;
    if (parsed.api_sock.empty() && !opt.metrics_path.empty()) metrics.emplace(opt.metrics_path);
    auto outcome = parsed.api_sock.empty() ? popek::vmm::run_vm(opt, metrics ? &*metrics : nullptr)
                                           : popek::api::run_with_api(parsed.api_sock, opt, parsed.vm_described);
    metrics.reset();
    int status = popek::vmm::kExitUserError;
    if (!outcome) {
        fmt::print(stderr, "popek: {}\n", outcome.error().message);
    } else {
        if (outcome->exit_status == popek::vmm::kExitVmError) {
            fmt::print(stderr, "popek: VM stopped: {}\n", outcome->reason);
        } else if (outcome->cause == popek::devices::ExitCause::TripleFault) {
            fmt::print(stderr, "popek: guest triple-faulted (treated as a reset)\n");
        }
        status = outcome->exit_status;
    }
#if defined(__SANITIZE_ADDRESS__)
    // LeakSanitizer's exit-time tracer thread (clone, then ptrace) is on no seccomp list: with the
    // threads confined, the asan build leaves without it, as the driver domain does.
    if (popek::host::thread_confinement_enabled()) {
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(status);
    }
#endif
    return status;
}
