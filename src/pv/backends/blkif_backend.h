#pragma once
/// The vbd ring loop (io/blkif.h over io/ring.h): takes requests from the guest's blkif ring, has a
/// BlkifExecutor carry them out (the in-process BlkifHandler or a driver-domain proxy) and pushes
/// the responses. A ring the guest corrupts is shut (SharedRing); an executor that fails (its
/// driver domain died) stops the loop with the request unanswered: the vbd then closes the device.
/// The disk and popek are unaffected either way.
#include <cstdint>
#include <span>

#include "pv/backends/blkif_handler.h"
#include "pv/backends/ring_backend.h"
#include "pv/shared_ring.h"

namespace popek::pv {

class BlkifBackend final : public RingBackend {
public:
    /// Requests handled per process() call before yielding (the guest could keep the ring busy).
    static constexpr uint32_t kBatch = 256;

    /// `ring` is the mapped ring page; writes to it are reported to `writes` (may be null).
    BlkifBackend(BlkifExecutor& executor, std::span<uint8_t> ring, const RamWrites* writes = nullptr);

    Outcome process() override;
    bool shut() const override { return m_ring.shut(); }
    std::optional<std::string> failure() const override;
    /// The executor failed: no further requests are taken.
    bool failed() const { return m_failed; }
    /// The ring's private indices (requests are answered before a vCPU's notification returns,
    /// so none is in flight at a snapshot).
    void save(snapshot::Writer& w) const override {
        m_ring.save(w);
        w.boolean(m_failed);
    }
    void load(snapshot::Reader& r) override {
        m_ring.load(r);
        m_failed = r.boolean();
    }

private:
    BlkifExecutor& m_executor;
    SharedRing<blkif_sring> m_ring;
    bool m_failed = false;
};

}  // namespace popek::pv
