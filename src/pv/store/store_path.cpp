#include "pv/store/store_path.h"

#include <fmt/format.h>

namespace popek::pv {

std::string domain_path(DomId domid) { return fmt::format("/local/domain/{}", domid); }

static bool valid_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '@' || c == '/';
}

/// Checks the syntax of an absolute path: "/" alone, or "/comp(/comp)*".
static bool valid_absolute(std::string_view p) {
    if (p.empty() || p.front() != '/') return false;
    if (p.size() == 1) return true;
    if (p.back() == '/') return false;
    for (size_t i = 0; i < p.size(); ++i) {
        if (!valid_char(p[i])) return false;
        if (p[i] == '/' && i + 1 < p.size() && p[i + 1] == '/') return false;
    }
    return true;
}

XsResult<CanonicalPath> canonicalize(DomId domid, std::string_view path) {
    if (path.empty()) return xs_error(EINVAL);
    if (path.front() == '/') {
        if (path.size() > XENSTORE_ABS_PATH_MAX || !valid_absolute(path)) return xs_error(EINVAL);
        return CanonicalPath{std::string(path), false};
    }
    if (path.size() > XENSTORE_REL_PATH_MAX) return xs_error(EINVAL);
    std::string full = child_path(domain_path(domid), path);
    if (full.size() > XENSTORE_ABS_PATH_MAX || !valid_absolute(full)) return xs_error(EINVAL);
    return CanonicalPath{std::move(full), true};
}

bool path_is_under(std::string_view path, std::string_view prefix) {
    if (prefix == "/") return !path.empty() && path.front() == '/';
    if (!path.starts_with(prefix)) return false;
    return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::string parent_path(std::string_view path) {
    size_t slash = path.rfind('/');
    if (slash == 0 || slash == std::string_view::npos) return "/";
    return std::string(path.substr(0, slash));
}

std::string_view base_name(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string child_path(std::string_view dir, std::string_view name) {
    if (dir == "/") return fmt::format("/{}", name);
    return fmt::format("{}/{}", dir, name);
}

bool is_special_watch_path(std::string_view path) {
    return path == "@introduceDomain" || path == "@releaseDomain";
}

}  // namespace popek::pv
