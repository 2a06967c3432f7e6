/// System call dispatch (table in docs/guest-os.md). Every pointer from user space is checked
/// against the caller's page tables before the kernel touches it; a bad one gives -POS_EFAULT.
#include "arch/cpu.h"
#include "arch/trap_frame.h"
#include "auth/policy.h"
#include "common/string.h"
#include "drivers/console.h"
#include "drivers/tty.h"
#include "fs/file_service.h"
#include "lib/random.h"
#include "mm/address_space.h"
#include "mm/pmm.h"
#include "net/channels.h"
#include "net/netd_calls.h"
#include "popek_os/abi.h"
#include "proc/elf_loader.h"
#include "proc/process.h"
#include "proc/sched.h"
#include "proc/user_access.h"

namespace pos {

namespace {
/// Maps the stack-area pages inside [va, va+len) that the process has not touched yet, as its own
/// touch would (process_grow_stack): a buffer on its stack is valid before it was first written.
void map_untouched_stack(uint64_t va, size_t len) {
    const uint64_t lo = kUserStackTop - kUserStackSize;
    if (len == 0 || va + len < va || va >= kUserStackTop || va + len <= lo) return;
    const uint64_t end = va + len < kUserStackTop ? va + len : kUserStackTop;
    for (uint64_t page = (va > lo ? va : lo) & ~(kPageSize - 1); page < end; page += kPageSize)
        process_grow_stack(current_process(), page);
}
}  // namespace

bool user_readable(uint64_t va, size_t len) {
    map_untouched_stack(va, len);
    return current_process()->space->check_user_range(va, len, false);
}
bool user_writable(uint64_t va, size_t len) {
    map_untouched_stack(va, len);
    return current_process()->space->check_user_range(va, len, true);
}

long copy_to_user(uint64_t va, const void* src, size_t len) {
    if (!user_writable(va, len)) return -POS_EFAULT;
    memcpy(reinterpret_cast<void*>(va), src, len);
    return 0;
}

namespace {

constexpr size_t kMaxIo = 1 << 20;


/// Copies a NUL-terminated user string into dst[cap]; -POS_EFAULT or -POS_ENAMETOOLONG.
long copy_user_string(char* dst, size_t cap, uint64_t va) {
    for (size_t i = 0; i < cap; ++i) {
        if ((i == 0 || ((va + i) & (kPageSize - 1)) == 0) && !user_readable(va + i, 1)) return -POS_EFAULT;
        dst[i] = *reinterpret_cast<const char*>(va + i);
        if (dst[i] == 0) return static_cast<long>(i);
    }
    return -POS_ENAMETOOLONG;
}


OpenFile* file_slot(uint64_t fd) {
    if (fd < 3 || fd >= 3 + kMaxOpenFiles) return nullptr;
    OpenFile* f = &current_process()->files[fd - 3];
    return f->used ? f : nullptr;
}

long sys_write(uint64_t fd, uint64_t buf, uint64_t len) {
    if (len > kMaxIo) len = kMaxIo;
    if (fd == 1 || fd == 2) {
        if (!user_readable(buf, len)) return -POS_EFAULT;
        Console::active()->write(reinterpret_cast<const char*>(buf), len);
        return static_cast<long>(len);
    }
    OpenFile* f = file_slot(fd);
    if (f != nullptr && f->channel) return net_channel_write(f->file, buf, len);
    if (f == nullptr || !f->writable) return -POS_EBADF;
    if (!user_readable(buf, len)) return -POS_EFAULT;
    long n = FileService::active()->write(f->file, f->offset, reinterpret_cast<const void*>(buf), len);
    if (n > 0) f->offset += static_cast<uint64_t>(n);
    return n;
}

long sys_read(uint64_t fd, uint64_t buf, uint64_t len) {
    if (len > kMaxIo) len = kMaxIo;
    if (!user_writable(buf, len)) return -POS_EFAULT;
    if (fd == 0) return len == 0 ? 0 : static_cast<long>(tty_read(reinterpret_cast<char*>(buf), len));   // no wait for a line
    OpenFile* f = file_slot(fd);
    if (f == nullptr) return -POS_EBADF;
    if (f->channel) return net_channel_read(f->file, buf, len);
    long n = FileService::active()->read(f->file, f->offset, reinterpret_cast<void*>(buf), len);
    if (n > 0) f->offset += static_cast<uint64_t>(n);
    return n;
}

/// Positioned I/O for block layers in ring 3 (the sealed disk, docs/guest-os.md "Storage"): sets
/// the offset of a file descriptor; the console and network channels have none.
long sys_seek(uint64_t fd, uint64_t offset) {
    OpenFile* f = file_slot(fd);
    if (f == nullptr) return -POS_EBADF;
    if (f->channel || offset > (uint64_t{1} << 62)) return -POS_EINVAL;
    f->offset = offset;
    return 0;
}

long sys_open(uint64_t upath, uint64_t flags) {
    char path[POS_PATH_MAX];
    if (long err = copy_user_string(path, sizeof path, upath); err < 0) return err;
    if (!path_is_canonical(path) || (flags & ~uint64_t{POS_O_WRITE}) != 0) return -POS_EINVAL;
    Process* p = current_process();
    const bool writable = (flags & POS_O_WRITE) != 0;
    if (!authorize(p->user, Action::Open, path)) return -POS_EACCES;
    if (writable && !authorize(p->user, Action::Write, path)) return -POS_EACCES;
    int file = writable ? FileService::active()->lookup_for_write(path) : FileService::active()->lookup(path);
    if (file < 0) return file;
    for (int i = 0; i < kMaxOpenFiles; ++i) {
        if (p->files[i].used) continue;
        p->files[i] = {true, file, 0, writable, false};
        return 3 + i;
    }
    return -POS_EMFILE;
}

long sys_close(uint64_t fd) {
    OpenFile* f = file_slot(fd);
    if (f == nullptr) return -POS_EBADF;
    if (f->channel) channel_close(f->file);
    f->used = false;
    return 0;
}

long sys_spawn(uint64_t upath, uint64_t uargv, uint64_t argc) {
    char path[POS_PATH_MAX];
    if (long err = copy_user_string(path, sizeof path, upath); err < 0) return err;
    if (argc < 1 || argc > POS_ARG_MAX) return -POS_EINVAL;
    uint64_t ptrs[POS_ARG_MAX];
    if (!user_readable(uargv, argc * 8)) return -POS_EFAULT;
    memcpy(ptrs, reinterpret_cast<const void*>(uargv), argc * 8);
    char strings[POS_ARGBUF_MAX];
    const char* argv[POS_ARG_MAX];
    size_t used = 0;
    for (uint64_t i = 0; i < argc; ++i) {
        long n = copy_user_string(strings + used, sizeof strings - used, ptrs[i]);
        if (n < 0) return n == -POS_ENAMETOOLONG ? -POS_EINVAL : n;
        argv[i] = strings + used;
        used += static_cast<size_t>(n) + 1;
    }
    Process* self = current_process();
    return process_spawn(self, self->user, path, argv, static_cast<int>(argc));
}

long sys_wait(uint64_t pid, uint64_t ustatus) {
    if (ustatus != 0 && !user_writable(ustatus, sizeof(int))) return -POS_EFAULT;
    int status = 0;
    int got = process_wait(current_process(), static_cast<int>(pid), &status);
    if (got > 0 && ustatus != 0) copy_to_user(ustatus, &status, sizeof status);
    return got;
}

long sys_whoami(uint64_t uinfo) {
    PosUserInfo info;
    memset(&info, 0, sizeof info);
    if (const User* u = current_process()->user) {
        copy_string(info.name, sizeof info.name, u->name);
        memcpy(info.public_key, u->public_key, sizeof info.public_key);
    }
    return copy_to_user(uinfo, &info, sizeof info);
}

long sys_ps(uint64_t uout, uint64_t max) {
    PosProcInfo list[kMaxProcesses];
    if (max > kMaxProcesses) max = kMaxProcesses;
    if (!user_writable(uout, max * sizeof(PosProcInfo))) return -POS_EFAULT;
    int n = process_list(list, static_cast<int>(max));
    copy_to_user(uout, list, static_cast<size_t>(n) * sizeof(PosProcInfo));
    return n;
}

long sys_listdir(uint64_t index, uint64_t uentry) {
    FileService* fs = FileService::active();
    FileInfo fi;
    if (index >= static_cast<uint64_t>(fs->count()) || !fs->info(static_cast<int>(index), fi)) return 0;
    PosDirEntry e;
    memset(&e, 0, sizeof e);
    copy_string(e.name, sizeof e.name, fi.name);
    e.size = fi.size;
    e.executable = fi.executable ? 1 : 0;
    if (long err = copy_to_user(uentry, &e, sizeof e); err < 0) return err;
    return 1;
}

long sys_getrandom(uint64_t buf, uint64_t len) {
    if (len > 4096) len = 4096;
    if (!user_writable(buf, len)) return -POS_EFAULT;
    if (!random_fill(reinterpret_cast<void*>(buf), len)) return -POS_ENOSYS;
    return static_cast<long>(len);
}

long sys_sysinfo(uint64_t uinfo) {
    PosSysInfo info;
    memset(&info, 0, sizeof info);
    info.free_frames = pmm::free_frames();
    info.total_frames = pmm::total_frames();
    info.cpus = static_cast<uint32_t>(cpu_count());
    info.cpu = this_cpu()->id;
    info.kicks = sched_kicks_received();
    return copy_to_user(uinfo, &info, sizeof info);
}

long sys_sleep(uint64_t ms) {
    if (ms > 3600 * 1000) ms = 3600 * 1000;
    sleep_ticks((ms * kTickHz + 999) / 1000);
    return 0;
}

}  // namespace
}  // namespace pos

extern "C" void syscall_dispatch(pos::TrapFrame* f) {
    using namespace pos;
    long r;
    switch (f->rax) {
        case POS_SYS_WRITE: r = sys_write(f->rdi, f->rsi, f->rdx); break;
        case POS_SYS_READ: r = sys_read(f->rdi, f->rsi, f->rdx); break;
        case POS_SYS_OPEN: r = sys_open(f->rdi, f->rsi); break;
        case POS_SYS_CLOSE: r = sys_close(f->rdi); break;
        case POS_SYS_SPAWN: r = sys_spawn(f->rdi, f->rsi, f->rdx); break;
        case POS_SYS_WAIT: r = sys_wait(f->rdi, f->rsi); break;
        case POS_SYS_EXIT: process_exit(static_cast<int>(f->rdi));
        case POS_SYS_WHOAMI: r = sys_whoami(f->rdi); break;
        case POS_SYS_PS: r = sys_ps(f->rdi, f->rsi); break;
        case POS_SYS_YIELD: yield(); r = 0; break;
        case POS_SYS_SLEEP: r = sys_sleep(f->rdi); break;
        case POS_SYS_LISTDIR: r = sys_listdir(f->rdi, f->rsi); break;
        case POS_SYS_GETPID: r = current_process()->pid; break;
        case POS_SYS_UPTIME: r = static_cast<long>(ticks() * (1000 / kTickHz)); break;
        case POS_SYS_GETRANDOM: r = sys_getrandom(f->rdi, f->rsi); break;
        case POS_SYS_NETD_FRAME_TX: r = sys_netd_frame_tx(f->rdi, f->rsi); break;
        case POS_SYS_NETD_FRAME_RX: r = sys_netd_frame_rx(f->rdi, f->rsi, f->rdx); break;
        case POS_SYS_NET_OPEN: r = sys_net_open(f->rdi, f->rsi); break;
        case POS_SYS_NETD_NEXT_REQUEST: r = sys_netd_next_request(f->rdi, f->rsi, f->rdx); break;
        case POS_SYS_NETD_DELIVER: r = sys_netd_deliver(f->rdi); break;
        case POS_SYS_NET_STATS: r = sys_net_stats(f->rdi, f->rsi); break;
        case POS_SYS_SYSINFO: r = sys_sysinfo(f->rdi); break;
        case POS_SYS_SEEK: r = sys_seek(f->rdi, f->rsi); break;
        default: r = -POS_ENOSYS; break;
    }
    f->rax = static_cast<uint64_t>(r);
}
