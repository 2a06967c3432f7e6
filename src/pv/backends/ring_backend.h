#pragma once
/// pv::RingBackend: what a RingDevice (a XenBus device with one ring) runs on its mapped ring: blkif,
/// popekfs. Implementations follow io/ring.h through SharedRing.

#include <cstdint>

namespace popek::pv {

/// A data path on a shared ring: serves requests until none are left (or a batch is done).
class RingBackend {
public:
    struct Outcome {
        bool notify = false;  ///< the front end asked for an event
        bool more = false;    ///< requests left after the batch: call process() again
    };
    virtual ~RingBackend() = default;
    virtual Outcome process() = 0;
    /// The front end corrupted the ring (indices out of range); it is dead until reconnected.
    virtual bool shut() const = 0;
};

/// The back end's service loop of io/ring.h: takes up to `batch` requests from `ring` (a
/// SharedRing), answers each with `handle(request)`, publishes the responses, and repeats after
/// RING_FINAL_CHECK_FOR_REQUESTS until the ring is empty. A guest that keeps the ring busy gets
/// `more` after a batch, so the caller can yield.
template <class Ring, class Handle>
RingBackend::Outcome serve_ring(Ring& ring, uint32_t batch, Handle&& handle) {
    RingBackend::Outcome out;
    uint32_t handled = 0;
    do {
        while (handled < batch) {
            auto req = ring.next_request();
            if (!req) break;
            ++handled;
            ring.push_response(handle(*req));
        }
        out.notify |= ring.publish_responses();
        if (handled >= batch) {
            out.more = ring.unconsumed_requests() > 0;
            return out;
        }
    } while (ring.final_check_for_requests());
    return out;
}

}  // namespace popek::pv
