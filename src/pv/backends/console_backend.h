#pragma once
/// The console back end (io/console.h, struct xencons_interface): the guest writes its output into
/// out[] and popek passes it to a byte sink (popek's stdio); host input goes into in[] for the guest.
/// A guest whose indices claim more bytes than a ring holds gets its console shut (nothing more is
/// read or written), popek keeps running.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "pv/ram_writes.h"
#include "pv/xen_abi.h"
#include "snapshot/snap_codec.h"

namespace popek::pv {

class ConsoleBackend {
public:
    using Sink = std::function<void(std::string_view)>;
    /// Host input waiting for ring space beyond this is dropped.
    static constexpr size_t kMaxPendingInput = 64 * 1024;

    /// Every write to `page` (indices, input bytes) is reported to `writes` (not owned, may be null).
    ConsoleBackend(std::span<uint8_t> page, Sink sink, const RamWrites* writes = nullptr);

    /// Passes the guest's output to the sink and moves waiting input into the ring. True if the
    /// guest should be notified (popek consumed output or produced input).
    bool service();
    /// Queues host input (e.g. a key typed on popek's terminal) and delivers what fits now.
    bool push_input(std::string_view bytes);
    bool shut() const { return m_shut; }
    uint64_t dropped_input() const { return m_dropped_input; }
    /// Snapshots: host input not yet in the ring, shut, the dropped count (the ring is guest RAM).
    void save(snapshot::Writer& w) const {
        w.str(m_pending_input);
        w.boolean(m_shut);
        w.u64(m_dropped_input);
    }
    void load(snapshot::Reader& r) {
        std::string pending = r.str(kMaxPendingInput);
        const bool shut = r.boolean();
        const uint64_t dropped = r.u64();
        if (!r.ok()) return;
        m_pending_input = std::move(pending);
        m_shut = shut || m_page.size() < sizeof(xencons_interface);
        m_dropped_input = dropped;
    }

private:
    xencons_interface* iface() const { return reinterpret_cast<xencons_interface*>(m_page.data()); }
    bool deliver_input();

    std::span<uint8_t> m_page;
    Sink m_sink;
    const RamWrites* m_writes;
    std::string m_pending_input;
    bool m_shut = false;
    uint64_t m_dropped_input = 0;
};

}  // namespace popek::pv
