#pragma once
/// System call wrappers for user programs (ABI: guest/include/popek_os/abi.h).
#include <stddef.h>
#include <stdint.h>

#include "popek_os/abi.h"

namespace pos::sys {

inline long call(long nr, long a = 0, long b = 0, long c = 0) {
    long r;
    asm volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
inline long ptr(const void* p) { return reinterpret_cast<long>(p); }

inline long write(int fd, const void* buf, size_t len) { return call(POS_SYS_WRITE, fd, ptr(buf), static_cast<long>(len)); }
inline long read(int fd, void* buf, size_t len) { return call(POS_SYS_READ, fd, ptr(buf), static_cast<long>(len)); }
inline long open(const char* path, long flags = 0) { return call(POS_SYS_OPEN, ptr(path), flags); }
inline long close(int fd) { return call(POS_SYS_CLOSE, fd); }
inline long spawn(const char* path, const char* const* argv, int argc) { return call(POS_SYS_SPAWN, ptr(path), ptr(argv), argc); }
inline long wait(int pid, int* status) { return call(POS_SYS_WAIT, pid, ptr(status)); }
inline long whoami(PosUserInfo* info) { return call(POS_SYS_WHOAMI, ptr(info)); }
inline long ps(PosProcInfo* out, int max) { return call(POS_SYS_PS, ptr(out), max); }
inline long yield() { return call(POS_SYS_YIELD); }
inline long sleep_ms(long ms) { return call(POS_SYS_SLEEP, ms); }
inline long listdir(long index, PosDirEntry* e) { return call(POS_SYS_LISTDIR, index, ptr(e)); }
inline long getpid() { return call(POS_SYS_GETPID); }
inline long uptime_ms() { return call(POS_SYS_UPTIME); }
inline long sysinfo(PosSysInfo* out) { return call(POS_SYS_SYSINFO, ptr(out)); }
inline long seek(int fd, uint64_t offset) { return call(POS_SYS_SEEK, fd, static_cast<long>(offset)); }
inline long getrandom(void* buf, size_t len) { return call(POS_SYS_GETRANDOM, ptr(buf), static_cast<long>(len)); }
inline long netd_frame_tx(const void* frame, size_t len) { return call(POS_SYS_NETD_FRAME_TX, ptr(frame), static_cast<long>(len)); }
inline long netd_frame_rx(void* buf, size_t cap, long flags) { return call(POS_SYS_NETD_FRAME_RX, ptr(buf), static_cast<long>(cap), flags); }
inline long net_open(const uint8_t* peer_key, long mode) { return call(POS_SYS_NET_OPEN, ptr(peer_key), mode); }
inline long netd_next_request(PosNetRequest* req, long flags, uint32_t held = 0) {
    return call(POS_SYS_NETD_NEXT_REQUEST, ptr(req), flags, held);
}
inline long netd_deliver(const PosNetMessage* msg) { return call(POS_SYS_NETD_DELIVER, ptr(msg)); }
inline long net_stats(PosNetStats* out) { return call(POS_SYS_NET_STATS, ptr(out), 0); }
inline long net_stats_publish(const PosNetdCounters* c) { return call(POS_SYS_NET_STATS, ptr(c), POS_NET_STATS_PUBLISH); }

}  // namespace pos::sys

extern "C" [[noreturn]] void pos_exit(int status);
