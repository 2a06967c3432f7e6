#pragma once
/// `--accel bt` with more than one vCPU: the blocks the vCPUs translated, in order, so that a
/// halted vCPU can translate the same blocks for itself before it needs them
/// (bt::Translator::warm_one). Each vCPU keeps its own translations (its code addresses its own
/// chain slots and tables), so a block one vCPU runs hot is cold for the next vCPU to run it:
/// in a Linux boot the work a vCPU hands to another (kthreads, self-tests, async initcalls)
/// started with re-translating. A halted vCPU's host core is idle; spent there, that
/// translation leaves the path the guest waits on. A ring of the latest kCapacity entries;
/// readers that fell behind skip to the oldest one kept.
#include <cstdint>
#include <mutex>
#include <vector>

namespace popek::emu {

struct TranslationLogEntry {
    uint64_t gpa = 0;    ///< the block's first byte (guest-physical)
    uint64_t lip = 0;    ///< where it ran (linear), for --perf-map names
    uint32_t mode = 0;   ///< Block::mode
    uint32_t gen = 0;    ///< the page's write generation it was decoded at (written since: skipped)
    int vcpu = -1;       ///< who translated it (a vCPU skips its own)
};

class TranslationLog {
public:
    static constexpr uint64_t kCapacity = uint64_t{1} << 15;

    void add(const TranslationLogEntry& e) {
        std::lock_guard lock(m_lock);
        if (m_ring.empty()) m_ring.resize(kCapacity);   // only VMs that use it pay its 1 MiB
        m_ring[m_next % kCapacity] = e;
        ++m_next;
    }
    /// The entry at sequence number `cursor` (moved past the entries overwritten since), and
    /// the cursor advanced past it; false when there is none yet.
    bool next(uint64_t& cursor, TranslationLogEntry& out) const {
        std::lock_guard lock(m_lock);
        if (cursor >= m_next) return false;
        if (m_next - cursor > kCapacity) cursor = m_next - kCapacity;
        out = m_ring[cursor % kCapacity];
        ++cursor;
        return true;
    }
    uint64_t size() const {
        std::lock_guard lock(m_lock);
        return m_next;
    }

private:
    mutable std::mutex m_lock;
    std::vector<TranslationLogEntry> m_ring;
    uint64_t m_next = 0;
};

}  // namespace popek::emu
