#include "replay/history.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "emu/engine_shared.h"
#include "emu/vmm_write.h"
#include "replay/memory_hash.h"

namespace popek::replay {
namespace {

}  // namespace

SnapshotSchedule::SnapshotSchedule(uint64_t interval, size_t max_snapshots)
    : m_interval(std::max<uint64_t>(interval, 1)), m_max(std::max<size_t>(max_snapshots, 2)) {}

bool SnapshotSchedule::due(uint64_t count) const {
    if (m_counts.empty()) return true;
    return count > m_counts.back() && count - m_counts.back() >= m_interval;
}

std::vector<size_t> SnapshotSchedule::add(uint64_t count) {
    m_counts.push_back(count);
    std::vector<size_t> drop;
    if (m_counts.size() <= m_max) return drop;
    // Every other one but the first (the start of the replay) and the newest.
    for (size_t i = m_counts.size() - 2; i >= 1; i -= 2) {
        drop.push_back(i);
        if (i < 3) break;
    }
    for (size_t i : drop) m_counts.erase(m_counts.begin() + static_cast<std::ptrdiff_t>(i));
    m_interval = m_interval > (~uint64_t{0} >> 1) ? m_interval : m_interval * 2;
    return drop;
}

std::optional<size_t> SnapshotSchedule::at_or_before(uint64_t count) const {
    auto it = std::upper_bound(m_counts.begin(), m_counts.end(), count);
    if (it == m_counts.begin()) return std::nullopt;
    return static_cast<size_t>(it - m_counts.begin() - 1);
}

History::History(Session& session, snapshot::EngineParts parts, const memory::GuestMemory& mem, uint64_t interval,
                 size_t max_snapshots)
    : m_session(session), m_parts(std::move(parts)), m_mem(mem), m_schedule(interval, max_snapshots) {}

void History::poll_point(emu::Cpu& cpu) {
    const uint64_t count = cpu.stats().instructions;
    {
        std::lock_guard lock(m_mutex);
        if (!m_schedule.due(count)) return;
    }
    Snapshot s;
    s.count = count;
    s.schedule = cpu.schedule;
    s.session = m_session.save_state();
    s.engine.sections = snapshot::save_engine_state(m_parts);
    std::lock_guard lock(m_mutex);
    // RAM page by page, shared with the newest snapshot where unchanged.
    const Snapshot* prev = m_snapshots.empty() ? nullptr : &m_snapshots.back();
    size_t index = 0;
    for (const memory::Region& r : m_mem.regions()) {
        for (uint64_t off = 0; off + 4096 <= r.size; off += 4096, ++index) {
            const uint8_t* p = r.host + off;
            std::shared_ptr<const Page> base = prev && index < prev->pages.size() ? prev->pages[index] : nullptr;
            bool same;
            if (base) {
                same = std::memcmp(p, base->data(), 4096) == 0;
            } else {
                same = page_is_zero(p);
            }
            if (same) {
                s.pages.push_back(std::move(base));
            } else {
                auto page = std::make_shared<Page>();
                std::memcpy(page->data(), p, 4096);
                s.pages.push_back(std::move(page));
                ++s.new_pages;
            }
        }
    }
    m_snapshots.push_back(std::move(s));
    ++m_taken;
    for (size_t i : m_schedule.add(count)) m_snapshots.erase(m_snapshots.begin() + static_cast<std::ptrdiff_t>(i));
}

std::optional<uint64_t> History::snapshot_at_or_before(uint64_t count) {
    std::lock_guard lock(m_mutex);
    auto i = m_schedule.at_or_before(count);
    if (!i) return std::nullopt;
    return m_schedule.counts()[*i];
}

bool History::restore(uint64_t count) {
    std::lock_guard lock(m_mutex);
    auto i = m_schedule.at_or_before(count);
    if (!i || m_schedule.counts()[*i] != count) return false;
    const Snapshot& s = m_snapshots[*i];
    emu::EngineShared& engine = *m_parts.engine;
    emu::Cpu* cpu = engine.cpus.empty() ? nullptr : engine.cpus[0];
    if (!cpu) return false;
    // The count and the session first: the guest clock reads them (GuestClock::restore).
    cpu->mutable_stats().instructions = s.count;
    cpu->schedule = s.schedule;
    cpu->stop_at = emu::Cpu::kNever;
    m_session.restore_state(s.session);
    size_t index = 0;
    for (const memory::Region& r : m_mem.regions()) {
        for (uint64_t off = 0; off + 4096 <= r.size && index < s.pages.size(); off += 4096, ++index) {
            uint8_t* p = r.host + off;
            const std::shared_ptr<const Page>& page = s.pages[index];
            if (page) {
                if (std::memcmp(p, page->data(), 4096) != 0) std::memcpy(p, page->data(), 4096);
            } else {
                if (!page_is_zero(p)) std::memset(p, 0, 4096);   // (a page never touched stays unallocated)
            }
        }
    }
    if (auto loaded = snapshot::load_engine_state(s.engine, m_parts); !loaded) {
        fmt::print(stderr, "popek: reverse execution: restoring the snapshot at instruction {}: {}\n", s.count,
                   loaded.error().message);
        return false;
    }
    cpu->restored();
    emu::note_vmm_write(engine);   // decoded and translated code is checked against the bytes again
    return true;
}

std::string History::describe() {
    std::lock_guard lock(m_mutex);
    uint64_t pages = 0;
    for (const Snapshot& s : m_snapshots) pages += s.new_pages;
    const auto& c = m_schedule.counts();
    return fmt::format("reverse execution: {} snapshots (of {} taken) from instruction {} to {}, every {} instructions "
                       "now; about {} MiB of RAM pages\n",
                       c.size(), m_taken, c.empty() ? 0 : c.front(), c.empty() ? 0 : c.back(), m_schedule.interval(),
                       pages * 4096 >> 20);
}

}  // namespace popek::replay
