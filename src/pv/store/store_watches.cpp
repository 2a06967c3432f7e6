#include "pv/store/store_watches.h"

#include <algorithm>

#include "pv/store/store_path.h"
#include "pv/store/store_perms.h"

namespace popek::pv {

XsResult<void> WatchRegistry::add(Watch watch, uint32_t quota) {
    for (const Watch& w : m_watches)
        if (w.conn == watch.conn && w.path == watch.path && w.token == watch.token)
            return xs_error(EEXIST);
    if (!is_privileged(watch.domid) && count_for_domain(watch.domid) >= quota) return xs_error(E2BIG);
    m_watches.push_back(std::move(watch));
    return {};
}

XsResult<void> WatchRegistry::remove(ConnId conn, std::string_view path, std::string_view token) {
    auto it = std::find_if(m_watches.begin(), m_watches.end(), [&](const Watch& w) {
        return w.conn == conn && w.path == path && w.token == token;
    });
    if (it == m_watches.end()) return xs_error(ENOENT);
    m_watches.erase(it);
    return {};
}

void WatchRegistry::remove_connection(ConnId conn) {
    std::erase_if(m_watches, [conn](const Watch& w) { return w.conn == conn; });
}

uint32_t WatchRegistry::count_for_domain(DomId domid) const {
    return static_cast<uint32_t>(
        std::count_if(m_watches.begin(), m_watches.end(), [domid](const Watch& w) { return w.domid == domid; }));
}

WatchEvent WatchRegistry::event_for(const Watch& watch, const std::string& path) {
    if (watch.relative) {
        std::string home = domain_path(watch.domid);
        if (path_is_under(path, home) && path.size() > home.size())
            return WatchEvent{path.substr(home.size() + 1), watch.token};
    }
    return WatchEvent{path, watch.token};
}

std::vector<std::pair<ConnId, WatchEvent>> WatchRegistry::collect(const std::string& path,
                                                                  const Perms& perms,
                                                                  bool removed) const {
    std::vector<std::pair<ConnId, WatchEvent>> out;
    const bool special = is_special_watch_path(path);
    for (const Watch& w : m_watches) {
        if (special) {
            if (w.path == path) out.emplace_back(w.conn, WatchEvent{path, w.token});
            continue;
        }
        if (is_special_watch_path(w.path) || !permits(perms, w.domid, Access::Read)) continue;
        if (path_is_under(path, w.path))
            out.emplace_back(w.conn, event_for(w, path));
        else if (removed && path_is_under(w.path, path))
            out.emplace_back(w.conn, event_for(w, w.path));
    }
    return out;
}

}  // namespace popek::pv
