/// `popek run --stats` lines of the block translator (issue 12's "tools a developer expects"):
/// how much ran translated, how the code cache fared, and which instructions most often left
/// translated code for an interpreter handler (the next candidates for native code).
#include <Zydis/Zydis.h>
#include <fmt/core.h>

#include <algorithm>
#include <vector>

#include "emu/bt/translator.h"

namespace popek::emu::bt {

std::string Translator::report(uint64_t total, uint64_t interpreted) const {
    const auto pct = [](uint64_t part, uint64_t whole) { return whole ? 100.0 * double(part) / double(whole) : 0.0; };
    const uint64_t translated = total > interpreted ? total - interpreted : 0;
    std::string out = fmt::format(
        "translated {} ({:.1f}%) interpreted {} | blocks {} (native insns {}, handler calls {}), chains linked {} "
        "taken {}, lookups taken {}, unlinked all {}, flushes {}, failures {}\n",
        translated, pct(translated, total), interpreted, m_stats.blocks, m_stats.native_insns, m_stats.helper_insns,
        m_stats.links, m_stats.chains_taken, m_stats.lookups_taken, m_stats.unlink_alls, m_stats.flushes, m_stats.failures);
    // The code cache: its fill and how often a block was entered as translated code (from the
    // dispatcher, a chain or a lookup) rather than without a translation (interpreted/translated).
    const uint64_t hits = m_stats.runs + m_stats.chains_taken + m_stats.lookups_taken;
    out += fmt::format("code cache {:.1f} of {} MiB used, {} flushes; hit rate {:.2f}% ({} translated entries, {} without "
                       "translation)\n",
                       double(m_buffer.used()) / double(1u << 20), m_buffer.capacity() >> 20, m_stats.flushes,
                       pct(hits, hits + m_stats.cold_runs), hits, m_stats.cold_runs);
    if (m_stats.warmed || m_stats.warm_skipped)
        out += fmt::format("warmed while halted: {} blocks the other vCPUs translated ({:.3f} s host time; {} log "
                           "entries passed over)\n",
                           m_stats.warmed, double(m_stats.warm_ns) / 1e9, m_stats.warm_skipped);
    std::vector<std::pair<uint64_t, unsigned>> top;
    for (unsigned m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; ++m)
        if (m_handler_exits[m]) top.emplace_back(m_handler_exits[m], m);
    const size_t n = std::min<size_t>(top.size(), 10);
    std::partial_sort(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(n), top.end(), std::greater<>());
    uint64_t all = 0;
    for (const auto& t : top) all += t.first;
    out += fmt::format("handler exits {} ({:.1f} per 100 translated insns), top:", all, pct(all, translated));
    for (size_t i = 0; i < n; ++i)
        out += fmt::format(" {} {}", ZydisMnemonicGetString(static_cast<ZydisMnemonic>(top[i].second)), top[i].first);
    out += "\n";
    return out;
}

}  // namespace popek::emu::bt
