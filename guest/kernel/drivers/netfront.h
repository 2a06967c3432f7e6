#pragma once
/// A netif front end (Xen io/netif.h) for one virtual interface, device/vif/<id>: the XenBus
/// handshake (request-rx-copy=1, tx-ring-ref, rx-ring-ref, event-channel), kRxBuffers receive
/// pages posted and granted once, kTxSlots transmit pages granted read-only once. Each frame fits
/// one page (no scatter-gather either way). Received frames are copied out of the rx pages by the
/// event-channel handler into a bounded queue (kQueueFrames; further ones are counted as dropped)
/// from which netd's frame calls read (docs/guest-os.md "Networking (phase 2)").
#include "lib/spinlock.h"
#include "proc/sched.h"
#include "pv/xen_abi.h"
#include "pv/xenbus.h"

namespace pos {

class NetFront {
public:
    static constexpr unsigned kRxBuffers = 16;
    static constexpr unsigned kTxSlots = 8;
    static constexpr unsigned kQueueFrames = 32;
    static constexpr uint32_t kMaxFrame = 1518;   // secure-net frames: 14-byte header, 2-byte length, 1500 (src/netsec/ether.h)

    /// Connects to device/vif/<devid>; 0 or a negative errno (-ENOENT: no such interface).
    long connect(const char* devid);
    bool connected() const { return m_connected; }
    const uint8_t* mac() const { return m_mac; }

    /// Queues one frame (14..kMaxFrame bytes) for the back end; 0 or a negative POS_E*.
    long send(const void* frame, size_t len);
    /// Takes the oldest received frame (blocking while `block` and none is queued); its length
    /// (truncated to `cap`), -POS_EAGAIN when none and not blocking, -POS_EIO when disconnected.
    long receive(void* buf, size_t cap, bool block);

    /// Called (scheduler lock held) whenever received frames were queued: netd may be waiting
    /// for a request or a frame at once (netd_next_request with POS_NET_WAKE_ON_FRAME).
    void set_rx_hook(void (*hook)()) { m_rx_hook = hook; }
    /// Frames waiting for netd; caller holds the scheduler lock.
    bool frames_queued_locked() const { return m_q_count > 0; }

    struct Stats {
        uint64_t rx_frames, rx_dropped, rx_bad, tx_frames, tx_errors;
    };
    Stats stats() const { return m_stats; }

private:
    struct Frame {
        uint16_t len;
        uint8_t data[kMaxFrame];
    };
    static void on_event(evtchn_port_t port, void* ctx);
    /// Moves rx responses into the queue and reposts the buffers; tx responses free slots.
    /// Caller holds the scheduler lock (the queue's waiters sleep on it).
    void poll_rings_locked();
    void post_rx(uint16_t id);
    long handshake();
    /// False (and the device stops) if the back end moved rsp_prod past what it could answer.
    bool check_rsp_prod(RING_IDX rsp_prod, RING_IDX rsp_cons, RING_IDX req_prod);

    xen::XenbusDevice m_dev{};
    netif_tx_front_ring_t m_tx{};
    netif_rx_front_ring_t m_rx{};
    evtchn_port_t m_port = 0;
    uint8_t* m_tx_pages = nullptr;
    uint8_t* m_rx_pages = nullptr;
    grant_ref_t m_tx_ring_ref = 0, m_rx_ring_ref = 0;
    grant_ref_t m_tx_refs[kTxSlots]{};
    grant_ref_t m_rx_refs[kRxBuffers]{};
    bool m_tx_busy[kTxSlots]{};
    Frame* m_queue = nullptr;   // kQueueFrames, allocated at connect
    unsigned m_q_head = 0, m_q_count = 0;
    WaitQueue m_readers;
    WaitQueue m_tx_waiters;
    Stats m_stats{};
    uint8_t m_mac[6]{};
    bool m_connected = false;
    void (*m_rx_hook)() = nullptr;
};

}  // namespace pos
