#pragma once
/// Test-only hostile driver domain (docs/guest-os.md "Storage", tests/backend/guest_os_storage_test.cpp):
/// with POPEK_TEST_BLKIF_FLIP_READ=SECTOR in its environment, `popek backend` flips one byte of
/// disk sector SECTOR in every read reply that carries it, the way a malicious Dom0 would. The
/// guest must notice (popek-os's sealed disk reports an integrity error); nothing else changes.
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "pv/grant_access.h"

namespace popek::ddom {

class FlipReadsGrantAccess final : public pv::GrantAccess {
public:
    FlipReadsGrantAccess(pv::GrantAccess& inner, uint64_t sector) : m_inner(inner), m_sector(sector) {}

    /// The sector named by POPEK_TEST_BLKIF_FLIP_READ, if set and a number.
    static std::optional<uint64_t> from_environment() {
        const char* v = std::getenv("POPEK_TEST_BLKIF_FLIP_READ");
        if (v == nullptr || *v == 0) return std::nullopt;
        char* end = nullptr;
        unsigned long long s = std::strtoull(v, &end, 10);
        return *end == 0 ? std::optional<uint64_t>(s) : std::nullopt;
    }

    /// Called before each request: the reply of a read covering m_sector gets one byte flipped.
    void arm(const blkif_request_t& req) {
        m_flip_at.reset();
        if (req.operation == BLKIF_OP_READ && m_sector >= req.sector_number)
            m_flip_at = (m_sector - req.sector_number) * 512 + 100;
    }

    pv::GntResult<void> copy(std::span<const pv::GrantCopy> ops) override {
        if (m_flip_at) {
            uint64_t at = *m_flip_at;
            for (const pv::GrantCopy& op : ops) {
                if (at < op.buffer.size()) {
                    if (op.to_guest) op.buffer[at] ^= 0x5a;
                    break;
                }
                at -= op.buffer.size();
            }
            m_flip_at.reset();
        }
        return m_inner.copy(ops);
    }

private:
    pv::GrantAccess& m_inner;
    uint64_t m_sector;
    std::optional<uint64_t> m_flip_at;
};

}  // namespace popek::ddom
