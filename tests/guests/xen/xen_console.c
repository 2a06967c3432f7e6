/* xen_console.c - the PV console (io/console.h): output written through the xencons ring reaches
 * popek's stdout; input popek reads from its stdin arrives in the ring. The guest reads one line
 * (up to '\n') and writes it back transformed (upper case), so the test can see both directions. */
#include "pv_console.h"
#include "pv_hypercall.h"

void pv_main(void) {
    pv_check("console.init", pv_cons_init(), 0);
    static const char hello[] = "pvcons: hello through the xencons ring\n";
    pv_check("console.write", pv_cons_write(hello, sizeof hello - 1), 0);

    /* A write bigger than the ring (2048 bytes): popek must drain it as the guest goes. */
    static char big[5000];
    for (uint32_t i = 0; i < sizeof big; ++i) big[i] = (char)('a' + i % 26);
    big[sizeof big - 1] = '\n';
    pv_check("console.write-big", pv_cons_write(big, sizeof big), 0);

    char line[128];
    uint32_t len = 0;
    uint64_t deadline = pv_now_ns() + 20000000000ull;
    while (len < sizeof line - 1) {
        long n = pv_cons_read(line + len, 1, deadline);
        if (n <= 0) break;
        if (line[len] == '\n') break;
        ++len;
    }
    line[len] = 0;
    pv_check_true("console.read-line", len > 0);
    pv_printf("pvcons: guest read '%s'\n", line);
    for (uint32_t i = 0; i < len; ++i)
        if (line[i] >= 'a' && line[i] <= 'z') line[i] = (char)(line[i] - 'a' + 'A');
    static const char prefix[] = "pvcons: echo ";
    pv_cons_write(prefix, sizeof prefix - 1);
    pv_cons_write(line, len);
    pv_check("console.write-echo", pv_cons_write("\n", 1), 0);
    /* CONSOLEIO_write (Xen's emergency console) goes to the same place. */
    static const char emergency[] = "pvcons: via console_io\n";
    pv_check("console_io.write", HYPERVISOR_console_io(CONSOLEIO_write, sizeof emergency - 1, emergency), 0);
    pv_check("console_io.bad-cmd", HYPERVISOR_console_io(77, 0, NULL), -ENOSYS);
}
