#pragma once
/// Threads and the round-robin scheduler. One run queue and one scheduler lock ("big lock")
/// protect threads, wait queues, the process table and the console input buffer, which keeps
/// every wait/wake race-free on several CPUs. The lock is held across a context switch and
/// released by the thread switched to, so a thread is off its CPU (registers and stack saved)
/// before another CPU can pick it (docs/guest-os.md "SMP").
#include <stddef.h>
#include <stdint.h>

#include "lib/spinlock.h"

namespace pos {

struct Process;

enum class ThreadState { Runnable, Running, Blocked, Dead };

struct Thread {
    uint64_t saved_rsp;
    uint64_t stack_base;
    uint64_t stack_top;
    Process* process;        ///< nullptr for kernel threads
    ThreadState state;
    uint64_t wake_tick;      ///< for sleepers: the tick to wake at
    Thread* next;            ///< run queue, wait queue or sleep list link
    int id;
    int running_on;          ///< the CPU whose registers and stack it owns now, -1 when switched out
    int last_cpu;            ///< the CPU it last ran on
    char name[32];
    alignas(16) uint8_t fpu[512];   ///< FXSAVE area (SDM Vol. 1 10.5.1)
};

/// Threads blocked on a condition. All operations need the scheduler lock held.
class WaitQueue {
public:
    /// Blocks the current thread until wake_all(); returns with the lock held again.
    void wait_locked();
    void wake_all_locked();

private:
    Thread* m_head = nullptr;
};

Spinlock& sched_lock();
inline constexpr uint32_t kTickHz = 100;
uint64_t ticks();

void sched_init();
/// False on a CPU without FXSR/SSE (popek's interpreter today): programs must not use SSE there.
bool sched_saves_fpu();
/// Creates a runnable kernel thread running entry(arg); nullptr when out of memory.
Thread* thread_create(const char* name, void (*entry)(void*), void* arg, Process* process = nullptr);
/// Frees a thread that never ran (spawn failed after creating it).
void thread_discard(Thread* t);
void thread_make_runnable(Thread* t);
Thread* current_thread();
Process* current_process();

/// Gives up the CPU (the caller stays runnable).
void yield();
void sleep_ticks(uint64_t count);
/// Switches to the next thread; the caller holds the scheduler lock.
void schedule_locked();
/// From the interrupt exit path: switches if a tick or wake-up asked for it.
void preempt_if_needed();
/// Timer tick: wakes sleepers, ends time slices.
void sched_tick();
/// How the idle thread waits for an interrupt: called with interrupts off, returns with them on
/// (default `sti; hlt`; under Xen SCHEDOP_block).
using IdleWait = void (*)();
void sched_set_idle_wait(IdleWait wait);
/// Becomes the idle thread of this CPU (never returns).
[[noreturn]] void sched_run_idle();

/// An application processor joins: its boot stack becomes its idle thread; the CPU goes online.
void sched_init_cpu(uint64_t stack_base, uint64_t stack_top);
/// Wakes an idle CPU that has work to do (an IPI; under Xen an event-channel IPI). Set once by
/// the platform; without it, idle CPUs find new work at their next tick.
using Kick = void (*)(int cpu);
void sched_set_kick(Kick kick);
/// The kick's interrupt handler on the CPU kicked: reschedule at the interrupt exit.
void sched_kicked();
/// Kicks received so far, all CPUs together.
uint64_t sched_kicks_received();
/// Waits once for an interrupt the way the idle thread does (boot-time waits on the tick);
/// called with interrupts off, returns with them off.
void sched_wait_for_interrupt();

}  // namespace pos

extern "C" void sched_new_thread_started();
extern "C" [[noreturn]] void sched_exit_current();
