#include "proc/process.h"

#include "net/channels.h"
#include "net/netd_calls.h"

#include "arch/cpu.h"
#include "arch/trap_frame.h"
#include "auth/policy.h"
#include "common/string.h"
#include "drivers/platform.h"
#include "fs/file_service.h"
#include "lib/kprint.h"
#include "mm/address_space.h"
#include "mm/heap.h"
#include "mm/pmm.h"
#include "proc/elf_loader.h"
#include "lib/random.h"
#include "arch/x86.h"

extern "C" char trap_return[];

namespace pos {
namespace {

Process* g_table[kMaxProcesses];
int g_next_pid = 1;

/// Copies argv onto the top of the new user stack: the strings, then the pointer array.
/// Returns false if they do not fit (the caller limits argc and the total size).
bool build_user_stack(Process& p, const char* const* argv, int argc) {
    // Only the top page now; the rest of the stack area is mapped on first touch
    // (process_grow_stack), which saves zeroing 64 KiB per spawn.
    uint64_t top_page = kUserStackTop - kPageSize;
    if (p.space->map_new_page(top_page, true) == 0) return false;
    // Everything goes into the top page, written through the direct map.
    auto* page = phys_to_virt<uint8_t>(p.space->translate(top_page, true));
    uint64_t sp = kUserStackTop;
    uint64_t ptrs[POS_ARG_MAX + 1];
    for (int i = argc - 1; i >= 0; --i) {
        size_t n = strlen(argv[i]) + 1;
        sp -= n;
        memcpy(page + (sp - top_page), argv[i], n);
        ptrs[i] = sp;
    }
    ptrs[argc] = 0;
    sp &= ~uint64_t{15};
    sp -= static_cast<uint64_t>(argc + 1) * 8;
    sp &= ~uint64_t{15};
    memcpy(page + (sp - top_page), ptrs, static_cast<size_t>(argc + 1) * 8);
    p.argv = sp;
    p.argc = argc;
    p.user_rsp = sp;   // 16-byte aligned at _start, as the SysV ABI process entry has it
    return true;
}

/// First code of a process thread: build the ring-3 frame and leave through trap_return.
void enter_user(void* arg) {
    auto* p = static_cast<Process*>(arg);
    x86::cli();
    auto* f = reinterpret_cast<TrapFrame*>(current_thread()->stack_top - sizeof(TrapFrame));
    memset(f, 0, sizeof *f);
    f->rip = p->entry;
    f->cs = kUserCode;
    f->rflags = 0x202;   // IF
    f->rsp = p->user_rsp;
    f->ss = kUserData;
    f->rdi = static_cast<uint64_t>(p->argc);
    f->rsi = p->argv;
    asm volatile("mov %0, %%rsp; jmp trap_return" ::"r"(f) : "memory");
    __builtin_unreachable();
}

/// Maps the TLS block: its own address at offset 0 and a random stack canary at 0x28.
bool build_tls(Process& p) {
    uint64_t phys = p.space->map_new_page(POS_USER_TLS_BASE, true);
    if (phys == 0) return false;
    auto* tls = phys_to_virt<uint64_t>(phys);
    tls[0] = POS_USER_TLS_BASE;
    if (!random_fill(&tls[5], sizeof tls[5])) tls[5] = x86::rdtsc() * 0x9e3779b97f4a7c15ull;
    tls[5] &= ~uint64_t{0xff};   // a zero low byte stops string overreads from leaking it
    p.fs_base = POS_USER_TLS_BASE;
    return true;
}

void free_process(Process* p) {
    for (auto& slot : g_table)
        if (slot == p) slot = nullptr;
    kfree(p);
}

}  // namespace

void process_activate(Process* p) {
    p->space->activate();
    x86::wrmsr(x86::kMsrFsBase, p->fs_base);
}

bool process_grow_stack(Process* p, uint64_t fault_address) {
    if (fault_address < kUserStackTop - kUserStackSize || fault_address >= kUserStackTop) return false;
    if (p->space->translate(fault_address, false) != 0) return false;   // mapped: a real fault
    return p->space->map_new_page(fault_address & ~(kPageSize - 1), true) != 0;
}

int process_spawn(Process* parent, const User* user, const char* path, const char* const* argv, int argc) {
    if (!path_is_canonical(path)) return -POS_EINVAL;
    if (argc < 1 || argc > POS_ARG_MAX) return -POS_EINVAL;
    size_t total = 0;
    for (int i = 0; i < argc; ++i) total += strlen(argv[i]) + 1;
    if (total > POS_ARGBUF_MAX) return -POS_EINVAL;
    FileService* fs = FileService::active();
    int file = fs->lookup(path);
    if (file < 0) return file;
    FileInfo fi;
    if (!fs->info(file, fi) || !fi.executable) return -POS_EACCES;
    if (!authorize(user, Action::Exec, path)) return -POS_EACCES;

    auto* p = static_cast<Process*>(kzalloc(sizeof(Process)));
    if (p == nullptr) return -POS_ENOMEM;
    p->space = AddressSpace::create();
    int err = p->space == nullptr ? -POS_ENOMEM : elf_load(*fs, file, *p->space, &p->entry);
    if (err == 0 && (!build_user_stack(*p, argv, argc) || !build_tls(*p))) err = -POS_ENOMEM;
    const char* base = path;
    for (const char* c = path; *c != 0; ++c)
        if (*c == '/') base = c + 1;
    copy_string(p->name, sizeof p->name, base);
    p->user = user;
    p->last_cpu = -1;
    if (err == 0) {
        p->thread = thread_create(p->name, enter_user, p, p);
        if (p->thread == nullptr) err = -POS_ENOMEM;
    }
    if (err == 0) {
        LockGuard guard(sched_lock());
        int slot = -1;
        for (int i = 0; i < kMaxProcesses && slot < 0; ++i)
            if (g_table[i] == nullptr) slot = i;
        if (slot < 0) {
            err = -POS_ENOMEM;
        } else {
            p->pid = g_next_pid++;
            p->parent = parent != nullptr ? parent->pid : 0;
            g_table[slot] = p;
        }
    }
    if (err != 0) {
        if (p->thread != nullptr) thread_discard(p->thread);
        if (p->space != nullptr) p->space->destroy();
        kfree(p);
        return err;
    }
    thread_make_runnable(p->thread);
    return p->pid;
}

int process_wait(Process* self, int pid, int* status) {
    LockGuard guard(sched_lock());
    for (;;) {
        bool have_child = false;
        for (Process* c : g_table) {
            if (c == nullptr || c->parent != self->pid || (pid != -1 && c->pid != pid)) continue;
            have_child = true;
            if (!c->zombie) continue;
            int found = c->pid;
            *status = c->exit_status;
            free_process(c);
            return found;
        }
        if (!have_child) return -POS_ECHILD;
        self->child_exited.wait_locked();
    }
}

void process_exit(int status) {
    Process* p = current_process();
    leave_address_space(p->space);
    p->space->destroy();
    p->space = nullptr;
    for (auto& f : p->files)
        if (f.used && f.channel) channel_close(f.file);
    netd_process_exited(p->pid);
    if (p->pid == 1) {
        kprintf("popek-os: init exited with status %d, powering off\n", status);
        platform::stop(platform::Stop::Poweroff);
    }
    {
        LockGuard guard(sched_lock());
        p->exit_status = status;
        p->zombie = true;
        // From here the parent may free `p` on another CPU while this thread finishes exiting.
        current_thread()->process = nullptr;
        for (auto& f : p->files) f.used = false;
        for (Process* c : g_table) {
            if (c == nullptr || c->parent != p->pid) continue;
            c->parent = 0;
        }
        Process* parent = nullptr;
        for (Process* c : g_table)
            if (c != nullptr && p->parent != 0 && c->pid == p->parent) parent = c;
        if (parent != nullptr) parent->child_exited.wake_all_locked();
        // Zombie orphans (children whose parent already exited) are freed now.
        for (Process* c : g_table)
            if (c != nullptr && c->zombie && c->parent == 0 && c != p) free_process(c);
        if (parent == nullptr) free_process(p);   // nobody will wait for it
    }
    sched_exit_current();
}

int process_list(PosProcInfo* out, int max) {
    LockGuard guard(sched_lock());
    int n = 0;
    for (Process* p : g_table) {
        if (p == nullptr || n == max) continue;
        PosProcInfo& info = out[n++];
        memset(&info, 0, sizeof info);
        info.pid = p->pid;
        info.parent = p->parent;
        info.cpu = p->last_cpu;
        info.state = p->zombie ? POS_PROC_ZOMBIE
                     : (p->thread->state == ThreadState::Blocked) ? POS_PROC_SLEEPING
                                                                 : POS_PROC_RUNNABLE;
        copy_string(info.user, sizeof info.user, p->user != nullptr ? p->user->name : "?");
        copy_string(info.name, sizeof info.name, p->name);
    }
    return n;
}

}  // namespace pos
