#include "api/periodic_metrics.h"

#include <nlohmann/json.hpp>

#include "api/metrics_file.h"
#include "host/thread_confinement.h"

namespace popek::api {

PeriodicMetrics::PeriodicMetrics(std::string path, uint64_t interval_ms)
    : m_path(std::move(path)), m_interval_ms(interval_ms) {}

PeriodicMetrics::~PeriodicMetrics() { stopping(); }

void PeriodicMetrics::started(vmm::RunningVm& vm) {
    std::lock_guard lock(m_mutex);
    if (m_thread.joinable()) return;
    m_vm = &vm;
    m_thread = std::thread([this] {
        host::confine_this_thread(host::ThreadKind::Api);   // it writes files as the API's timer does
        loop();
    });
}

void PeriodicMetrics::stopping() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

uint64_t PeriodicMetrics::lines() const {
    std::lock_guard lock(m_mutex);
    return m_lines;
}

void PeriodicMetrics::loop() {
    std::unique_lock lock(m_mutex);
    while (!m_cv.wait_for(lock, std::chrono::milliseconds(m_interval_ms), [this] { return m_stop; })) write_line();
    write_line();   // the last figures, as the VM stops
    m_vm = nullptr;
}

void PeriodicMetrics::write_line() {
    if (!m_vm) return;
    nlohmann::json record{{"utc_timestamp_ms", unix_ms()}};
    record.update(m_vm->metrics());
    record["vmm"] = {{"state", m_stop ? "Stopped" : "Running"}};
    if (append_line(m_path, record.dump())) ++m_lines;
}

}  // namespace popek::api
