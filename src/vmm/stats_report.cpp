#include "vmm/stats_report.h"

#include <fmt/core.h>

namespace popek::vmm {

void print_stats(const std::vector<std::unique_ptr<hv::Vcpu>>& vcpus, const ExitCounters& c) {
    hv::VcpuStats total;
    fmt::print(stderr, "popek stats: {:>6} {:>16} {:>12} {:>12} {:>10}\n", "vcpu", "instructions", "privileged",
               "sensitive", "exits");
    for (const auto& v : vcpus) {
        hv::VcpuStats s = v->stats();
        fmt::print(stderr, "popek stats: {:>6} {:>16} {:>12} {:>12} {:>10}\n", v->index(), s.instructions,
                   s.privileged, s.sensitive, s.exits);
        total.instructions += s.instructions;
        total.privileged += s.privileged;
        total.sensitive += s.sensitive;
        total.exits += s.exits;
    }
    fmt::print(stderr, "popek stats: {:>6} {:>16} {:>12} {:>12} {:>10}\n", "total", total.instructions,
               total.privileged, total.sensitive, total.exits);
    fmt::print(stderr, "popek stats: device exits: pio {} mmio {} hypercalls {} unclaimed {}\n", c.pio.load(),
               c.mmio.load(), c.hypercalls.load(), c.unclaimed.load());
    for (const auto& v : vcpus) {
        const std::string report = v->engine_report();
        size_t at = 0;
        while (at < report.size()) {
            const size_t nl = report.find('\n', at);
            const size_t end = nl == std::string::npos ? report.size() : nl;
            fmt::print(stderr, "popek stats: bt vcpu {}: {}\n", v->index(), report.substr(at, end - at));
            at = end + 1;
        }
    }
    if (total.instructions == 0)
        fmt::print(stderr, "popek stats: (this engine does not count guest instructions)\n");
}

}  // namespace popek::vmm
