#include "pv/store/store.h"

#include <algorithm>

#include "pv/store/store_path.h"
#include "pv/store/store_perms.h"

namespace popek::pv {

Store::Store(StoreQuota quota) : m_quota(quota), m_tree(&m_generation) {}

ConnId Store::connect(DomId domid, WatchSink sink) {
    ConnId id = m_next_conn++;
    m_conns.emplace(id, Conn{domid, std::move(sink)});
    return id;
}

void Store::reset_connection(ConnId conn) {
    m_watches.remove_connection(conn);
    std::erase_if(m_transactions, [conn](const auto& kv) { return kv.second.conn == conn; });
}

void Store::disconnect(ConnId conn) {
    reset_connection(conn);
    m_conns.erase(conn);
}

DomId Store::domid_of(ConnId conn) const {
    auto it = m_conns.find(conn);
    return it == m_conns.end() ? kControlDomain : it->second.domid;
}

XsResult<Store::Context> Store::context(ConnId conn, TxId tx) {
    auto c = m_conns.find(conn);
    if (c == m_conns.end()) return xs_error(EINVAL);
    if (tx == kNoTransaction) return Context{c->second.domid, &m_tree, nullptr};
    auto t = m_transactions.find(tx);
    if (t == m_transactions.end() || t->second.conn != conn) return xs_error(ENOENT);
    return Context{c->second.domid, &t->second.tree, &t->second};
}

XsResult<std::string> Store::resolve(const Context& ctx, std::string_view path) const {
    auto canon = canonicalize(ctx.domid, path);
    if (!canon) return xs_error(canon.error());
    return std::move(canon->path);
}

XsResult<const Node*> Store::lookup(const Context& ctx, const std::string& path, Access want) {
    const Node* node = ctx.tree->find(path);
    if (node == nullptr) return xs_error(ENOENT);
    if (!permits(node->perms, ctx.domid, want)) return xs_error(EACCES);
    return node;
}

void Store::fire(const Context& ctx, std::string path, Perms perms, bool removed) {
    if (ctx.tx != nullptr) {
        ctx.tx->fires.push_back(PendingFire{std::move(path), std::move(perms), removed});
        return;
    }
    deliver(path, perms, removed);
}

void Store::deliver(const std::string& path, const Perms& perms, bool removed) {
    for (auto& [conn, event] : m_watches.collect(path, perms, removed)) {
        auto c = m_conns.find(conn);
        if (c != m_conns.end() && c->second.sink) c->second.sink(event);
    }
}

XsResult<void> Store::create(const Context& ctx, const std::string& path, std::string_view value) {
    std::vector<std::string> missing;
    std::string cur = path;
    while (ctx.tree->find(cur) == nullptr) {
        missing.push_back(cur);
        cur = parent_path(cur);
    }
    const Node* ancestor = ctx.tree->find(cur);
    if (!permits(ancestor->perms, ctx.domid, Access::Write)) return xs_error(EACCES);
    Perms perms = ancestor->perms;
    if (!is_privileged(ctx.domid)) {
        perms[0].domid = ctx.domid;
        if (ctx.tree->nodes_owned(ctx.domid) + missing.size() > m_quota.nodes_per_domain)
            return xs_error(ENOSPC);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it)
        ctx.tree->put(*it, *it == path ? std::string(value) : std::string(), perms);
    fire(ctx, path, perms, false);
    return {};
}

XsResult<std::string> Store::read(ConnId conn, TxId tx, std::string_view path) {
    Context ctx = TRY(context(conn, tx));
    std::string p = TRY(resolve(ctx, path));
    const Node* node = TRY(lookup(ctx, p, Access::Read));
    return node->value;
}

XsResult<void> Store::write(ConnId conn, TxId tx, std::string_view path, std::string_view value) {
    Context ctx = TRY(context(conn, tx));
    std::string p = TRY(resolve(ctx, path));
    if (!is_privileged(ctx.domid) && value.size() > m_quota.value_bytes) return xs_error(ENOSPC);
    const Node* node = ctx.tree->find(p);
    if (node == nullptr) return create(ctx, p, value);
    if (!permits(node->perms, ctx.domid, Access::Write)) return xs_error(EACCES);
    Perms perms = node->perms;
    ctx.tree->set_value(p, std::string(value));
    fire(ctx, std::move(p), std::move(perms), false);
    return {};
}

XsResult<void> Store::mkdir(ConnId conn, TxId tx, std::string_view path) {
    Context ctx = TRY(context(conn, tx));
    std::string p = TRY(resolve(ctx, path));
    if (ctx.tree->find(p) != nullptr) return {};
    return create(ctx, p, {});
}

XsResult<void> Store::rm(ConnId conn, TxId tx, std::string_view path) {
    Context ctx = TRY(context(conn, tx));
    std::string p = TRY(resolve(ctx, path));
    if (p == "/") return xs_error(EINVAL);
    const Node* node = ctx.tree->find(p);
    if (node == nullptr) {
        if (ctx.tree->find(parent_path(p)) != nullptr) return {};
        return xs_error(ENOENT);
    }
    if (!permits(node->perms, ctx.domid, Access::Write)) return xs_error(EACCES);
    Perms perms = node->perms;
    ctx.tree->remove(p);
    fire(ctx, std::move(p), std::move(perms), true);
    return {};
}

XsResult<Store::Listing> Store::directory(ConnId conn, TxId tx, std::string_view path) {
    Context ctx = TRY(context(conn, tx));
    std::string p = TRY(resolve(ctx, path));
    const Node* node = TRY(lookup(ctx, p, Access::Read));
    return Listing{std::vector<std::string>(node->children.begin(), node->children.end()), node->generation};
}

XsResult<Perms> Store::get_perms(ConnId conn, TxId tx, std::string_view path) {
    Context ctx = TRY(context(conn, tx));
    std::string p = TRY(resolve(ctx, path));
    const Node* node = TRY(lookup(ctx, p, Access::Read));
    return node->perms;
}

XsResult<void> Store::set_perms(ConnId conn, TxId tx, std::string_view path, Perms perms) {
    Context ctx = TRY(context(conn, tx));
    std::string p = TRY(resolve(ctx, path));
    if (perms.empty()) return xs_error(EINVAL);
    const Node* node = ctx.tree->find(p);
    if (node == nullptr) return xs_error(ENOENT);
    if (!is_owner(node->perms, ctx.domid)) return xs_error(EACCES);
    if (!is_privileged(ctx.domid) && perms[0].domid != node->perms[0].domid) return xs_error(EPERM);
    Perms old = node->perms;
    ctx.tree->set_perms(p, std::move(perms));
    // Watchers who could read the node before or after hear about the change.
    fire(ctx, p, old, false);
    return {};
}

XsResult<void> Store::watch(ConnId conn, std::string_view path, std::string_view token) {
    Context ctx = TRY(context(conn, kNoTransaction));
    WatchRegistry::Watch w{conn, ctx.domid, std::string(path), false, std::string(token)};
    if (!is_special_watch_path(path)) {
        auto canon = canonicalize(ctx.domid, path);
        if (!canon) return xs_error(canon.error());
        w.path = std::move(canon->path);
        w.relative = canon->relative;
    }
    WatchEvent first = WatchEvent{std::string(path), w.token};
    TRY_VOID(m_watches.add(std::move(w), m_quota.watches_per_domain));
    auto& sink = m_conns.at(conn).sink;
    if (sink) sink(first);
    return {};
}

XsResult<void> Store::unwatch(ConnId conn, std::string_view path, std::string_view token) {
    Context ctx = TRY(context(conn, kNoTransaction));
    std::string canonical(path);
    if (!is_special_watch_path(path)) {
        auto canon = canonicalize(ctx.domid, path);
        if (!canon) return xs_error(canon.error());
        canonical = std::move(canon->path);
    }
    return m_watches.remove(conn, canonical, token);
}

XsResult<TxId> Store::transaction_start(ConnId conn) {
    Context ctx = TRY(context(conn, kNoTransaction));
    if (!is_privileged(ctx.domid)) {
        auto open = std::count_if(m_transactions.begin(), m_transactions.end(),
                                  [&](const auto& kv) { return kv.second.domid == ctx.domid; });
        if (static_cast<uint64_t>(open) >= m_quota.transactions_per_domain) return xs_error(ENOSPC);
    }
    // After the counter wraps, skip the ids still open (at most the quota's worth are).
    TxId id = kNoTransaction;
    do {
        id = m_next_tx++;
        if (m_next_tx == kNoTransaction) m_next_tx = 1;
    } while (m_transactions.contains(id));
    Transaction tx{conn, ctx.domid, m_tree, {}};
    tx.tree.start_tracking();
    m_transactions.emplace(id, std::move(tx));
    return id;
}

XsResult<void> Store::transaction_end(ConnId conn, TxId tx, bool commit) {
    auto it = m_transactions.find(tx);
    if (tx == kNoTransaction || it == m_transactions.end() || it->second.conn != conn)
        return xs_error(ENOENT);
    Transaction t = std::move(it->second);
    m_transactions.erase(it);
    if (!commit) return {};
    for (const auto& [path, seen] : t.tree.accessed())
        if (m_tree.generation_of(path) != seen) return xs_error(EAGAIN);
    for (const std::string& path : t.tree.changed()) t.tree.apply_to(m_tree, path);
    for (const PendingFire& f : t.fires) deliver(f.path, f.perms, f.removed);
    return {};
}

void Store::fire_special(std::string_view name) { deliver(std::string(name), {}, false); }

}  // namespace popek::pv
