#pragma once
/// Watches (docs/misc/xenstore.txt, WATCH): a watch on P fires for changes to P and anything below
/// it; removing a node also fires the watches set below it. A watch set with a relative path reports
/// relative paths. Events are only sent to domains that may read the node.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pv/store/store_types.h"
#include "snapshot/snap_codec.h"

namespace popek::pv {

class WatchRegistry {
public:
    struct Watch {
        ConnId conn;
        DomId domid;
        std::string path;   ///< canonical path or a special "@..." name
        bool relative;      ///< report paths relative to the domain's home
        std::string token;
    };

    /// Adds a watch. EEXIST if the connection already has this path and token, E2BIG past the
    /// domain's quota (not for the control domain).
    XsResult<void> add(Watch watch, uint32_t quota);
    /// Removes one watch; ENOENT if the connection has no such watch.
    XsResult<void> remove(ConnId conn, std::string_view path, std::string_view token);
    void remove_connection(ConnId conn);
    uint32_t count_for_domain(DomId domid) const;

    /// Events for a change of node `path` with permissions `perms` (`removed`: the subtree went
    /// away). Special paths ("@...") match only watches on that exact name, regardless of perms.
    std::vector<std::pair<ConnId, WatchEvent>> collect(const std::string& path, const Perms& perms,
                                                       bool removed) const;

    /// The event the watch reports for `path`: relative paths drop the "/local/domain/<id>/" part.
    static WatchEvent event_for(const Watch& watch, const std::string& path);

    /// Snapshots (store_snapshot.cpp); load() keeps only watches of connections `known` accepts.
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r, const std::function<bool(ConnId, DomId)>& known);

private:
    std::vector<Watch> m_watches;
};

}  // namespace popek::pv
