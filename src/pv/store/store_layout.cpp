#include "pv/store/store_layout.h"

#include <fmt/format.h>

#include "pv/store/store_path.h"

namespace popek::pv {

Perms read_only_for(DomId domid) {
    return {PermEntry{kControlDomain, Access::None}, PermEntry{domid, Access::Read}};
}

Perms read_write_for(DomId domid) { return {PermEntry{domid, Access::None}}; }

static XsResult<void> put(Store& store, ConnId control, const std::string& path, std::string_view value,
                          const Perms& perms) {
    TRY_VOID(store.write(control, kNoTransaction, path, value));
    return store.set_perms(control, kNoTransaction, path, perms);
}

XsResult<void> create_domain_layout(Store& store, ConnId control, const DomainLayout& layout) {
    // The control domain's own home, where backends live.
    const std::string dom0 = domain_path(kControlDomain);
    TRY_VOID(put(store, control, dom0, "", {PermEntry{kControlDomain, Access::None}}));
    TRY_VOID(put(store, control, dom0 + "/name", "Domain-0", {PermEntry{kControlDomain, Access::None}}));
    TRY_VOID(put(store, control, dom0 + "/domid", "0", {PermEntry{kControlDomain, Access::None}}));
    TRY_VOID(store.mkdir(control, kNoTransaction, dom0 + "/backend"));

    const std::string home = domain_path(layout.domid);
    const Perms ro = read_only_for(layout.domid);
    const Perms rw = read_write_for(layout.domid);
    TRY_VOID(put(store, control, home, "", ro));
    TRY_VOID(put(store, control, home + "/name", layout.name, ro));
    TRY_VOID(put(store, control, home + "/domid", fmt::format("{}", layout.domid), ro));
    TRY_VOID(put(store, control, home + "/memory", "", ro));
    TRY_VOID(put(store, control, home + "/memory/target", fmt::format("{}", layout.memory_kib), ro));
    TRY_VOID(put(store, control, home + "/memory/static-max", fmt::format("{}", layout.memory_kib), ro));
    TRY_VOID(put(store, control, home + "/cpu", "", ro));
    for (uint32_t cpu = 0; cpu < layout.vcpus; ++cpu) {
        TRY_VOID(put(store, control, fmt::format("{}/cpu/{}", home, cpu), "", ro));
        TRY_VOID(put(store, control, fmt::format("{}/cpu/{}/availability", home, cpu), "online", ro));
    }
    for (const char* dir : {"device", "control", "data", "drivers", "feature", "attr", "error"})
        TRY_VOID(put(store, control, fmt::format("{}/{}", home, dir), "", rw));
    TRY_VOID(put(store, control, home + "/control/shutdown", "", rw));
    // xl advertises the shutdown requests the guest may honour through control/feature-*; the guest
    // writes those itself, so the directory is all it needs.
    store.fire_special("@introduceDomain");
    return {};
}

}  // namespace popek::pv
