#pragma once
/// The running VM's figures as one Firecracker-style metrics object (Firecracker's
/// src/vmm/src/logger/metrics.rs: one JSON object per line, grouped by component, written on
/// FlushMetrics and every 60 s; docs/metrics.md lists popek's fields). Counters are cumulative
/// since the VM started, so a reader takes differences between two lines.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "hv/hypervisor.h"
#include "vmm/exit_dispatcher.h"

namespace popek::devices::virtio {
class MmioDevices;
}

namespace popek::vmm {

class XenIoDevices;

/// One vCPU's exits by kind (hv::VcpuExit's alternatives), counted by its own thread.
struct VcpuExitCounts {
    std::atomic<uint64_t> pio_in{0}, pio_out{0}, mmio_read{0}, mmio_write{0}, hypercall{0}, halt{0}, other{0};
    void count(const hv::VcpuExit& exit);
    nlohmann::json to_json() const;
};

/// Hypercalls by number and event-channel operations by command (Xen public/xen.h
/// __HYPERVISOR_*, public/event_channel.h EVTCHNOP_*), counted on the vCPU threads (--xen).
class XenCallCounts {
public:
    static constexpr uint64_t kEventChannelOp = 32;   ///< __HYPERVISOR_event_channel_op
    void count(const hv::Hypercall& hc);
    nlohmann::json to_json() const;

private:
    std::array<std::atomic<uint64_t>, 64> m_hypercalls{};
    std::array<std::atomic<uint64_t>, 16> m_evtchn_ops{};
    std::atomic<uint64_t> m_other{0};
};

/// What a FlushMetrics record is built from: the VM's parts, owned by run_vm.
struct MetricsSources {
    const std::vector<std::unique_ptr<hv::Vcpu>>* vcpus = nullptr;
    const VcpuExitCounts* exits = nullptr;    ///< one per vCPU, same order
    const ExitCounters* dispatcher = nullptr;
    devices::virtio::MmioDevices* virtio = nullptr;
    const XenCallCounts* xen = nullptr;       ///< null without --xen
    XenIoDevices* xen_io = nullptr;           ///< the vbds and vifs (--xen), or null
};

/// The record's component objects ("vcpu", "block", "net", "xen", "xen_block", "xen_net", "bt",
/// "devices"); the caller
/// adds the timestamp and its own ("api_server", "vmm").
nlohmann::json collect_metrics(const MetricsSources& src);

}  // namespace popek::vmm
