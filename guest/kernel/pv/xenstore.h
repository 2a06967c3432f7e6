#pragma once
/// XenStore client (io/xs_wire.h): xsd_sockmsg requests on the store ring page
/// (HVM_PARAM_STORE_PFN) and its event channel (HVM_PARAM_STORE_EVTCHN). One request is in
/// flight at a time (a spinlock; the reply is awaited by polling the masked port with
/// SCHEDOP_poll, so it works before the scheduler runs and from system calls). Watch events that
/// arrive between replies are queued (kMaxEvents, further ones dropped and counted).
///
/// Results: >= 0 on success, a negative Linux errno otherwise (the store's error names mapped
/// through xs_wire.h's xsd_errors).
#include "pv/xen_abi.h"

namespace pos::xen::store {

inline constexpr unsigned kMaxEvents = 16;
inline constexpr uint64_t kTimeoutMs = 5000;

bool init(const char** reason);
bool ready();

/// Reads a node's value into out (NUL-terminated, truncated to cap-1); its full length.
long read(const char* path, char* out, size_t cap, uint32_t tx = 0);
long write(const char* path, const char* value, uint32_t tx = 0);
long mkdir(const char* path, uint32_t tx = 0);
long remove(const char* path, uint32_t tx = 0);
/// The children of path, each NUL-terminated, into out; the byte count.
long directory(const char* path, char* out, size_t cap, uint32_t tx = 0);
long transaction_start(uint32_t& tx);
long transaction_end(uint32_t tx, bool commit);
long watch(const char* path, const char* token);
long unwatch(const char* path, const char* token);
/// Takes the oldest queued watch event, waiting for one until Xen system time `deadline_ns`.
bool next_event(char* path, size_t path_cap, char* token, size_t token_cap, uint64_t deadline_ns);
uint64_t dropped_events();

}  // namespace pos::xen::store
