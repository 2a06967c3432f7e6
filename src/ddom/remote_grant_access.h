#pragma once
/// pv::GrantAccess for a driver domain process: each batch of copies is one GrantCopy request
/// on the socket to the VMM, which checks every op against the guest's grant table as this
/// domain (ddom::serve_copy) and answers with the status and the bytes read. The process itself
/// never has guest memory. An answer that does not fit the request (wrong type, wrong length)
/// counts as GNTST_general_error; a socket error also marks the connection broken.
#include <vector>

#include "pv/grant_access.h"

namespace popek::ddom {

class RemoteGrantAccess final : public pv::GrantAccess {
public:
    /// `fd`: the socket to the VMM (not owned).
    explicit RemoteGrantAccess(int fd) : m_fd(fd) {}
    pv::GntResult<void> copy(std::span<const pv::GrantCopy> ops) override;
    bool broken() const { return m_broken; }

private:
    int m_fd;
    bool m_broken = false;
    std::vector<uint8_t> m_buf;
};

}  // namespace popek::ddom
