#pragma once
/// Runs cases on the host CPU, in a child process (CPL3): code mapped read+execute at kCodeAddr,
/// data read+write at kDataAddr, registers loaded by native_enter.S. The sequence ends in UD2;
/// that #UD and any fault inside the sequence arrive as signals whose ucontext holds every
/// register, and the kernel's trap number gives the exception vector. A child that dies or hangs
/// is replaced.
#include <sys/types.h>

#include "generator.h"
#include "layout.h"
#include "util/fd.h"
#include "util/result.h"

namespace popek::difftest {

class NativeRunner {
public:
    /// Forks the child. Call before the process starts other threads (the child never allocates,
    /// but fork() from a threaded process is best kept early).
    static Result<NativeRunner> create();
    NativeRunner(NativeRunner&& other) noexcept;
    NativeRunner& operator=(NativeRunner&&) = delete;
    ~NativeRunner();

    Result<Outcome> run(const Case& c);

    /// The control block shared with the child (defined in native_runner.cpp).
    struct Shared;

private:
    NativeRunner() = default;
    Result<void> spawn();
    void reap();

    UniqueFd m_memfd;
    UniqueMapping m_map;
    Shared* m_shared = nullptr;
    UniqueFd m_to_child, m_from_child;
    pid_t m_pid = -1;
};

}  // namespace popek::difftest
