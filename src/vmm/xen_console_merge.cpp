#include "vmm/xen_console_merge.h"

#include <algorithm>

namespace popek::vmm {

size_t XenConsoleMerge::common_prefix(size_t first, std::string_view text) const {
    size_t same = 0;
    for (size_t i = first; i < m_pending.size(); ++i)
        for (char c : m_pending[i]) {
            if (same == text.size() || text[same] != c) return same;
            ++same;
        }
    return same;
}

size_t XenConsoleMerge::pending_bytes(size_t first) const {
    size_t n = 0;
    for (size_t i = first; i < m_pending.size(); ++i) n += m_pending[i].size();
    return n;
}

void XenConsoleMerge::consume(size_t first, size_t n) {
    m_pending.erase(m_pending.begin(), m_pending.begin() + static_cast<std::ptrdiff_t>(first));
    while (n > 0 && !m_pending.empty()) {
        size_t take = std::min(n, m_pending.front().size());
        m_pending.front().erase(0, take);
        n -= take;
        if (m_pending.front().empty()) m_pending.pop_front();
    }
}

void XenConsoleMerge::remember(Source from, std::string_view text) {
    if (from != m_pending_from) {
        m_pending_from = from;
        m_pending.clear();
    }
    m_pending.emplace_back(text.substr(text.size() - std::min(text.size(), kMaxPending)));
    size_t total = pending_bytes(0);
    while (total > kMaxPending) {
        total -= m_pending.front().size();
        m_pending.pop_front();
    }
}

void XenConsoleMerge::write(Source from, std::string_view text) {
    if (text.empty()) return;
    if (from != m_pending_from) {
        // A repeat covers all of `text`, or all that is pending from its start on.
        for (size_t first = m_pending.size(); first-- > 0;) {
            size_t same = common_prefix(first, text);
            if (same == 0 || (same < text.size() && same < pending_bytes(first))) continue;
            consume(first, same);
            text.remove_prefix(same);
            break;
        }
        if (text.empty()) return;
    }
    m_out(text);
    remember(from, text);
}

}  // namespace popek::vmm
