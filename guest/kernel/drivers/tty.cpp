#include "drivers/tty.h"

#include "drivers/console.h"
#include "proc/sched.h"

namespace pos {
namespace {

constexpr size_t kBufSize = 1024;   // power of two
char g_buf[kBufSize];
size_t g_head = 0;       // next byte to read
size_t g_committed = 0;  // end of the last complete line
size_t g_tail = 0;       // end of the line being typed
WaitQueue g_readers;
Console* g_console = nullptr;

void echo(const char* s, size_t n) { g_console->write(s, n); }

void on_input(char c) {
    LockGuard guard(sched_lock());
    if (c == '\r') c = '\n';
    if (c == 0x7f || c == '\b') {
        if (g_tail != g_committed) {
            --g_tail;
            echo("\b \b", 3);
        }
        return;
    }
    if (c != '\n' && (c < 0x20 || c > 0x7e)) return;   // drop other control bytes
    if (g_tail - g_head >= kBufSize - 1) {
        if (c != '\n' || g_tail == g_committed) return;   // full: keep room for the line end
        --g_tail;
    }
    g_buf[g_tail++ % kBufSize] = c;
    echo(&c, 1);
    if (c == '\n') {
        g_committed = g_tail;
        g_readers.wake_all_locked();
    }
}

}  // namespace

void tty_attach(Console& console) {
    g_console = &console;
    console.set_input_handler(on_input);
}

size_t tty_read(char* buf, size_t len) {
    LockGuard guard(sched_lock());
    while (g_head == g_committed) g_readers.wait_locked();
    size_t n = 0;
    while (n < len && g_head != g_committed) {
        char c = g_buf[g_head++ % kBufSize];
        buf[n++] = c;
        if (c == '\n') break;
    }
    return n;
}

}  // namespace pos
