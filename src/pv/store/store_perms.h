#pragma once
/// Node permissions as xenstored applies them (docs/misc/xenstore.txt, "Permissions"): the control
/// domain may do anything, a node's owner (first entry) may do anything to it, every other domain
/// gets its own entry's access or, when not listed, the first entry's.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pv/store/store_types.h"

namespace popek::pv {

/// True for domains with xenstored's "privileged" status: popek's control domain.
inline bool is_privileged(DomId domid) { return domid == kControlDomain; }

/// The access `domid` has to a node with `perms` (not counting ownership).
Access access_for(const Perms& perms, DomId domid);
/// True when `domid` may read (want = Read), write (Write) or both.
bool permits(const Perms& perms, DomId domid, Access want);
/// True when `domid` owns the node or is privileged: the right to change its permissions.
bool is_owner(const Perms& perms, DomId domid);

/// Parses one wire entry such as "r5" or "b0"; nullopt for a bad letter or domain id.
std::optional<PermEntry> parse_perm(std::string_view text);
/// Formats one entry for the wire ("r5").
std::string format_perm(const PermEntry& entry);

}  // namespace popek::pv
