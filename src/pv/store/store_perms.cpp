#include "pv/store/store_perms.h"

#include <charconv>

#include <fmt/format.h>

namespace popek::pv {

Access access_for(const Perms& perms, DomId domid) {
    if (perms.empty()) return Access::None;
    for (size_t i = 1; i < perms.size(); ++i)
        if (perms[i].domid == domid) return perms[i].access;
    return perms[0].access;
}

bool is_owner(const Perms& perms, DomId domid) {
    return is_privileged(domid) || (!perms.empty() && perms[0].domid == domid);
}

bool permits(const Perms& perms, DomId domid, Access want) {
    if (is_owner(perms, domid)) return true;
    auto have = static_cast<uint8_t>(access_for(perms, domid));
    auto need = static_cast<uint8_t>(want);
    return (have & need) == need;
}

std::optional<PermEntry> parse_perm(std::string_view text) {
    if (text.size() < 2) return std::nullopt;
    PermEntry e;
    switch (text[0]) {
    case 'n': e.access = Access::None; break;
    case 'r': e.access = Access::Read; break;
    case 'w': e.access = Access::Write; break;
    case 'b': e.access = Access::Both; break;
    default: return std::nullopt;
    }
    uint32_t id = 0;
    auto digits = text.substr(1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || end != digits.data() + digits.size() || id > DOMID_MASK)
        return std::nullopt;
    e.domid = static_cast<DomId>(id);
    return e;
}

std::string format_perm(const PermEntry& entry) {
    static constexpr char kLetters[] = {'n', 'r', 'w', 'b'};
    return fmt::format("{}{}", kLetters[static_cast<uint8_t>(entry.access) & 3], entry.domid);
}

}  // namespace popek::pv
