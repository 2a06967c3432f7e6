#pragma once
/// Processes: a user (identity), an address space, one thread, open files, a parent and an
/// exit status. The table is protected by the scheduler lock.
#include <stdint.h>

#include "popek_os/abi.h"
#include "proc/sched.h"

namespace pos {

class AddressSpace;
struct User;

inline constexpr int kMaxProcesses = 32, kMaxOpenFiles = 16;

struct OpenFile {
    bool used;
    int file;           ///< FileService id
    uint64_t offset;
    bool writable;      ///< opened with POS_O_WRITE (and allowed to)
    bool channel;       ///< a network channel (net_open): `file` is its number (net/channels.h)
};

struct Process {
    int pid;
    int parent;         ///< 0: none (orphans are reaped by the kernel when they exit)
    AddressSpace* space;
    Thread* thread;
    const User* user;
    char name[POS_NAME_MAX];
    bool zombie;
    int exit_status;
    OpenFile files[kMaxOpenFiles];
    WaitQueue child_exited;
    uint64_t fs_base;   ///< the TLS block (POS_USER_TLS_BASE)
    int last_cpu;       ///< the CPU its thread last ran on (-1: not yet; set by the scheduler)
    // Start-up data until the thread enters ring 3.
    uint64_t entry, user_rsp, argv;
    int argc;
};

/// Starts `path` as a child of `parent` (nullptr: the first process) running as `user`.
/// argv strings are kernel copies. Returns the pid or -POS_E*.
int process_spawn(Process* parent, const User* user, const char* path, const char* const* argv, int argc);
/// Waits for a child (pid, or any child when pid == -1); returns its pid and status, or -errno.
int process_wait(Process* self, int pid, int* status);
/// Ends the current process (closing its files, freeing its address space). Never returns.
[[noreturn]] void process_exit(int status);
/// Fills up to `max` entries; returns the count.
int process_list(PosProcInfo* out, int max);
void process_activate(Process* p);
/// Maps the stack page for a not-present fault inside the stack area; false otherwise.
bool process_grow_stack(Process* p, uint64_t fault_address);

}  // namespace pos
