#include "lib/kprint.h"

#include "arch/x86.h"
#include "drivers/console.h"
#include "drivers/platform.h"

namespace pos {

void kprintf(const char* fmt, ...) {
    char buf[256];
    va_list args;
    va_start(args, fmt);
    size_t n = vformat(buf, sizeof buf, fmt, args);
    va_end(args);
    if (Console* c = Console::active()) c->write(buf, n);
}

void panic(const char* fmt, ...) {
    char buf[256];
    va_list args;
    va_start(args, fmt);
    size_t n = vformat(buf, sizeof buf, fmt, args);
    va_end(args);
    x86::cli();
    if (Console* c = Console::active()) {
        c->write("popek-os: PANIC: ", 17);
        c->write(buf, n);
        c->write("\n", 1);
    }
    platform::stop(platform::Stop::Panic);
}

}  // namespace pos
