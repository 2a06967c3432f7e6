#include "pv/guest_access.h"

#include <algorithm>
#include <cstring>

#include "pv/xen_abi.h"

namespace popek::pv {

namespace {

/// x86-64 with 4-level paging: bits 63:47 all equal (Intel SDM Vol. 1, 3.3.7.1). A non-canonical
/// pointer would #GP in the guest; a page walk (KVM_TRANSLATE) ignores those bits and would alias.
bool canonical(uint64_t gva) {
    uint64_t top = gva >> 47;
    return top == 0 || top == (~uint64_t{0} >> 47);
}

}  // namespace

PvResult<std::span<uint8_t>> GuestAccess::page_chunk(int vcpu, uint64_t gva, uint64_t len) const {
    if (!canonical(gva)) return pv_error(EFAULT);
    uint64_t in_page = std::min<uint64_t>(len, kXenPageSize - gva % kXenPageSize);
    uint64_t gpa = gva;
    if (m_translate) {
        auto t = m_translate(vcpu, gva);
        if (!t) return pv_error(EFAULT);
        gpa = *t;
    }
    auto s = m_mem.slice(gpa, in_page);
    if (!s) return pv_error(EFAULT);
    return *s;
}

PvResult<void> GuestAccess::read(int vcpu, uint64_t gva, std::span<uint8_t> out) const {
    if (gva + out.size() < gva) return pv_error(EFAULT);  // wraps the address space
    size_t done = 0;
    while (done < out.size()) {
        auto chunk = TRY(page_chunk(vcpu, gva + done, out.size() - done));
        std::memcpy(out.data() + done, chunk.data(), chunk.size());
        done += chunk.size();
    }
    return {};
}

PvResult<void> GuestAccess::write(int vcpu, uint64_t gva, std::span<const uint8_t> in) const {
    if (gva + in.size() < gva) return pv_error(EFAULT);
    size_t done = 0;
    while (done < in.size()) {
        auto chunk = TRY(page_chunk(vcpu, gva + done, in.size() - done));
        std::memcpy(chunk.data(), in.data() + done, chunk.size());
        if (m_writes) m_writes->wrote(chunk.data(), chunk.size());
        done += chunk.size();
    }
    return {};
}

}  // namespace popek::pv
