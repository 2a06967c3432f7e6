/// The few symbols g++ expects from a C++ runtime in a freestanding kernel.
#include "lib/kprint.h"

extern "C" {
void* __dso_handle = nullptr;
/// Static destructors never run: the kernel does not exit.
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
void __cxa_pure_virtual() { pos::panic("pure virtual function called"); }
}
