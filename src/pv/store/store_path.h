#pragma once
/// XenStore path rules (docs/misc/xenstore.txt in Xen; limits from io/xs_wire.h): absolute paths
/// start with '/', relative ones are under the caller's /local/domain/<domid>, components use
/// [A-Za-z0-9-_@], no empty components, no trailing '/'.
#include <string>
#include <string_view>

#include "pv/store/store_types.h"

namespace popek::pv {

/// "/local/domain/<domid>": where a domain's relative paths live.
std::string domain_path(DomId domid);

/// A canonical (absolute) node path and whether the caller gave it relative.
struct CanonicalPath {
    std::string path;
    bool relative = false;
};

/// Validates `path` as given by domain `domid` and makes it absolute. EINVAL for bad characters,
/// empty components, a trailing '/', or a length over XENSTORE_ABS_PATH_MAX / XENSTORE_REL_PATH_MAX.
XsResult<CanonicalPath> canonicalize(DomId domid, std::string_view path);

/// True when `path` is `prefix` or lies below it ("/a/b" is under "/a", "/ab" is not).
bool path_is_under(std::string_view path, std::string_view prefix);

/// Parent of a canonical path other than "/" ("/a/b" → "/a", "/a" → "/").
std::string parent_path(std::string_view path);
/// Last component of a canonical path other than "/".
std::string_view base_name(std::string_view path);
/// Joins a canonical directory and a child name.
std::string child_path(std::string_view dir, std::string_view name);

/// Watch paths may also name the special events "@introduceDomain" and "@releaseDomain".
bool is_special_watch_path(std::string_view path);

}  // namespace popek::pv
