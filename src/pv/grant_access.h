#pragma once
/// pv::GrantAccess: how a back end reaches guest data. A back end never touches guest RAM except
/// through grant copies (GNTTABOP_copy semantics, xen/grant_table.h): each operation names a grant
/// reference, an offset and a length inside that one granted page, and the direction. Whoever
/// implements this checks every reference against the guest's grant table *as the back end's
/// domain*, so a back end reaches exactly the pages the guest granted to it.
///
/// Two implementations: LocalGrantAccess (popek's in-process back ends: the GrantTable itself) and
/// ddom::RemoteGrantAccess (a driver domain process: a request over its socket, which the VMM
/// checks against the same GrantTable). The blkif request code is the same for both.
///
/// Ring pages are not part of this interface: the VMM keeps the ring mapping (see docs/pv.md,
/// "Driver domain"), because handing a ring page to another process would mean handing it guest RAM.
#include <cstdint>
#include <span>

#include "pv/grant_table.h"

namespace popek::pv {

/// One copy between a granted page and a back-end buffer (`buffer.size()` bytes at `offset`).
struct GrantCopy {
    grant_ref_t ref = 0;
    uint16_t offset = 0;
    bool to_guest = false;       ///< true: buffer → granted page (needs a writable grant)
    std::span<uint8_t> buffer;   ///< source when to_guest, destination otherwise
};

class GrantAccess {
public:
    virtual ~GrantAccess() = default;
    /// Carries out `ops` in order and stops at the first that fails, returning its GNTST_* status.
    /// Operations before a failure may have taken effect (as with a GNTTABOP_copy batch).
    virtual GntResult<void> copy(std::span<const GrantCopy> ops) = 0;
};

/// In-process: the guest's GrantTable, checked as domain `grantee`.
class LocalGrantAccess final : public GrantAccess {
public:
    LocalGrantAccess(GrantTable& grants, DomId grantee) : m_grants(grants), m_grantee(grantee) {}
    GntResult<void> copy(std::span<const GrantCopy> ops) override;

private:
    GrantTable& m_grants;
    DomId m_grantee;
};

}  // namespace popek::pv
