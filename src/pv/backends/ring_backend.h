#pragma once
/// pv::RingBackend: what a RingDevice (a XenBus device with one ring) runs on its mapped ring: blkif,
/// popekfs. Implementations follow io/ring.h through SharedRing.

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "snapshot/snap_codec.h"

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
    /// The data path can no longer answer (its driver domain died): why. The device then closes.
    virtual std::optional<std::string> failure() const { return std::nullopt; }
    /// Snapshots (docs/snapshot.md "XDEV"): the data path's own state between requests. A data
    /// path that cannot be snapshotted fails the load (its device is refused before saving).
    virtual void save(snapshot::Writer&) const {}
    virtual void load(snapshot::Reader& r) { r.invalid("this device's data path cannot be restored"); }
};

template <class T> inline constexpr bool kIsOptional = false;
template <class T> inline constexpr bool kIsOptional<std::optional<T>> = true;

/// The back end's service loop of io/ring.h: takes up to `batch` requests from `ring` (a
/// SharedRing), answers each with `handle(request)`, publishes the responses, and repeats after
/// RING_FINAL_CHECK_FOR_REQUESTS until the ring is empty. A guest that keeps the ring busy gets
/// `more` after a batch, so the caller can yield. A `handle` that returns std::optional may answer
/// nullopt (it can no longer serve): the loop then stops with that request unanswered.
template <class Ring, class Handle>
RingBackend::Outcome serve_ring(Ring& ring, uint32_t batch, Handle&& handle) {
    RingBackend::Outcome out;
    uint32_t handled = 0;
    do {
        while (handled < batch) {
            auto req = ring.next_request();
            if (!req) break;
            ++handled;
            auto rsp = handle(*req);
            if constexpr (kIsOptional<decltype(rsp)>) {
                if (!rsp) {
                    out.notify |= ring.publish_responses();
                    return out;
                }
                ring.push_response(*rsp);
            } else {
                ring.push_response(rsp);
            }
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
