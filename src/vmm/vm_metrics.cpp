#include "vmm/vm_metrics.h"

#include <fmt/core.h>

#include "devices/virtio/block.h"
#include "devices/virtio/mmio_devices.h"
#include "devices/virtio/net.h"
#include "vmm/io_devices.h"

namespace popek::vmm {

using json = nlohmann::json;

void VcpuExitCounts::count(const hv::VcpuExit& exit) {
    std::atomic<uint64_t>* c = &other;
    if (std::holds_alternative<hv::PioIn>(exit)) c = &pio_in;
    else if (std::holds_alternative<hv::PioOut>(exit)) c = &pio_out;
    else if (std::holds_alternative<hv::MmioRead>(exit)) c = &mmio_read;
    else if (std::holds_alternative<hv::MmioWrite>(exit)) c = &mmio_write;
    else if (std::holds_alternative<hv::Hypercall>(exit)) c = &hypercall;
    else if (std::holds_alternative<hv::Halt>(exit)) c = &halt;
    c->fetch_add(1, std::memory_order_relaxed);
}

json VcpuExitCounts::to_json() const {
    return json{{"exit_io_in", pio_in.load()},       {"exit_io_out", pio_out.load()},
                {"exit_mmio_read", mmio_read.load()}, {"exit_mmio_write", mmio_write.load()},
                {"exit_hypercall", hypercall.load()}, {"exit_hlt", halt.load()},
                {"exit_other", other.load()}};
}

void XenCallCounts::count(const hv::Hypercall& hc) {
    if (hc.nr < m_hypercalls.size()) m_hypercalls[hc.nr].fetch_add(1, std::memory_order_relaxed);
    else m_other.fetch_add(1, std::memory_order_relaxed);
    if (hc.nr == kEventChannelOp && hc.args[0] < m_evtchn_ops.size())
        m_evtchn_ops[hc.args[0]].fetch_add(1, std::memory_order_relaxed);
}

json XenCallCounts::to_json() const {
    json calls = json::object(), evtchn = json::object();
    uint64_t total = m_other.load();
    for (size_t i = 0; i < m_hypercalls.size(); ++i)
        if (uint64_t n = m_hypercalls[i].load()) calls[fmt::format("{}", i)] = n, total += n;
    uint64_t evtchn_total = 0;
    for (size_t i = 0; i < m_evtchn_ops.size(); ++i)
        if (uint64_t n = m_evtchn_ops[i].load()) evtchn[fmt::format("{}", i)] = n, evtchn_total += n;
    return json{{"hypercalls", total}, {"hypercalls_by_nr", calls}, {"hypercalls_unknown_nr", m_other.load()},
                {"event_channel_ops", evtchn_total}, {"event_channel_ops_by_cmd", evtchn},
                {"event_channel_sends", m_evtchn_ops[4].load()}};   // EVTCHNOP_send
}

json collect_metrics(const MetricsSources& src) {
    json out = json::object();
    json vcpus = json::array(), bt = json::array();
    if (src.vcpus) {
        for (size_t i = 0; i < src.vcpus->size(); ++i) {
            const hv::Vcpu& v = *(*src.vcpus)[i];
            // Counted by the vCPU thread as it runs: each a plain 64-bit word, a figure may lag.
            const hv::VcpuStats s = v.stats();
            json one{{"vcpu", v.index()}, {"instructions", s.instructions}, {"privileged", s.privileged},
                     {"sensitive", s.sensitive}, {"exits", s.exits}};
            if (src.exits) one.update(src.exits[i].to_json());
            vcpus.push_back(std::move(one));
            if (const hv::CodeCacheStats c = v.code_cache_stats(); c.present) {
                const uint64_t entries = c.hits + c.misses;
                bt.push_back(json{{"vcpu", v.index()}, {"blocks", c.blocks}, {"code_bytes", c.code_bytes},
                                  {"capacity_bytes", c.capacity_bytes}, {"flushes", c.flushes},
                                  {"hits", c.hits}, {"misses", c.misses},
                                  {"hit_rate", entries ? double(c.hits) / double(entries) : 0.0}});
            }
        }
    }
    out["vcpu"] = std::move(vcpus);
    if (!bt.empty()) out["bt"] = std::move(bt);
    if (src.dispatcher)
        out["devices"] = json{{"pio_exits", src.dispatcher->pio.load()}, {"mmio_exits", src.dispatcher->mmio.load()},
                              {"hypercall_exits", src.dispatcher->hypercalls.load()},
                              {"unclaimed", src.dispatcher->unclaimed.load()}};
    json blocks = json::array(), nets = json::array();
    if (src.virtio) {
        for (size_t i = 0; i < src.virtio->devices().size(); ++i) {
            auto& dev = src.virtio->device(i);
            if (auto* b = dynamic_cast<devices::virtio::Block*>(&dev)) {
                const auto s = b->stats();
                blocks.push_back(json{{"device", i}, {"read_count", s.read_count}, {"read_bytes", s.read_bytes},
                                      {"write_count", s.write_count}, {"write_bytes", s.write_bytes},
                                      {"flush_count", s.flush_count}, {"failures", s.failures}});
            } else if (auto* n = dynamic_cast<devices::virtio::Net*>(&dev)) {
                const auto s = n->stats();
                nets.push_back(json{{"device", i}, {"tx_count", s.tx_frames}, {"tx_bytes", s.tx_bytes},
                                    {"rx_count", s.rx_frames}, {"rx_bytes", s.rx_bytes}, {"rx_dropped", s.dropped}});
            }
        }
    }
    out["block"] = std::move(blocks);
    out["net"] = std::move(nets);
    if (src.xen) out["xen"] = src.xen->to_json();
    if (src.xen_io) {
        // The Xen vbds and vifs (pv::VbdDevice, pv::VifDevice), by their XenBus device id.
        json xblocks = json::array(), xnets = json::array();
        for (pv::VbdDevice* v : src.xen_io->vbds()) {
            const auto s = v->stats();
            xblocks.push_back(json{{"device", v->devid()}, {"requests", s.requests}, {"read_bytes", s.bytes_read},
                                   {"write_bytes", s.bytes_written}, {"flush_count", s.flushes},
                                   {"discard_count", s.discards}, {"failures", s.errors}});
        }
        for (pv::VifDevice* v : src.xen_io->vifs()) {
            const auto s = v->stats();
            xnets.push_back(json{{"device", v->devid()}, {"tx_count", s.tx_packets}, {"tx_bytes", s.tx_bytes},
                                 {"tx_errors", s.tx_errors}, {"rx_count", s.rx_packets}, {"rx_bytes", s.rx_bytes},
                                 {"rx_errors", s.rx_errors},
                                 {"rx_dropped", s.rx_dropped_no_buffer + s.rx_dropped_invalid + s.rx_dropped_disconnected}});
        }
        out["xen_block"] = std::move(xblocks);
        out["xen_net"] = std::move(xnets);
    }
    return out;
}

}  // namespace popek::vmm
