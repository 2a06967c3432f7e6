#pragma once
/// The node tree under the store: values, permissions, children and a generation per node, with
/// per-owner node counts for the quota. A transaction works on its own copy of the tree, which then
/// also logs every node it looked at (with the generation it saw) and every node it changed, so that
/// commit can tell whether anyone else touched them meanwhile.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "pv/store/store_types.h"
#include "snapshot/snap_codec.h"

namespace popek::pv {

struct Node {
    std::string value;
    Perms perms;
    std::set<std::string> children;  ///< names of direct children
    uint64_t generation = 0;         ///< unique stamp of the last change (store-wide counter)
};

class NodeTree {
public:
    /// A tree holding "/" owned by the control domain, readable by nobody else.
    explicit NodeTree(uint64_t* generation_counter);

    /// The node at a canonical path, or nullptr. Logged when tracking.
    const Node* find(const std::string& path);
    /// Creates `path` (whose parent must exist) with `perms`, or replaces the value of an existing
    /// node. Bumps generations; updates the parent's children and the owner's node count.
    void put(const std::string& path, std::string value, const Perms& perms);
    /// Changes an existing node's value or permissions.
    void set_value(const std::string& path, std::string value);
    void set_perms(const std::string& path, Perms perms);
    /// Removes `path` and everything below it (not "/").
    void remove(const std::string& path);

    /// Nodes owned by `domid`.
    uint32_t nodes_owned(DomId domid) const;
    size_t size() const { return m_nodes.size(); }

    /// Turns on the transaction log (for a transaction's private copy).
    void start_tracking() { m_tracking = true; }
    /// Paths looked at, with the generation seen first (nullopt: the node did not exist).
    const std::map<std::string, std::optional<uint64_t>>& accessed() const { return m_accessed; }
    /// Paths this copy changed (created, modified, removed).
    const std::set<std::string>& changed() const { return m_changed; }
    /// Current generation of a node in this tree, nullopt if absent (not logged).
    std::optional<uint64_t> generation_of(const std::string& path) const;
    /// Copies this tree's state of `path` (present or absent) into `target`, giving it a fresh
    /// generation there. Used to apply a committed transaction.
    void apply_to(NodeTree& target, const std::string& path) const;

    /// Snapshots (store_snapshot.cpp): every node's path, value, permissions and generation. load()
    /// replaces this tree, checking canonical paths, that each parent exists and the permissions,
    /// and that every generation is at most `counter` (the saved store-wide counter: the stamps
    /// given out after the restore stay unique).
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r, uint64_t counter);
    /// A transaction restored from a snapshot: its commit must fail with EAGAIN (its reads are
    /// gone), which makes the guest retry it, as after any conflict.
    void doom() { m_accessed.insert_or_assign("/", std::nullopt); }

private:
    void note_access(const std::string& path);
    void note_change(const std::string& path);
    void count_owner(const Perms& perms, int delta);
    uint64_t next_generation() { return ++*m_generation; }

    std::map<std::string, Node> m_nodes;
    std::map<DomId, uint32_t> m_owned;
    uint64_t* m_generation;
    bool m_tracking = false;
    std::map<std::string, std::optional<uint64_t>> m_accessed;
    std::set<std::string> m_changed;
};

}  // namespace popek::pv
