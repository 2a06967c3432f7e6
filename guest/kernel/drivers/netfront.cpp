#include "drivers/netfront.h"

#include "common/format.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/pmm.h"
#include "popek_os/abi.h"
#include "pv/evtchn.h"
#include "pv/ring_front.h"
#include "pv/xenstore.h"

namespace pos {
namespace {
constexpr uint32_t kMinFrame = 14;   // an Ethernet header

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// The front end's `mac` node, "xx:xx:xx:xx:xx:xx" (io/netif.h "mac").
bool parse_mac(const char* s, uint8_t* mac) {
    for (int i = 0; i < 6; ++i) {
        int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || s[3 * i + 2] != (i == 5 ? '\0' : ':')) return false;
        mac[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return true;
}

}  // namespace

long NetFront::connect(const char* devid) {
    if (long r = xen::front_open(m_dev, "vif", devid); r < 0) return r;
    char path[192], text[32] = "";
    if (xen::store::read(xen::xenbus_path(path, sizeof path, m_dev.frontend, "mac"), text, sizeof text) < 0 ||
        !parse_mac(text, m_mac))
        return -EINVAL;
    uint64_t rx_copy = 0;
    if (xen::xenbus_read_u64(m_dev.backend, "feature-rx-copy", rx_copy) < 0 || rx_copy != 1) return -ENOSYS;

    uint64_t tx_ring = pmm::alloc_zeroed_frame(), rx_ring = pmm::alloc_zeroed_frame();
    uint64_t tx_pages = pmm::alloc_contiguous(kTxSlots), rx_pages = pmm::alloc_contiguous(kRxBuffers);
    constexpr size_t kQueuePages = (sizeof(Frame) * kQueueFrames + kPageSize - 1) / kPageSize;
    uint64_t queue = pmm::alloc_contiguous(kQueuePages);
    if (tx_ring == 0 || rx_ring == 0 || tx_pages == 0 || rx_pages == 0 || queue == 0) return -POS_ENOMEM;
    m_tx_pages = phys_to_virt<uint8_t>(tx_pages);
    m_rx_pages = phys_to_virt<uint8_t>(rx_pages);
    m_queue = phys_to_virt<Frame>(queue);
    auto* txs = phys_to_virt<netif_tx_sring_t>(tx_ring);
    auto* rxs = phys_to_virt<netif_rx_sring_t>(rx_ring);
    SHARED_RING_INIT(txs);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&m_tx, txs, kPageSize);
    FRONT_RING_INIT(&m_rx, rxs, kPageSize);
    if (xen::grant_pages(m_dev.backend_id, tx_ring, 1, false, &m_tx_ring_ref) < 0 ||
        xen::grant_pages(m_dev.backend_id, rx_ring, 1, false, &m_rx_ring_ref) < 0 ||
        xen::grant_pages(m_dev.backend_id, tx_pages, kTxSlots, true, m_tx_refs) < 0 ||
        xen::grant_pages(m_dev.backend_id, rx_pages, kRxBuffers, false, m_rx_refs) < 0)
        return -POS_ENOSPC;
    long port = xen::evtchn::alloc_unbound(m_dev.backend_id);
    if (port < 0) return port;
    m_port = static_cast<evtchn_port_t>(port);
    for (uint16_t i = 0; i < kRxBuffers; ++i) post_rx(i);
    return handshake();
}

long NetFront::handshake() {
    char tx_ref[16], rx_ref[16], port[16];
    format(tx_ref, sizeof tx_ref, "%u", m_tx_ring_ref);
    format(rx_ref, sizeof rx_ref, "%u", m_rx_ring_ref);
    format(port, sizeof port, "%u", m_port);
    // io/netif.h "Front end XenBus nodes": the rings, the channel, rx by copy.
    const xen::XenbusNode nodes[] = {{"tx-ring-ref", tx_ref},    {"rx-ring-ref", rx_ref},
                                     {"event-channel", port},    {"request-rx-copy", "1"},
                                     {"feature-rx-notify", "1"}};
    long r = xen::xenbus_publish(m_dev, nodes, sizeof nodes / sizeof nodes[0], XenbusStateConnected);
    if (r < 0) return r;
    if ((r = xen::front_wait_connected(m_dev)) < 0) return r;
    m_connected = true;
    // From now on the handler drains both rings (it unmasks the port).
    xen::evtchn::set_handler(m_port, on_event, this);
    return 0;
}

void NetFront::post_rx(uint16_t id) {
    netif_rx_request_t* req = RING_GET_REQUEST(&m_rx, m_rx.req_prod_pvt);
    req->id = id;
    req->gref = m_rx_refs[id];
    m_rx.req_prod_pvt++;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&m_rx, notify);
    if (notify) xen::evtchn::notify(m_port);
}

bool NetFront::check_rsp_prod(RING_IDX rsp_prod, RING_IDX rsp_cons, RING_IDX req_prod) {
    if (rsp_prod - rsp_cons <= req_prod - rsp_cons) return true;
    if (m_connected) kprintf("popek-os: xen: vif: response index out of range; interface stopped\n");
    m_connected = false;
    return false;
}

void NetFront::on_event(evtchn_port_t, void* ctx) {
    auto* self = static_cast<NetFront*>(ctx);
    LockGuard guard(sched_lock());
    self->poll_rings_locked();
}

void NetFront::poll_rings_locked() {
    if (!m_connected) return;
    bool got_rx = false, freed_tx = false;
    for (;;) {
        RING_IDX prod = __atomic_load_n(&m_rx.sring->rsp_prod, __ATOMIC_ACQUIRE);
        if (!check_rsp_prod(prod, m_rx.rsp_cons, m_rx.req_prod_pvt)) break;
        if (m_rx.rsp_cons == prod) break;
        // Copy the response out of shared memory once: the back end may change it meanwhile.
        netif_rx_response_t rsp = *RING_GET_RESPONSE(&m_rx, m_rx.rsp_cons);
        m_rx.rsp_cons++;
        if (rsp.id >= kRxBuffers) {   // not a buffer we posted: nothing to repost
            m_stats.rx_bad++;
            continue;
        }
        const uint32_t len = rsp.status > 0 ? static_cast<uint32_t>(rsp.status) : 0;
        if (len < kMinFrame || len > kMaxFrame || rsp.offset + len > kPageSize || (rsp.flags & NETRXF_more_data)) {
            m_stats.rx_bad++;
        } else if (m_q_count == kQueueFrames) {
            m_stats.rx_dropped++;
        } else {
            Frame& f = m_queue[(m_q_head + m_q_count++) % kQueueFrames];
            f.len = static_cast<uint16_t>(len);
            memcpy(f.data, m_rx_pages + rsp.id * kPageSize + rsp.offset, len);
            m_stats.rx_frames++;
            got_rx = true;
        }
        post_rx(rsp.id);
    }
    for (;;) {
        RING_IDX prod = __atomic_load_n(&m_tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
        if (!check_rsp_prod(prod, m_tx.rsp_cons, m_tx.req_prod_pvt)) break;
        if (m_tx.rsp_cons == prod) break;
        netif_tx_response_t rsp = *RING_GET_RESPONSE(&m_tx, m_tx.rsp_cons);
        m_tx.rsp_cons++;
        if (rsp.id < kTxSlots && m_tx_busy[rsp.id]) {
            m_tx_busy[rsp.id] = false;
            freed_tx = true;
            if (rsp.status != NETIF_RSP_OKAY) m_stats.tx_errors++;
        }
    }
    // Ask for an event when the next responses arrive (io/ring.h final check).
    m_rx.sring->rsp_event = m_rx.rsp_cons + 1;
    m_tx.sring->rsp_event = m_tx.rsp_cons + 1;
    xen_mb();
    if (got_rx) m_readers.wake_all_locked();
    if (got_rx && m_rx_hook != nullptr) m_rx_hook();
    if (freed_tx) m_tx_waiters.wake_all_locked();
}

long NetFront::send(const void* frame, size_t len) {
    if (len < kMinFrame || len > kMaxFrame) return -POS_EINVAL;
    LockGuard guard(sched_lock());
    for (;;) {
        if (!m_connected) return -POS_EIO;
        poll_rings_locked();
        uint16_t slot = 0;
        while (slot < kTxSlots && m_tx_busy[slot]) ++slot;
        if (slot < kTxSlots) {
            memcpy(m_tx_pages + slot * kPageSize, frame, len);
            m_tx_busy[slot] = true;
            netif_tx_request_t* req = RING_GET_REQUEST(&m_tx, m_tx.req_prod_pvt);
            req->gref = m_tx_refs[slot];
            req->offset = 0;
            req->flags = 0;
            req->id = slot;
            req->size = static_cast<uint16_t>(len);
            m_tx.req_prod_pvt++;
            int notify = 0;
            RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&m_tx, notify);
            if (notify) xen::evtchn::notify(m_port);
            m_stats.tx_frames++;
            return 0;
        }
        m_tx_waiters.wait_locked();   // every slot in flight: the handler frees one
    }
}

long NetFront::receive(void* buf, size_t cap, bool block) {
    LockGuard guard(sched_lock());
    for (;;) {
        poll_rings_locked();
        if (m_q_count > 0) break;
        if (!m_connected) return -POS_EIO;
        if (!block) return -POS_EAGAIN;
        m_readers.wait_locked();
    }
    const Frame& f = m_queue[m_q_head];
    size_t n = f.len < cap ? f.len : cap;
    memcpy(buf, f.data, n);
    m_q_head = (m_q_head + 1) % kQueueFrames;
    m_q_count--;
    return static_cast<long>(n);
}

}  // namespace pos
