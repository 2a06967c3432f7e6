#include "devices/virtio/net.h"

#include "devices/virtio/guest_error.h"

namespace popek::devices::virtio {

Net::Net(std::unique_ptr<host::NetBackend> backend, MacAddress mac) : m_backend(std::move(backend)), m_mac(mac) {}

Net::~Net() { shutdown(); }

void Net::shutdown() {
    if (m_backend) m_backend->stop();
}

void Net::read_config(uint64_t offset, std::span<uint8_t> data) {
    // 5.1.4 struct virtio_net_config: mac[6], status (then fields for features not offered).
    std::array<uint8_t, 8> config{};
    std::copy(m_mac.begin(), m_mac.end(), config.begin());
    config[6] = static_cast<uint8_t>(kNetStatusLinkUp);
    read_config_bytes(config, offset, data);
}

Result<void> Net::start_backend() {
    if (m_started || !m_backend) return {};
    TRY_VOID(m_backend->start([this](std::span<const uint8_t> frame) { receive(frame); }));
    m_started = true;
    return {};
}

void Net::activate(uint64_t) {
    // Started at set-up (io_devices.cpp); a device built without that starts with its first driver.
    if (auto r = start_backend(); !r)
        report_guest_error(name(), fmt::format("{} backend failed: {}", m_backend->name(), r.error().message));
}

void Net::notify(size_t index) {
    if (index == kNetTransmitQueue)
        process_queue(host(), index, [this](Chain& chain) { return transmit(chain); });
    else if (index == kNetReceiveQueue)
        deliver();
}

Result<uint32_t> Net::transmit(Chain& chain) {
    // 5.1.6.2: the header comes first; popek negotiates no offload, so it carries nothing we need.
    uint64_t len = chain.readable.size();
    if (len < sizeof(NetHeader) || len - sizeof(NetHeader) > kMaxFrame) {
        report_guest_error(name(), fmt::format("dropped a {}-byte transmit buffer", len));
        return 0;
    }
    m_tx_frame.resize(len - sizeof(NetHeader));
    TRY_VOID(chain.readable.read(host().memory(), sizeof(NetHeader), m_tx_frame));
    m_backend->send(m_tx_frame);
    ++m_tx_frames;
    m_tx_bytes += m_tx_frame.size();
    return 0;
}

void Net::receive(std::span<const uint8_t> frame) {
    bool active = host().with_lock([&] {
        if (m_pending.size() >= kMaxPendingFrames || frame.size() > kMaxFrame) {
            ++m_dropped;
            return;
        }
        m_pending.emplace_back(frame.begin(), frame.end());
        deliver();
    });
    if (!active) ++m_dropped;   // benign race on a counter only read by tests after stop
}

void Net::deliver() {
    const memory::GuestMemory& mem = host().memory();
    Queue& q = host().queue(kNetReceiveQueue);
    if (!q.ready() || q.broken()) return;
    Chain chain;
    bool used = false;
    while (!m_pending.empty()) {
        auto got = q.pop(mem, chain);
        if (!got) {
            host().needs_reset(got.error());
            return;
        }
        if (!*got) break;   // no buffers: keep the frames until the driver adds some
        const std::vector<uint8_t>& frame = m_pending.front();
        uint32_t written = 0;
        if (chain.writable.size() >= sizeof(NetHeader) + frame.size()) {
            // 5.1.6.4: num_buffers is 1 without VIRTIO_NET_F_MRG_RXBUF.
            NetHeader hdr{};
            hdr.num_buffers = 1;
            auto r = chain.writable.write(mem, 0, std::span(reinterpret_cast<const uint8_t*>(&hdr), sizeof(hdr)));
            if (r) r = chain.writable.write(mem, sizeof(hdr), frame);
            if (!r) {
                host().needs_reset(r.error());
                return;
            }
            written = static_cast<uint32_t>(sizeof(hdr) + frame.size());
        } else {
            ++m_dropped;   // a receive buffer too small for the frame: give it back empty
            report_guest_error(name(), fmt::format("{}-byte receive buffer for a {}-byte frame", chain.writable.size(), frame.size()));
        }
        if (auto r = q.add_used(mem, chain, written); !r) {
            host().needs_reset(r.error());
            return;
        }
        if (written) ++m_rx_frames, m_rx_bytes += frame.size();
        m_pending.pop_front();
        used = true;
    }
    if (used) host().signal_used(kNetReceiveQueue);
}

}  // namespace popek::devices::virtio
