#pragma once
/// What a vCPU counted, beside why it stopped (vcpu_exit.h): plain data every engine fills, kept
/// apart from hypervisor.h so an engine's CPU model can hold it without the whole hv seam.
#include <cstdint>

namespace popek::hv {

/// Counters for the Popek-Goldberg report (`popek run --stats`). Engines fill what they know.
struct VcpuStats {
    uint64_t instructions = 0;   ///< guest instructions executed (0 when the engine cannot count)
    uint64_t privileged = 0;     ///< privileged instructions met
    uint64_t sensitive = 0;      ///< sensitive instructions met (incl. sensitive-unprivileged)
    uint64_t exits = 0;          ///< exits taken to the VMM (devices, hypercalls)
};

/// The block translator's code cache, for FlushMetrics (docs/metrics.md); `present` false on
/// engines without one.
struct CodeCacheStats {
    bool present = false;
    uint64_t blocks = 0;          ///< translations made
    uint64_t code_bytes = 0;      ///< translated code in the buffer now
    uint64_t capacity_bytes = 0;  ///< the buffer's size (--bt-cache)
    uint64_t flushes = 0;         ///< whole-buffer flushes
    uint64_t hits = 0;            ///< blocks entered as translated code (dispatcher, chain, lookup)
    uint64_t misses = 0;          ///< dispatcher runs of blocks without a translation
};

}  // namespace popek::hv
