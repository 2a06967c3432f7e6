/* popek-os system call ABI, shared by the kernel and user programs (docs/guest-os.md).
 * Plain C layout only: this header is included by freestanding C++ on both sides.
 *
 * Calling convention (x86-64 SYSCALL): rax = number, arguments in rdi, rsi, rdx, r10, r8;
 * result in rax, a negative POS_E* value on error. rcx and r11 are clobbered (SDM Vol. 2B
 * SYSCALL), every other register is preserved. */
#ifndef POPEK_OS_ABI_H
#define POPEK_OS_ABI_H

#include <stdint.h>

enum PosSyscall {
    POS_SYS_WRITE = 0,    /* write(fd, buf, len) -> bytes written (console, or a file opened with POS_O_WRITE) */
    POS_SYS_READ = 1,     /* read(fd, buf, len) -> bytes read; fd 0 returns one console line */
    POS_SYS_OPEN = 2,     /* open(path, flags) -> fd (open, and with POS_O_WRITE write, checked against the policy) */
    POS_SYS_CLOSE = 3,    /* close(fd) -> 0 */
    POS_SYS_SPAWN = 4,    /* spawn(path, argv, argc) -> pid (exec checked against the policy) */
    POS_SYS_WAIT = 5,     /* wait(pid, &status) -> pid; pid -1 waits for any child */
    POS_SYS_EXIT = 6,     /* exit(status): does not return */
    POS_SYS_WHOAMI = 7,   /* whoami(&PosUserInfo) -> 0 */
    POS_SYS_PS = 8,       /* ps(PosProcInfo*, max) -> number of entries filled */
    POS_SYS_YIELD = 9,    /* yield() -> 0 */
    POS_SYS_SLEEP = 10,   /* sleep(milliseconds) -> 0 */
    POS_SYS_LISTDIR = 11, /* listdir(index, &PosDirEntry) -> 1 filled, 0 past the end */
    POS_SYS_GETPID = 12,  /* getpid() -> pid */
    POS_SYS_UPTIME = 13,  /* uptime() -> milliseconds since boot */
    POS_SYS_GETRANDOM = 14, /* getrandom(buf, len) -> len; -POS_ENOSYS without a hardware source */
    /* netd only (any other process: -POS_EPERM, logged); docs/guest-os.md "Networking (phase 2)" */
    POS_SYS_NETD_FRAME_TX = 15, /* netd_frame_tx(frame, len) -> 0; one Ethernet frame, 14..1518 bytes */
    POS_SYS_NETD_FRAME_RX = 16, /* netd_frame_rx(buf, cap, flags) -> frame length; POS_NET_NONBLOCK: -POS_EAGAIN if none */
    POS_SYS_NET_OPEN = 17,      /* net_open(peer_key[32] or 0 for any, POS_NET_CONNECT|ACCEPT) -> channel fd (policy-checked) */
    POS_SYS_NETD_NEXT_REQUEST = 18, /* netd only: netd_next_request(&PosNetRequest, flags, held) -> 0; POS_NET_NONBLOCK: -POS_EAGAIN;
                                       held: bit per channel whose messages and close netd cannot take now */
    POS_SYS_NETD_DELIVER = 19,  /* netd only: netd_deliver(&PosNetMessage) -> 0; -POS_ENOSPC when the channel's inbox is full */
    POS_SYS_NET_STATS = 20,     /* net_stats(&PosNetStats, 0) -> 0; netd publishes its counters with POS_NET_STATS_PUBLISH */
    POS_SYS_SYSINFO = 21,       /* sysinfo(&PosSysInfo) -> 0: free memory, CPUs, the CPU the caller runs on, kicks */
    POS_SYS_SEEK = 22,          /* seek(fd, offset) -> 0: the file offset the next read or write of fd uses */
    POS_SYS_COUNT = 23
};

enum PosError {
    POS_EPERM = 1,
    POS_ENOENT = 2,
    POS_ESRCH = 3,
    POS_EBADF = 9,
    POS_ECHILD = 10,
    POS_ENOMEM = 12,
    POS_EACCES = 13,
    POS_EFAULT = 14,
    POS_EINVAL = 22,
    POS_EMFILE = 24,
    POS_ENAMETOOLONG = 36,
    POS_ENOSYS = 38,
    POS_ENOEXEC = 8,
    POS_EIO = 5,
    POS_EAGAIN = 11,
    POS_ENOSPC = 28,
    POS_EROFS = 30
};

/* netd_frame_rx() and netd_next_request() flags; POS_NET_WAKE_ON_FRAME (netd_next_request
 * only): a blocking wait also ends, with -POS_EAGAIN, when a received frame is waiting */
enum { POS_NET_NONBLOCK = 1, POS_NET_WAKE_ON_FRAME = 2 };

/* net_open() modes, netd requests, and the record read() returns on a channel fd */
enum { POS_NET_CONNECT = 1, POS_NET_ACCEPT = 2 };
enum { POS_NET_MAX_MESSAGE = 1468, POS_NET_KEY = 32 };
enum PosNetRequestKind { POS_NETREQ_OPEN = 1, POS_NETREQ_SEND = 2, POS_NETREQ_CLOSE = 3 };

typedef struct PosNetRequest {
    uint32_t kind;            /* PosNetRequestKind */
    int32_t channel;          /* the kernel's channel number, stable until its CLOSE */
    uint32_t mode;            /* OPEN: POS_NET_CONNECT or POS_NET_ACCEPT */
    uint32_t length;          /* SEND: message bytes */
    uint32_t any_peer;        /* OPEN: accept from any key the policy allows (peer unused) */
    uint32_t reserved;
    char user[32];            /* OPEN: the local identity (the opener's user name) */
    uint8_t peer[POS_NET_KEY];
    uint8_t data[POS_NET_MAX_MESSAGE];
} PosNetRequest;

typedef struct PosNetMessage {   /* netd_deliver() input; read() on a channel fd returns one */
    int32_t channel;          /* ignored by read() */
    uint32_t length;
    uint8_t peer[POS_NET_KEY];
    uint8_t data[POS_NET_MAX_MESSAGE];
} PosNetMessage;

/* net_stats(): the network counters (docs/guest-os.md "Networking"). netd's are what it last
 * published (netd_*: its secure-net Endpoints and NetService, docs/secure-net.md "Drop counters");
 * the vif_* ones the kernel's netif front end keeps. */
enum { POS_NET_STATS_PUBLISH = 1 };   /* net_stats flag: netd only, reads the netd part from the buffer */

typedef struct PosNetdCounters {
    uint64_t tx_packets;          /* secure-net packets sent (handshake and data) */
    uint64_t rx_messages;         /* authenticated messages received */
    uint64_t rx_keepalives;
    uint64_t delivered;           /* messages handed to programs (read() on a channel) */
    uint64_t handshakes_started;
    uint64_t handshakes_completed;
    uint64_t dropped_malformed;
    uint64_t dropped_bad_auth;
    uint64_t dropped_replay;
    uint64_t dropped_unknown_peer;
    uint64_t dropped_no_session;
    uint64_t dropped_unroutable;  /* another ethertype, malformed, or for no local identity */
    uint64_t dropped_undeliverable; /* authenticated, but the channel's inbox in netd was full */
    uint64_t refused_by_policy;   /* accept-any: messages from a sender the policy does not allow */
} PosNetdCounters;

typedef struct PosNetStats {
    PosNetdCounters netd;
    uint64_t vif_rx_frames;       /* frames the front end queued for netd */
    uint64_t vif_rx_dropped;      /* frames lost because netd's queue (32 frames) was full */
    uint64_t vif_rx_bad;          /* responses with a bad id, length, offset or flags */
    uint64_t vif_tx_frames;
    uint64_t vif_tx_errors;
    uint64_t netd_request_calls;  /* netd_next_request calls so far: an idle netd makes none */
    uint32_t netd_running;        /* 1 while netd runs */
    uint32_t reserved;
} PosNetStats;

/* open() flags */
enum { POS_O_WRITE = 1 }; /* also allow write(fd) on it; needs an `allow USER write PATH` rule */

enum { POS_NAME_MAX = 48, POS_PATH_MAX = 128, POS_ARG_MAX = 16, POS_ARGBUF_MAX = 512 };

/* Exit status of a process the kernel killed for a fault: 128 + exception vector. */
enum { POS_KILLED_BASE = 128 };

typedef struct PosUserInfo {
    char name[32];
    uint8_t public_key[32];   /* the user's identity: an Ed25519/X25519 public key */
} PosUserInfo;

enum PosProcState { POS_PROC_RUNNABLE = 0, POS_PROC_SLEEPING = 1, POS_PROC_ZOMBIE = 2 };

typedef struct PosProcInfo {
    int32_t pid;
    int32_t parent;
    uint32_t state;           /* PosProcState */
    int32_t cpu;              /* the CPU it last ran on, -1 before its first run */
    char user[32];
    char name[POS_NAME_MAX];
} PosProcInfo;

typedef struct PosSysInfo {
    uint64_t free_frames;     /* 4 KiB frames the kernel's frame allocator has free */
    uint64_t total_frames;    /* frames it manages */
    uint32_t cpus;            /* CPUs running the scheduler */
    int32_t cpu;              /* the CPU the calling thread runs on at the call */
    uint64_t kicks;           /* wake-up IPIs idle CPUs received since boot (SMP) */
} PosSysInfo;

typedef struct PosDirEntry {
    char name[POS_NAME_MAX + 16];
    uint64_t size;
    uint32_t executable;
    uint32_t reserved;
} PosDirEntry;

/* Entry of a user program: rdi = argc, rsi = argv (strings on the initial stack), rsp 16-aligned.
 * FS base points at the process's TLS block (x86-64 psABI TLS: %fs:0 holds its own address,
 * %fs:0x28 the stack protector canary, random per process). */
#define POS_USER_TLS_BASE 0x00007ffe00000000ull

#endif
