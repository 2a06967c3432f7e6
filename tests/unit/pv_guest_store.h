#pragma once
/// Unit-test helper: the guest's side of the XenStore ring of a pv::PvDomain (xs_wire.h framing
/// over the xenstore_domain_interface page), one request at a time, watch events skipped.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>

#include "pv/pv_domain.h"
#include "pv/store_wire.h"

namespace popek::pv::test {

class GuestStore {
public:
    /// The domain's store ring lives at `store_pfn` (connect_store already done).
    GuestStore(const memory::GuestMemory& mem, PvDomain& dom, uint64_t store_pfn) : m_mem(mem), m_dom(dom), m_pfn(store_pfn) {}

    /// One request; returns the reply payload ("E<errno name>..." on error).
    std::string xs(uint32_t type, std::string_view payload) {
        auto* ring = reinterpret_cast<xenstore_domain_interface*>(m_mem.host_ptr(m_pfn << 12, 4096));
        auto port = static_cast<evtchn_port_t>(m_dom.get_param(HVM_PARAM_STORE_EVTCHN).value());
        uint32_t id = m_next_req++;
        for (char c : StoreWire::frame(type, id, 0, payload)) ring->req[MASK_XENSTORE_IDX(ring->req_prod++)] = c;
        EXPECT_TRUE(m_dom.event_channels().send(port));
        std::string bytes;
        while (ring->rsp_cons != ring->rsp_prod) bytes.push_back(ring->rsp[MASK_XENSTORE_IDX(ring->rsp_cons++)]);
        size_t at = 0;
        while (at + sizeof(xsd_sockmsg) <= bytes.size()) {
            xsd_sockmsg h;
            std::memcpy(&h, bytes.data() + at, sizeof(h));
            std::string body = bytes.substr(at + sizeof(h), h.len);
            at += sizeof(h) + h.len;
            if (h.req_id == id) return h.type == XS_ERROR ? "E" + body : body;
        }
        return "no reply";
    }
    std::string read(const std::string& path) { return xs(XS_READ, path + '\0'); }
    std::string write(const std::string& path, const std::string& v) { return xs(XS_WRITE, path + '\0' + v); }

private:
    const memory::GuestMemory& m_mem;
    PvDomain& m_dom;
    uint64_t m_pfn;
    uint32_t m_next_req = 1;
};

}  // namespace popek::pv::test
