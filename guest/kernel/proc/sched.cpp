#include "proc/sched.h"

#include "arch/cpu.h"
#include "arch/trap_frame.h"
#include "arch/x86.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/address_space.h"
#include "mm/heap.h"
#include "mm/pmm.h"
#include "proc/process.h"

extern "C" void switch_context(uint64_t* save_rsp, uint64_t next_rsp);
extern "C" void thread_trampoline();

namespace pos {
namespace {

constexpr size_t kStackPages = 4;   // 16 KiB kernel stacks
constexpr uint32_t kSliceTicks = 2; // 20 ms time slice

Spinlock g_lock;
Thread* g_run_head = nullptr;
Thread* g_run_tail = nullptr;
Thread* g_sleepers = nullptr;
uint64_t g_stack_cache[16];         // freed kernel stacks (physical), reused before new ones
int g_stack_cache_count = 0;
uint64_t g_ticks = 0;   // written under the lock by CPU 0's tick; read racily for uptime
int g_next_thread_id = 1;
bool g_save_fpu = false;            // CPUID.1:EDX.FXSR (SDM Vol. 2A CPUID): FXSAVE on every switch
IdleWait g_idle_wait = nullptr;     // nullptr: sti; hlt
Kick g_kick = nullptr;
uint64_t g_kicks_received = 0;
bool g_boot_done = false;           // the boot CPU reached its idle loop: every CPU takes work

/// APs take threads only once the boot CPU finished booting, so that the boot log (netd's start
/// comes after the shell's) is complete before the shell prints its prompt.
bool may_take_work(const Cpu* cpu) { return cpu->id == 0 || __atomic_load_n(&g_boot_done, __ATOMIC_ACQUIRE); }

void enqueue(Thread* t) {
    t->state = ThreadState::Runnable;
    t->next = nullptr;
    if (g_run_tail != nullptr) g_run_tail->next = t;
    else g_run_head = t;
    g_run_tail = t;
}

Thread* dequeue() {
    Thread* t = g_run_head;
    if (t == nullptr) return nullptr;
    g_run_head = t->next;
    if (g_run_head == nullptr) g_run_tail = nullptr;
    t->next = nullptr;
    return t;
}

/// `t` became runnable (lock held): this CPU takes it if idle, else an idle CPU is kicked, else
/// this CPU reconsiders at its next interrupt exit (the one-CPU behaviour).
void wake_locked(Thread* t) {
    enqueue(t);
    Cpu* self = this_cpu();
    if (self->current != self->idle && g_kick != nullptr) {
        for (int i = 0; i < kMaxCpus; ++i) {
            Cpu& c = cpu_at(i);
            if (&c == self || !c.online || c.kicked || c.current != c.idle || !may_take_work(&c)) continue;
            c.kicked = true;
            g_kick(i);
            return;
        }
    }
    self->need_resched = true;
}

void init_fpu_area(uint8_t* area) {
    memset(area, 0, 512);
    area[0] = 0x7f, area[1] = 0x03;                  // FCW: all x87 exceptions masked
    uint32_t mxcsr = 0x1f80;                          // all SIMD exceptions masked
    memcpy(area + 24, &mxcsr, sizeof mxcsr);
}

uint64_t alloc_stack() {
    if (g_stack_cache_count > 0) return g_stack_cache[--g_stack_cache_count];
    return pmm::alloc_contiguous(kStackPages);
}

void free_thread(Thread* t) {
    uint64_t stack = virt_to_phys(reinterpret_cast<void*>(t->stack_base));
    if (g_stack_cache_count < 16) g_stack_cache[g_stack_cache_count++] = stack;
    else for (size_t i = 0; i < kStackPages; ++i) pmm::free_frame(stack + i * kPageSize);
    kfree(t);
}

/// After a switch, on the CPU that made it (lock held): the thread left is off this CPU's stack
/// now, so another CPU may run it, and a dead one can be freed.
void finish_switch() {
    Cpu* cpu = this_cpu();
    Thread* prev = cpu->switched_from;
    cpu->switched_from = nullptr;
    if (prev == nullptr) return;
    prev->running_on = -1;
    if (prev->state == ThreadState::Dead) free_thread(prev);
}

Thread* make_idle_thread(Cpu* cpu, uint64_t stack_base, uint64_t stack_top) {
    auto* idle = static_cast<Thread*>(kzalloc(sizeof(Thread)));
    if (idle == nullptr) panic("no memory for the idle thread");
    copy_string(idle->name, sizeof idle->name, "idle");
    idle->state = ThreadState::Running;
    idle->stack_base = stack_base;
    idle->stack_top = stack_top;
    idle->running_on = idle->last_cpu = cpu->id;
    init_fpu_area(idle->fpu);
    cpu->current = idle;
    cpu->idle = idle;
    cpu->slice_left = kSliceTicks;
    return idle;
}

}  // namespace

Spinlock& sched_lock() { return g_lock; }
uint64_t ticks() { return g_ticks; }
Thread* current_thread() { return this_cpu_current(); }
Process* current_process() {
    Thread* t = current_thread();
    return t != nullptr ? t->process : nullptr;
}

void WaitQueue::wait_locked() {
    Thread* self = current_thread();
    self->state = ThreadState::Blocked;
    self->next = m_head;
    m_head = self;
    schedule_locked();
}

void WaitQueue::wake_all_locked() {
    // Even with nobody waiting, this CPU reconsiders its choice at the next interrupt exit, as
    // popek-os always did on one CPU (interrupt handlers that wake rely on that timing).
    if (m_head == nullptr) this_cpu()->need_resched = true;
    while (m_head != nullptr) {
        Thread* t = m_head;
        m_head = t->next;
        wake_locked(t);
    }
}

bool sched_saves_fpu() { return g_save_fpu; }

void sched_init() {
    g_save_fpu = (x86::cpuid(1).edx & (1u << 24)) != 0;
    // The boot thread becomes this CPU's idle thread (its stack is the boot stack in .bss).
    make_idle_thread(this_cpu(), 0, 0);
    cpu_set_online(*this_cpu());
}

void sched_init_cpu(uint64_t stack_base, uint64_t stack_top) {
    LockGuard guard(g_lock);
    make_idle_thread(this_cpu(), stack_base, stack_top);
    cpu_set_online(*this_cpu());
}

void sched_set_kick(Kick kick) { g_kick = kick; }

void sched_kicked() {
    __atomic_fetch_add(&g_kicks_received, 1, __ATOMIC_RELAXED);
    this_cpu()->need_resched = true;
}

uint64_t sched_kicks_received() { return __atomic_load_n(&g_kicks_received, __ATOMIC_RELAXED); }

void sched_wait_for_interrupt() {
    if (g_idle_wait != nullptr) g_idle_wait();
    else x86::sti_hlt();
    x86::cli();
}

Thread* thread_create(const char* name, void (*entry)(void*), void* arg, Process* process) {
    auto* t = static_cast<Thread*>(kzalloc(sizeof(Thread)));
    if (t == nullptr) return nullptr;
    uint64_t stack;
    {
        LockGuard guard(g_lock);
        stack = alloc_stack();
        t->id = g_next_thread_id++;
    }
    if (stack == 0) {
        kfree(t);
        return nullptr;
    }
    t->stack_base = reinterpret_cast<uint64_t>(phys_to_virt(stack));
    t->stack_top = t->stack_base + kStackPages * kPageSize;
    t->process = process;
    t->running_on = t->last_cpu = -1;
    copy_string(t->name, sizeof t->name, name);
    init_fpu_area(t->fpu);
    // Initial frame for switch_context: rbx rbp r12 r13 r14 r15 popped, then ret to the trampoline.
    // The top of the stack is kept for the ring-3 TrapFrame that enter_user builds (syscalls and
    // interrupts from ring 3 put theirs at the same place), so the first frames run below it.
    auto* sp = reinterpret_cast<uint64_t*>(t->stack_top - sizeof(TrapFrame));
    *--sp = 0;                                            // alignment: rsp % 16 == 8 at entry
    *--sp = reinterpret_cast<uint64_t>(&thread_trampoline);
    *--sp = 0;                                            // rbx
    *--sp = 0;                                            // rbp
    *--sp = reinterpret_cast<uint64_t>(entry);            // r12
    *--sp = reinterpret_cast<uint64_t>(arg);              // r13
    *--sp = 0;                                            // r14
    *--sp = 0;                                            // r15
    t->saved_rsp = reinterpret_cast<uint64_t>(sp);
    t->state = ThreadState::Blocked;
    return t;
}

void thread_discard(Thread* t) {
    LockGuard guard(g_lock);
    free_thread(t);
}

void thread_make_runnable(Thread* t) {
    LockGuard guard(g_lock);
    wake_locked(t);
}

void schedule_locked() {
    Cpu* cpu = this_cpu();
    Thread* prev = cpu->current;
    cpu->kicked = false;
    if (prev->state == ThreadState::Running && prev != cpu->idle) enqueue(prev);
    Thread* next = may_take_work(cpu) ? dequeue() : nullptr;
    if (next == nullptr) next = prev->state == ThreadState::Runnable || prev->state == ThreadState::Running
                                    ? prev
                                    : cpu->idle;
    if (next == prev) {   // prev may have been enqueued above: it is the only runnable thread
        if (g_run_head == prev) dequeue();
        prev->state = ThreadState::Running;
        cpu->need_resched = false;
        return;
    }
    // The lock is held from enqueue(prev) to the end of switch_context, and a thread is queued
    // only once its previous CPU finished switching away from it: never on two CPUs at once.
    if (next->running_on >= 0) panic("thread %d picked on cpu %d while running on cpu %d", next->id, cpu->id, next->running_on);
    cpu->need_resched = false;
    cpu->slice_left = kSliceTicks;
    next->state = ThreadState::Running;
    next->running_on = next->last_cpu = cpu->id;
    cpu->switched_from = prev;
    cpu->current = next;
    cpu_set_kernel_stack(next->stack_top);
    if (next->process != nullptr) {
        next->process->last_cpu = cpu->id;
        process_activate(next->process);
    } else if (cpu_count() > 1) {
        // A kernel thread leaves the last process's page tables: that process may exit on another
        // CPU and free them (no PCID, so the CR3 write also drops its TLB entries).
        leave_to_kernel_root();
    }
    if (g_save_fpu) {
        asm volatile("fxsave64 (%0)" ::"r"(prev->fpu) : "memory");
        asm volatile("fxrstor64 (%0)" ::"r"(next->fpu) : "memory");
    }
    switch_context(&prev->saved_rsp, next->saved_rsp);
    finish_switch();
}

void yield() {
    LockGuard guard(g_lock);
    schedule_locked();
}

void sleep_ticks(uint64_t count) {
    LockGuard guard(g_lock);
    Thread* self = current_thread();
    self->wake_tick = g_ticks + (count == 0 ? 1 : count);
    self->state = ThreadState::Blocked;
    self->next = g_sleepers;
    g_sleepers = self;
    schedule_locked();
}

void sched_tick() {
    LockGuard guard(g_lock);
    Cpu* cpu = this_cpu();
    if (cpu->id == 0) {   // one clock: CPU 0's tick counts time and wakes sleepers
        ++g_ticks;
        Thread** link = &g_sleepers;
        while (*link != nullptr) {
            Thread* t = *link;
            if (t->wake_tick <= g_ticks) {
                *link = t->next;
                wake_locked(t);
            } else {
                link = &t->next;
            }
        }
    }
    if (--cpu->slice_left == 0) {
        cpu->slice_left = kSliceTicks;
        if (g_run_head != nullptr && may_take_work(cpu)) cpu->need_resched = true;
    }
}

void preempt_if_needed() {
    if (!this_cpu()->need_resched) return;
    LockGuard guard(g_lock);
    schedule_locked();
}

void sched_run_idle() {
    if (this_cpu()->id == 0) __atomic_store_n(&g_boot_done, true, __ATOMIC_RELEASE);
    for (;;) {
        // Check with interrupts off, then halt with STI's shadow covering HLT: a wake-up that
        // comes in between still ends the halt.
        x86::cli();
        Cpu* cpu = this_cpu();
        if (__atomic_load_n(&g_run_head, __ATOMIC_RELAXED) != nullptr && may_take_work(cpu)) cpu->need_resched = true;
        if (cpu->need_resched) {
            preempt_if_needed();
            continue;
        }
        if (g_idle_wait != nullptr) g_idle_wait();
        else x86::sti_hlt();
    }
}

void sched_set_idle_wait(IdleWait wait) { g_idle_wait = wait; }

}  // namespace pos

extern "C" void sched_new_thread_started() {
    pos::finish_switch();
    pos::sched_lock().unlock(true);
}

extern "C" void sched_exit_current() {
    using namespace pos;
    g_lock.lock();
    current_thread()->state = ThreadState::Dead;
    schedule_locked();
    panic("a dead thread was scheduled");
}
