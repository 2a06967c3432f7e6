#pragma once
/// pv::Store: popek's XenStore (docs/misc/xenstore.txt in Xen). A tree of nodes with values and
/// permissions, watches, transactions (optimistic: commit fails with EAGAIN when another client
/// changed a node the transaction looked at) and per-domain quotas. No wire format and no guest
/// memory here: StoreWire and the store connection translate xs_wire messages into these calls.
///
/// Not thread-safe: its owner (PvDomain) serializes calls. Watch sinks run synchronously inside
/// the call that fired them and must not call back into the Store.
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pv/store/store_tree.h"
#include "pv/store/store_types.h"
#include "pv/store/store_watches.h"

namespace popek::pv {

class Store {
public:
    using WatchSink = std::function<void(const WatchEvent&)>;

    /// Children of a node and the node's generation (for XS_DIRECTORY_PART).
    struct Listing {
        std::vector<std::string> names;
        uint64_t generation = 0;
    };

    explicit Store(StoreQuota quota = {});
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    /// A new client acting for `domid`; its watch events go to `sink`.
    ConnId connect(DomId domid, WatchSink sink);
    /// Drops the client's watches and open transactions.
    void disconnect(ConnId conn);
    /// XS_RESET_WATCHES: drops the client's watches and transactions but keeps it connected.
    void reset_connection(ConnId conn);
    /// The domain a connection acts for (kControlDomain for an unknown id).
    DomId domid_of(ConnId conn) const;

    XsResult<std::string> read(ConnId conn, TxId tx, std::string_view path);
    /// Writes a value, creating missing parents (which inherit the nearest ancestor's permissions,
    /// owned by the writer unless it is the control domain).
    XsResult<void> write(ConnId conn, TxId tx, std::string_view path, std::string_view value);
    /// Creates an empty node; succeeds when it already exists.
    XsResult<void> mkdir(ConnId conn, TxId tx, std::string_view path);
    /// Removes a node and its subtree; removing a missing node whose parent exists succeeds.
    XsResult<void> rm(ConnId conn, TxId tx, std::string_view path);
    XsResult<Listing> directory(ConnId conn, TxId tx, std::string_view path);
    XsResult<Perms> get_perms(ConnId conn, TxId tx, std::string_view path);
    /// Only the owner (or the control domain) may change permissions; only the control domain may
    /// give a node to another owner.
    XsResult<void> set_perms(ConnId conn, TxId tx, std::string_view path, Perms perms);

    /// Sets a watch and fires it once at once, as xenstored does.
    XsResult<void> watch(ConnId conn, std::string_view path, std::string_view token);
    XsResult<void> unwatch(ConnId conn, std::string_view path, std::string_view token);

    XsResult<TxId> transaction_start(ConnId conn);
    /// Commits (`commit`) or aborts a transaction. EAGAIN: a conflicting change won; nothing applied.
    XsResult<void> transaction_end(ConnId conn, TxId tx, bool commit);

    /// Fires watches on a special path ("@introduceDomain", "@releaseDomain").
    void fire_special(std::string_view name);

    const StoreQuota& quota() const { return m_quota; }
    size_t node_count() const { return m_tree.size(); }
    uint32_t nodes_owned(DomId domid) const { return m_tree.nodes_owned(domid); }

    /// Snapshots (docs/snapshot.md "XSTR", store_snapshot.cpp): the tree, the watches, the open
    /// transactions and the id counters. The connections are the owner's: load() requires the same
    /// ids for the same domains (a store built the same way), and restores open transactions as
    /// doomed (their commit answers EAGAIN, and the guest retries).
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    struct Conn {
        DomId domid;
        WatchSink sink;
    };
    struct PendingFire {
        std::string path;
        Perms perms;
        bool removed;
    };
    struct Transaction {
        ConnId conn;
        DomId domid;
        NodeTree tree;
        std::vector<PendingFire> fires;
    };
    /// Where an operation works: the live tree or a transaction's copy.
    struct Context {
        DomId domid;
        NodeTree* tree;
        Transaction* tx;
    };

    XsResult<Context> context(ConnId conn, TxId tx);
    XsResult<std::string> resolve(const Context& ctx, std::string_view path) const;
    XsResult<const Node*> lookup(const Context& ctx, const std::string& path, Access want);
    XsResult<void> create(const Context& ctx, const std::string& path, std::string_view value);
    void fire(const Context& ctx, std::string path, Perms perms, bool removed);
    void deliver(const std::string& path, const Perms& perms, bool removed);

    StoreQuota m_quota;
    uint64_t m_generation = 0;
    NodeTree m_tree;
    WatchRegistry m_watches;
    std::map<ConnId, Conn> m_conns;
    std::map<TxId, Transaction> m_transactions;
    ConnId m_next_conn = 1;
    TxId m_next_tx = 1;
};

}  // namespace popek::pv
