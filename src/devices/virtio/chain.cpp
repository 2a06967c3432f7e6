#include "devices/virtio/chain.h"

#include <algorithm>

namespace popek::devices::virtio {

template <class Fn>
Result<void> Segments::for_each(const memory::GuestMemory& mem, uint64_t offset, uint64_t len, Fn&& fn) const {
    if (offset > m_total || len > m_total - offset)
        return fail("access [{}, +{}) past the end of a {}-byte buffer chain", offset, len, m_total);
    for (const Segment& s : m_segments) {
        if (len == 0) break;
        if (offset >= s.len) {
            offset -= s.len;
            continue;
        }
        uint64_t take = std::min<uint64_t>(len, s.len - offset);
        auto host = TRY(mem.slice(s.addr + offset, take));
        fn(host);
        len -= take;
        offset = 0;
    }
    return {};
}

Result<void> Segments::read(const memory::GuestMemory& mem, uint64_t offset, std::span<uint8_t> out) const {
    size_t done = 0;
    return for_each(mem, offset, out.size(), [&](std::span<uint8_t> host) {
        std::copy(host.begin(), host.end(), out.begin() + static_cast<ptrdiff_t>(done));
        done += host.size();
    });
}

Result<void> Segments::write(const memory::GuestMemory& mem, uint64_t offset, std::span<const uint8_t> in) const {
    size_t done = 0;
    return for_each(mem, offset, in.size(), [&](std::span<uint8_t> host) {
        std::copy_n(in.begin() + static_cast<ptrdiff_t>(done), host.size(), host.begin());
        done += host.size();
    });
}

Result<std::vector<iovec>> Segments::iovecs(const memory::GuestMemory& mem, uint64_t offset, uint64_t len) const {
    std::vector<iovec> out;
    TRY_VOID(for_each(mem, offset, len, [&](std::span<uint8_t> host) {
        out.push_back(iovec{host.data(), host.size()});
    }));
    return out;
}

}  // namespace popek::devices::virtio
