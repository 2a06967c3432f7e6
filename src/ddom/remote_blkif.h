#pragma once
/// The VMM's proxy for a vbd whose back end runs in a driver domain process (`popek backend`).
/// VbdDevice keeps the ring and the XenBus handshake; each request it takes from the ring goes to
/// the child as a BlkifRequest, the child's GrantCopy requests in between are answered against the
/// guest's grant table as the driver domain (ddom::serve_copy), and its BlkifResponse goes back on
/// the ring.
///
/// The child is hostile as far as the VMM is concerned: a malformed or unexpected message, a
/// response for another request, more than kMaxCopiesPerRequest copies or no answer within
/// kTimeoutMs end the proxy (the child is killed, execute() returns nullopt, failure() says why)
/// and VbdDevice closes the device; the guest and popek keep running.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "pv/backends/blkif_handler.h"
#include "util/fd.h"

namespace popek::ddom {

/// The driver domain's id: its store subtree is /local/domain/2, grants must name it.
inline constexpr pv::DomId kDriverDomain = 2;

class RemoteBlkif final : public pv::BlkifExecutor {
public:
    static constexpr int kTimeoutMs = 10000;
    /// A blkif request needs one batch; a few more are tolerated, an endless stream is not.
    static constexpr int kMaxCopiesPerRequest = 4;

    /// Starts `exe backend ...` with the disk's descriptor and its end of a socketpair.
    static Result<std::unique_ptr<RemoteBlkif>> spawn(pv::GrantTable& grants, pv::DomId domid, int disk_fd,
                                                      bool readonly, const std::string& exe = "/proc/self/exe");
    /// Over an existing connection (tests); `pid` < 0 when there is no process to reap.
    RemoteBlkif(pv::GrantTable& grants, pv::DomId domid, UniqueFd socket, pid_t pid = -1);
    ~RemoteBlkif() override;
    RemoteBlkif(const RemoteBlkif&) = delete;
    RemoteBlkif& operator=(const RemoteBlkif&) = delete;

    std::optional<blkif_response_t> execute(const blkif_request_t& req) override;
    std::optional<std::string> failure() const override { return m_failure; }
    pid_t pid() const { return m_pid; }
    int socket() const { return m_socket.get(); }

private:
    std::nullopt_t fail_with(std::string why);
    void stop_child();

    pv::GrantTable& m_grants;
    const pv::DomId m_domid;
    UniqueFd m_socket;
    pid_t m_pid;
    std::optional<std::string> m_failure;
    std::vector<uint8_t> m_buf;
};

}  // namespace popek::ddom
