#pragma once
/// Metrics for a VM started without the API socket (docs/metrics.md): when the config file's
/// `metrics` section names a `metrics_path`, a thread appends one Firecracker-style line every
/// 60 s while the VM runs (Firecracker's METRICS_WRITE_INTERVAL) and one more when it stops (as
/// Firecracker flushes its metrics on exit). The same record as FlushMetrics, less `api_server`.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/machine.h"

namespace popek::api {

class PeriodicMetrics final : public vmm::VmObserver {
public:
    /// `interval_ms`: 60000 (Firecracker's); tests may pass less.
    explicit PeriodicMetrics(std::string path, uint64_t interval_ms = 60'000);
    ~PeriodicMetrics() override;
    PeriodicMetrics(const PeriodicMetrics&) = delete;
    PeriodicMetrics& operator=(const PeriodicMetrics&) = delete;

    void started(vmm::RunningVm& vm) override;
    /// Writes the last line and ends the thread (on the metrics thread, an API-kind thread).
    void stopping() override;
    uint64_t lines() const;

private:
    void loop();
    void write_line();

    const std::string m_path;
    const uint64_t m_interval_ms;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    vmm::RunningVm* m_vm = nullptr;
    bool m_stop = false;
    uint64_t m_lines = 0;
    std::thread m_thread;
};

}  // namespace popek::api
