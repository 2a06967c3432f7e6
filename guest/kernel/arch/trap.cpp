#include "arch/trap.h"

#include "arch/apic.h"
#include "arch/x86.h"
#include "lib/kprint.h"
#include "proc/process.h"
#include "proc/sched.h"

extern "C" void syscall_entry();
extern "C" void syscall_dispatch(pos::TrapFrame* frame);

namespace pos {
namespace {

InterruptHandler g_handlers[256];

const char* exception_name(uint64_t v) {
    // SDM Vol. 3A table 6-1.
    static const char* const names[] = {
        "divide error", "debug", "NMI", "breakpoint", "overflow", "BOUND range exceeded",
        "invalid opcode", "device not available", "double fault", "coprocessor segment overrun",
        "invalid TSS", "segment not present", "stack-segment fault", "general protection fault",
        "page fault", "reserved", "x87 floating-point error", "alignment check", "machine check",
        "SIMD floating-point exception", "virtualization exception", "control protection exception"};
    return v < sizeof names / sizeof names[0] ? names[v] : "reserved exception";
}

[[noreturn]] void kernel_fault(const TrapFrame& f) {
    kprintf("popek-os: kernel %s (vector %lu, error %#lx)\n", exception_name(f.vector), f.vector, f.error);
    kprintf("  rip=%016lx rsp=%016lx rflags=%lx cr2=%016lx\n", f.rip, f.rsp, f.rflags, x86::read_cr2());
    kprintf("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", f.rax, f.rbx, f.rcx, f.rdx);
    kprintf("  rsi=%016lx rdi=%016lx rbp=%016lx\n", f.rsi, f.rdi, f.rbp);
    panic("unrecoverable fault in the kernel");
}

/// On this project's KVM host (PVM) a ring-3 SYSCALL reaches LSTAR without leaving ring 3, so
/// the first kernel instruction faults with a user-mode page fault. That fault carries exactly the
/// state SYSCALL defines (rcx = return rip, r11 = rflags, rax = number), so the call is served
/// here and returns through IRETQ: the ABI stays the same on every engine.
bool serve_faulted_syscall(TrapFrame& f) {
    if (f.vector != 14 || f.rip != reinterpret_cast<uint64_t>(&syscall_entry)) return false;
    static bool reported = false;   // once for the machine, whichever CPU sees it first
    if (!__atomic_exchange_n(&reported, true, __ATOMIC_RELAXED)) {
        kprintf("popek-os: SYSCALL arrives in ring 3 on this CPU; serving system calls from the fault\n");
    }
    f.rip = f.rcx;
    // As SYSRET would: flags from r11, but never IOPL, NT or VM from user space; IF on.
    f.rflags = (f.r11 & 0x240dd5) | 0x202;
    syscall_dispatch(&f);
    return true;
}

void user_fault(TrapFrame& f) {
    if (serve_faulted_syscall(f)) return;
    Process* p = current_process();
    if (p != nullptr && f.vector == 14 && (f.error & 1) == 0 && process_grow_stack(p, x86::read_cr2())) return;
    if (p == nullptr) kernel_fault(f);
    if (f.vector == 14)
        kprintf("popek-os: killed pid %d (%s): %s at address %#lx (%s, %s), rip=%#lx\n", p->pid, p->name,
                exception_name(f.vector), x86::read_cr2(), (f.error & 1) ? "protection" : "not mapped",
                (f.error & 2) ? "write" : "read", f.rip);
    else
        kprintf("popek-os: killed pid %d (%s): %s (vector %lu, error %#lx), rip=%#lx\n", p->pid, p->name,
                exception_name(f.vector), f.vector, f.error, f.rip);
    process_exit(static_cast<int>(POS_KILLED_BASE + f.vector));
}

}  // namespace

void set_interrupt_handler(uint8_t vector, InterruptHandler handler) { g_handlers[vector] = handler; }

}  // namespace pos

extern "C" void trap_dispatch(pos::TrapFrame* frame) {
    using namespace pos;
    if (frame->vector < 32) {
        if (frame->from_user()) user_fault(*frame);
        else kernel_fault(*frame);
        return;
    }
    if (frame->vector == kVectorSpurious) return;   // no EOI for spurious interrupts (SDM 11.9)
    InterruptHandler h = g_handlers[frame->vector];
    if (h != nullptr) h();
    lapic::eoi();
    preempt_if_needed();
}
