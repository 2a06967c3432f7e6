/// The XenStore in a snapshot (docs/snapshot.md "XSTR"; the store itself: Xen's
/// docs/misc/xenstore.txt): nodes with their values, permissions and generations, the watches
/// (connection, path, token, relative or not), the open transactions and the id counters. The
/// reader treats the bytes as hostile: paths must be canonical and their parents present,
/// permission lists non-empty with known access letters, counts and sizes bounded.
#include <algorithm>

#include "pv/store/store.h"
#include "pv/store/store_path.h"
#include "pv/store/store_perms.h"

namespace popek::pv {
namespace {

constexpr uint32_t kMaxNodes = 1u << 20;
constexpr uint32_t kMaxPerms = 1024;
constexpr uint32_t kMaxWatches = 1u << 16;
constexpr uint32_t kMaxTransactions = 1024;
constexpr size_t kMaxValue = 1u << 20;

void save_perms(snapshot::Writer& w, const Perms& perms) {
    w.u32(static_cast<uint32_t>(perms.size()));
    for (const PermEntry& p : perms) {
        w.u16(p.domid);
        w.u8(static_cast<uint8_t>(p.access));
    }
}

Perms load_perms(snapshot::Reader& r) {
    const uint32_t n = r.bounded(r.u32(), kMaxPerms, "a permission list's length");
    if (r.ok() && n == 0) r.invalid("a node without an owner");
    Perms perms;
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        const DomId d = r.u16();
        const uint8_t a = r.bounded(r.u8(), static_cast<uint8_t>(Access::Both), "an access letter");
        perms.push_back({d, static_cast<Access>(a)});
    }
    return perms;
}

bool canonical(std::string_view path) {
    auto c = canonicalize(kControlDomain, path);
    return c && c->path == path;
}

}  // namespace

void NodeTree::save(snapshot::Writer& w) const {
    w.u32(static_cast<uint32_t>(m_nodes.size()));
    for (const auto& [path, node] : m_nodes) {
        w.str(path);
        w.str(node.value);
        save_perms(w, node.perms);
        w.u64(node.generation);
    }
}

void NodeTree::load(snapshot::Reader& r, uint64_t counter) {
    const uint32_t n = r.bounded(r.u32(), kMaxNodes, "the number of store nodes");
    std::map<std::string, Node> nodes;
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        std::string path = r.str(XENSTORE_ABS_PATH_MAX);
        Node node;
        node.value = r.str(kMaxValue);
        node.perms = load_perms(r);
        node.generation = r.u64();
        if (!r.ok()) break;
        if (!canonical(path) || nodes.contains(path)) r.invalid("store node `{}` is not canonical or listed twice", path);
        else if (node.generation > counter)
            r.invalid("store node `{}` has generation {}, past the store's counter {}", path, node.generation, counter);
        else nodes.emplace(std::move(path), std::move(node));
    }
    if (r.ok() && !nodes.contains("/")) r.invalid("the store has no root node");
    // Children from the paths (the map is sorted: a parent comes before its children).
    for (auto& [path, node] : nodes) {
        if (!r.ok() || path == "/") continue;
        auto parent = nodes.find(parent_path(path));
        if (parent == nodes.end()) r.invalid("store node `{}` has no parent", path);
        else parent->second.children.insert(std::string(base_name(path)));
    }
    if (!r.ok()) return;
    m_nodes = std::move(nodes);
    m_owned.clear();
    for (const auto& [path, node] : m_nodes) count_owner(node.perms, +1);
    m_accessed.clear();
    m_changed.clear();
}

void WatchRegistry::save(snapshot::Writer& w) const {
    w.u32(static_cast<uint32_t>(m_watches.size()));
    for (const Watch& watch : m_watches) {
        w.u32(watch.conn);
        w.u16(watch.domid);
        w.str(watch.path);
        w.boolean(watch.relative);
        w.str(watch.token);
    }
}

void WatchRegistry::load(snapshot::Reader& r, const std::function<bool(ConnId, DomId)>& known) {
    const uint32_t n = r.bounded(r.u32(), kMaxWatches, "the number of watches");
    std::vector<Watch> watches;
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        Watch watch;
        watch.conn = r.u32();
        watch.domid = r.u16();
        watch.path = r.str(XENSTORE_ABS_PATH_MAX);
        watch.relative = r.boolean();
        watch.token = r.str(XENSTORE_PAYLOAD_MAX);
        if (!r.ok()) break;
        if (!known(watch.conn, watch.domid)) r.invalid("a watch of connection {} (domain {}), which does not exist",
                                                      watch.conn, watch.domid);
        else if (!is_special_watch_path(watch.path) && !canonical(watch.path))
            r.invalid("a watch on `{}`, which is no store path", watch.path);
        else watches.push_back(std::move(watch));
    }
    if (r.ok()) m_watches = std::move(watches);
}

void Store::save(snapshot::Writer& w) const {
    w.u64(m_generation);
    w.u32(m_next_conn);
    w.u32(m_next_tx);
    w.u32(static_cast<uint32_t>(m_conns.size()));
    for (const auto& [id, conn] : m_conns) {
        w.u32(id);
        w.u16(conn.domid);
    }
    m_tree.save(w);
    m_watches.save(w);
    w.u32(static_cast<uint32_t>(m_transactions.size()));
    for (const auto& [id, tx] : m_transactions) {
        w.u32(id);
        w.u32(tx.conn);
    }
}

void Store::load(snapshot::Reader& r) {
    const uint64_t generation = r.u64();
    const ConnId next_conn = r.u32();
    const TxId next_tx = r.u32();
    const uint32_t nconns = r.u32();
    if (r.ok() && nconns != m_conns.size()) r.invalid("{} store connections, this store has {}", nconns, m_conns.size());
    for (uint32_t i = 0; i < nconns && r.ok(); ++i) {
        const ConnId id = r.u32();
        const DomId domid = r.u16();
        auto it = m_conns.find(id);
        if (r.ok() && (it == m_conns.end() || it->second.domid != domid))
            r.invalid("store connection {} of domain {} is not this store's", id, domid);
    }
    if (r.ok() && next_conn < m_next_conn) r.invalid("the next connection id {} is in use", next_conn);
    m_tree.load(r, generation);
    m_watches.load(r, [this](ConnId c, DomId d) {
        auto it = m_conns.find(c);
        return it != m_conns.end() && it->second.domid == d;
    });
    const uint32_t ntx = r.bounded(r.u32(), kMaxTransactions, "the number of open transactions");
    std::map<TxId, Transaction> transactions;
    for (uint32_t i = 0; i < ntx && r.ok(); ++i) {
        const TxId id = r.u32();
        const ConnId conn = r.u32();
        auto it = m_conns.find(conn);
        if (!r.ok()) break;
        if (id == kNoTransaction || it == m_conns.end() || transactions.contains(id)) {
            r.invalid("transaction {} of connection {} is not valid", id, conn);
            break;
        }
        // Ids are handed out from the counter upwards: one at or past it would be handed out
        // again by transaction_start (and the new caller would get this doomed transaction).
        if (id >= std::max<TxId>(next_tx, 1)) {
            r.invalid("transaction {} is not below the next transaction id {}", id, next_tx);
            break;
        }
        Transaction tx{conn, it->second.domid, m_tree, {}};
        tx.tree.start_tracking();
        tx.tree.doom();
        transactions.emplace(id, std::move(tx));
    }
    if (!r.ok()) return;
    // Every stamp given out so far is below the counter (generations must keep growing).
    m_generation = generation;
    m_next_conn = next_conn;
    m_next_tx = next_tx == kNoTransaction ? 1 : next_tx;
    m_transactions = std::move(transactions);
}

}  // namespace popek::pv
