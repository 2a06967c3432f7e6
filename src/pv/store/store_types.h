#pragma once
/// Vocabulary shared by the XenStore tree, its watches and its wire: errno-style results, permission
/// lists, connection and transaction ids.
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "pv/pv_result.h"
#include "pv/xen_abi.h"

namespace popek::pv {

/// A store operation's result: the value, or a positive errno that the wire reports by name
/// ("EACCES", "ENOENT", ...) as io/xs_wire.h's xsd_errors table lists them.
template <class T>
using XsResult = PvResult<T>;

/// Returns the error value `err` (a positive errno) as a failed XsResult.
inline std::unexpected<int> xs_error(int err) { return pv_error(err); }

/// Access a domain has to a node: the 'n', 'r', 'w', 'b' letters of xenstored's permission strings.
enum class Access : uint8_t { None = 0, Read = 1, Write = 2, Both = 3 };

/// One permission entry: domain and access letter. In a node's list the first entry names the owner
/// (who always has full access) and gives the access of every domain not listed after it.
struct PermEntry {
    DomId domid = kControlDomain;
    Access access = Access::None;
    bool operator==(const PermEntry&) const = default;
};
using Perms = std::vector<PermEntry>;

/// Identifies one client of the store (the guest's ring, an in-process backend).
using ConnId = uint32_t;
/// Transaction id as the wire carries it; 0 means "no transaction".
using TxId = uint32_t;
inline constexpr TxId kNoTransaction = 0;

/// Limits per domain, like xenstored's quota options. The control domain is exempt.
struct StoreQuota {
    uint32_t nodes_per_domain = 1000;      ///< nodes a domain may own
    uint32_t value_bytes = 2048;           ///< largest value
    uint32_t watches_per_domain = 128;     ///< watches a domain may hold
    uint32_t transactions_per_domain = 10; ///< open transactions per domain
};

/// A watch firing: the path that changed (relative when the watch was set relatively) and the token.
struct WatchEvent {
    std::string path;
    std::string token;
};

}  // namespace popek::pv
