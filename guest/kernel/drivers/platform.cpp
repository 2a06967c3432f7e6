#include "drivers/platform.h"

#include "arch/x86.h"
#include "pv/hypercall.h"

namespace pos::platform {

void stop(Stop how) {
    x86::cli();
    if (xen::present()) {
        // SCHEDOP_shutdown (sched.h): popek exits 0 on poweroff, 4 on crash. Falls through to the
        // PC ways below only if the hypercall fails.
        xen::shutdown(how == Stop::Panic ? SHUTDOWN_crash : SHUTDOWN_poweroff);
    }
    if (how == Stop::Panic) {
        // isa-debug-exit (port 0xf4): popek and QEMU exit with status 0x7f*2+1 = 255.
        x86::outl(0xf4, 0x7f);
    } else {
        // PCI reset control register (port 0xcf9): popek exits 0; QEMU with -no-reboot exits.
        x86::outb(0xcf9, 0x02);
        x86::outb(0xcf9, 0x06);
        x86::outb(0x64, 0xfe);   // keyboard controller reset, the older way
    }
    for (;;) asm volatile("hlt");
}

}  // namespace pos::platform
