#pragma once
/// systest (guest/user/systest.cpp): what the per-call tests share, and the tests themselves.
#include "rt/ulib.h"

namespace pos::systest {

/// The call being tested: the prefix of every line.
extern const char* g_call;
/// Prints `CALL: what=value`.
void show(const char* what, long value);

// Hostile pointers: the kernel half, an unmapped user page, read-only user memory (rodata).
void* kernel_ptr();
void* unmapped_ptr();
void* read_only_ptr();
/// `len` bytes at the end of the TLS page (abi.h): the next page is not mapped, so a buffer of
/// more than `len` bytes from here, or a string without its NUL, runs off mapped memory.
char* tls_tail(size_t len);

/// Starts `/bin/systest ROLE [ARG]` (run_child); its pid or the spawn error.
long child(const char* role, const char* arg = nullptr);
/// Waits for `pid`; its exit status, or the wait error.
long reap(long pid);
long to_long(const char* s);
/// The state ps gives for `pid`, or -1 if it is not in the table.
long ps_state(long pid);
/// Opens /etc/motd until the kernel refuses; returns the refusal and the fds it gave in [lo, hi].
long fill_fds(long& lo, long& hi);
void close_range(long lo, long hi);

// One function per system call (file_calls.cpp, process_calls.cpp).
void test_write();
void test_read();
void test_open();
void test_close();
void test_listdir();
void test_seek();
void test_getrandom();
void test_net_open();
void test_spawn();
void test_wait();
void test_exit();
void test_whoami();
void test_ps();
void test_yield();
void test_sleep();
void test_getpid();
void test_uptime();
void test_nosys();
/// The children the process calls start (`systest child-ROLE [ARG]`); the exit status.
int run_child(const char* role, const char* arg, int argc, char** argv);

}  // namespace pos::systest
