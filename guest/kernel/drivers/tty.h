#pragma once
/// Console line discipline: echo, backspace, and whole lines for read(0). Input arrives from
/// the console driver's interrupt; readers block until a line is complete.
#include <stddef.h>

namespace pos {

class Console;

void tty_attach(Console& console);
/// Blocks until a line is available, then copies up to `len` bytes of it (the rest stays for the
/// next read). Returns the number of bytes copied.
size_t tty_read(char* buf, size_t len);

}  // namespace pos
