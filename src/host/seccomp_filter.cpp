#include "host/seccomp_filter.h"

#include <seccomp.h>

#include <memory>

namespace popek::host {

Result<void> load_allow_list(uint32_t default_action, std::span<const SyscallRule> rules) {
    std::unique_ptr<void, decltype(&seccomp_release)> ctx(seccomp_init(default_action), &seccomp_release);
    if (!ctx) return fail("seccomp_init failed");
    for (const SyscallRule& r : rules) {
        if (r.nr < 0) continue;
        const uint32_t action = r.refuse_errno != 0 ? SCMP_ACT_ERRNO(static_cast<uint16_t>(r.refuse_errno)) : SCMP_ACT_ALLOW;
        if (r.values.empty()) {
            if (int rc = seccomp_rule_add(ctx.get(), action, r.nr, 0); rc != 0)
                return fail("seccomp_rule_add({}) failed: {}", r.nr, rc);
            continue;
        }
        for (uint64_t v : r.values) {
            const scmp_arg_cmp cmp{r.arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, v & 0xffffffffu};
            if (int rc = seccomp_rule_add_array(ctx.get(), action, r.nr, 1, &cmp); rc != 0)
                return fail("seccomp_rule_add({}, arg{} == {:#x}) failed: {}", r.nr, r.arg, v, rc);
        }
    }
    if (int rc = seccomp_load(ctx.get()); rc != 0) return fail("seccomp_load failed: {}", rc);
    return {};
}

}  // namespace popek::host
