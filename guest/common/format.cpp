#include "common/format.h"

#include <stdint.h>

namespace pos {
namespace {

struct Sink {
    char* out;
    size_t cap;
    size_t len = 0;
    void put(char c) {
        if (len + 1 < cap) out[len] = c;
        ++len;
    }
};

void put_number(Sink& s, uint64_t v, unsigned base, int width, bool zero_pad, bool negative) {
    char digits[24];
    int n = 0;
    do {
        unsigned d = static_cast<unsigned>(v % base);
        digits[n++] = static_cast<char>(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v != 0);
    if (negative) digits[n++] = '-';
    for (int pad = width - n; pad > 0; --pad) s.put(zero_pad ? '0' : ' ');
    while (n > 0) s.put(digits[--n]);
}

}  // namespace

size_t vformat(char* out, size_t cap, const char* fmt, va_list args) {
    Sink s{out, cap};
    for (; *fmt != 0; ++fmt) {
        if (*fmt != '%') {
            s.put(*fmt);
            continue;
        }
        ++fmt;
        bool alternate = *fmt == '#';
        if (alternate) ++fmt;
        bool left = *fmt == '-';
        if (left) ++fmt;
        bool zero_pad = *fmt == '0';
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        int longs = 0;
        while (*fmt == 'l') ++longs, ++fmt;
        switch (*fmt) {
            case 's': {
                const char* str = va_arg(args, const char*);
                if (str == nullptr) str = "(null)";
                int n = 0;
                while (str[n] != 0) ++n;
                for (int pad = width - n; !left && pad > 0; --pad) s.put(' ');
                while (*str != 0) s.put(*str++);
                for (int pad = width - n; left && pad > 0; --pad) s.put(' ');
                break;
            }
            case 'c': s.put(static_cast<char>(va_arg(args, int))); break;
            case 'd': {
                int64_t v = longs > 0 ? va_arg(args, int64_t) : va_arg(args, int);
                uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
                put_number(s, mag, 10, width, zero_pad, v < 0);
                break;
            }
            case 'u':
            case 'x': {
                uint64_t v = longs > 0 ? va_arg(args, uint64_t) : va_arg(args, unsigned);
                if (alternate && *fmt == 'x') s.put('0'), s.put('x');
                put_number(s, v, *fmt == 'u' ? 10 : 16, width, zero_pad, false);
                break;
            }
            case 'p':
                s.put('0'), s.put('x');
                put_number(s, reinterpret_cast<uintptr_t>(va_arg(args, void*)), 16, 0, false, false);
                break;
            case '%': s.put('%'); break;
            case 0: --fmt; break;
            default: s.put('%'), s.put(*fmt); break;
        }
    }
    if (cap > 0) out[s.len < cap ? s.len : cap - 1] = 0;
    return s.len < cap ? s.len : (cap > 0 ? cap - 1 : 0);
}

size_t format(char* out, size_t cap, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    size_t n = vformat(out, cap, fmt, args);
    va_end(args);
    return n;
}

}  // namespace pos
