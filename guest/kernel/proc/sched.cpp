#include "proc/sched.h"

#include "arch/cpu.h"
#include "arch/trap_frame.h"
#include "arch/x86.h"
#include "common/string.h"
#include "lib/kprint.h"
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
Thread* g_dead = nullptr;           // exited thread whose stack is freed after the switch
uint64_t g_stack_cache[16];         // freed kernel stacks (physical), reused before new ones
int g_stack_cache_count = 0;
uint64_t g_ticks = 0;   // written under the lock; read racily for uptime
bool g_need_resched = false;
uint32_t g_slice_left = kSliceTicks;
int g_next_thread_id = 1;
bool g_save_fpu = false;            // CPUID.1:EDX.FXSR (SDM Vol. 2A CPUID): FXSAVE on every switch
IdleWait g_idle_wait = nullptr;     // nullptr: sti; hlt

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

void reap_dead() {
    if (g_dead != nullptr && g_dead != this_cpu()->current) {
        free_thread(g_dead);
        g_dead = nullptr;
    }
}

}  // namespace

Spinlock& sched_lock() { return g_lock; }
uint64_t ticks() { return g_ticks; }
Thread* current_thread() { return this_cpu()->current; }
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
    while (m_head != nullptr) {
        Thread* t = m_head;
        m_head = t->next;
        enqueue(t);
    }
    g_need_resched = true;
}

bool sched_saves_fpu() { return g_save_fpu; }

void sched_init() {
    g_save_fpu = (x86::cpuid(1).edx & (1u << 24)) != 0;
    // The boot thread becomes this CPU's idle thread.
    auto* idle = static_cast<Thread*>(kzalloc(sizeof(Thread)));
    if (idle == nullptr) panic("no memory for the idle thread");
    copy_string(idle->name, sizeof idle->name, "idle");
    idle->state = ThreadState::Running;
    init_fpu_area(idle->fpu);
    Cpu* cpu = this_cpu();
    cpu->current = idle;
    cpu->idle = idle;
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
    enqueue(t);
    g_need_resched = true;
}

void schedule_locked() {
    Cpu* cpu = this_cpu();
    Thread* prev = cpu->current;
    if (prev->state == ThreadState::Running && prev != cpu->idle) enqueue(prev);
    Thread* next = dequeue();
    if (next == nullptr) next = prev->state == ThreadState::Runnable || prev->state == ThreadState::Running
                                    ? prev
                                    : cpu->idle;
    if (next == prev) {   // prev may have been enqueued above: it is the only runnable thread
        if (g_run_head == prev) dequeue();
        prev->state = ThreadState::Running;
        g_need_resched = false;
        return;
    }
    g_need_resched = false;
    g_slice_left = kSliceTicks;
    next->state = ThreadState::Running;
    if (prev->state == ThreadState::Dead) g_dead = prev;
    cpu->current = next;
    cpu_set_kernel_stack(next->stack_top);
    if (next->process != nullptr) process_activate(next->process);
    if (g_save_fpu) {
        asm volatile("fxsave64 (%0)" ::"r"(prev->fpu) : "memory");
        asm volatile("fxrstor64 (%0)" ::"r"(next->fpu) : "memory");
    }
    switch_context(&prev->saved_rsp, next->saved_rsp);
    reap_dead();
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
    ++g_ticks;
    Thread** link = &g_sleepers;
    while (*link != nullptr) {
        Thread* t = *link;
        if (t->wake_tick <= g_ticks) {
            *link = t->next;
            enqueue(t);
            g_need_resched = true;
        } else {
            link = &t->next;
        }
    }
    if (--g_slice_left == 0) {
        g_slice_left = kSliceTicks;
        if (g_run_head != nullptr) g_need_resched = true;
    }
}

void preempt_if_needed() {
    if (!g_need_resched) return;
    LockGuard guard(g_lock);
    schedule_locked();
}

void sched_run_idle() {
    for (;;) {
        // Check with interrupts off, then halt with STI's shadow covering HLT: a wake-up that
        // comes in between still ends the halt.
        x86::cli();
        if (g_run_head != nullptr) g_need_resched = true;
        if (g_need_resched) {
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
    pos::reap_dead();
    pos::sched_lock().unlock(true);
}

extern "C" void sched_exit_current() {
    using namespace pos;
    g_lock.lock();
    current_thread()->state = ThreadState::Dead;
    schedule_locked();
    panic("a dead thread was scheduled");
}
