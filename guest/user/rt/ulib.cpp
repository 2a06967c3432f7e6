#include "ulib.h"

#include <stdarg.h>

extern "C" void pos_exit(int status) {
    pos::sys::call(POS_SYS_EXIT, status);
    __builtin_unreachable();
}

namespace pos {

void print(const char* fmt, ...) {
    char buf[512];
    va_list args;
    va_start(args, fmt);
    size_t n = vformat(buf, sizeof buf, fmt, args);
    va_end(args);
    sys::write(1, buf, n);
}

void write_str(const char* s) { sys::write(1, s, strlen(s)); }

const char* error_string(long err) {
    switch (-err) {
        case POS_EPERM: return "operation not permitted";
        case POS_ENOENT: return "no such file";
        case POS_ESRCH: return "no such process";
        case POS_ENOEXEC: return "not an executable";
        case POS_EBADF: return "bad file descriptor";
        case POS_ECHILD: return "no child";
        case POS_ENOMEM: return "out of memory";
        case POS_EACCES: return "permission denied";
        case POS_EFAULT: return "bad address";
        case POS_EINVAL: return "invalid argument";
        case POS_EMFILE: return "too many open files";
        case POS_ENAMETOOLONG: return "name too long";
        case POS_ENOSYS: return "no such system call";
        case POS_EIO: return "input/output error";
        case POS_EAGAIN: return "try again";
        case POS_ENOSPC: return "no space left";
        case POS_EROFS: return "read-only file";
        default: return "error";
    }
}

const char* net_open_error(long err) {
    if (err == -POS_EACCES) return "not allowed by the policy";
    if (err == -POS_EIO) return "no network (netd is not running)";
    return error_string(err);
}

}  // namespace pos

// Globals with destructors (e.g. sdisk's sealdisk::Volume, which wipes its keys) register them
// with __cxa_atexit; a process ends with the exit call and runs none, as the kernel does.
extern "C" {
void* __dso_handle = nullptr;
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
}
