#include "api/api_main.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/api_controller.h"
#include "api/http_api_server.h"
#include "host/thread_confinement.h"

namespace popek::api {
namespace {

/// Firecracker writes its metrics every 60 s besides on FlushMetrics (METRICS_WRITE_INTERVAL).
constexpr auto kMetricsInterval = std::chrono::seconds(60);

/// The thread behind the periodic flush; an API-kind thread (docs/seccomp.md).
class MetricsTimer {
public:
    explicit MetricsTimer(ApiController& controller)
        : m_thread([this, &controller] {
              host::confine_this_thread(host::ThreadKind::Api);
              std::unique_lock lock(m_mutex);
              while (!m_cv.wait_for(lock, kMetricsInterval, [this] { return m_stop; })) {
                  lock.unlock();
                  controller.periodic_flush();
                  lock.lock();
              }
          }) {}
    ~MetricsTimer() {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_cv.notify_all();
        m_thread.join();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stop = false;
    std::thread m_thread;   // last: starts once the members it uses exist
};

}  // namespace

Result<vmm::RunOutcome> run_with_api(const std::string& socket_path, const vmm::VmOptions& options, bool vm_described) {
    ApiController controller(options, vm_described);
    auto server = TRY(HttpApiServer::start(socket_path, [&controller](std::string_view method, std::string_view path,
                                                                      std::string_view body) {
        return controller.handle(method, path, body);
    }));
    MetricsTimer metrics_timer(controller);
    for (;;) {
        // The VM the command line described, or the one InstanceStart asks for.
        vmm::VmOptions boot = controller.wait_for_start();
        controller.log(fmt::format("starting the VM ({} vCPU, {} MiB, kernel {})", boot.cpus, boot.mem_mib,
                                   boot.kernel_path.empty() ? "built-in demo" : boot.kernel_path));
        auto outcome = vmm::run_vm(boot, &controller);
        if (outcome) return outcome;
        // Not built: InstanceStart (or a request waiting for the VM) reports why. A VM the API
        // started may be configured again and started; one the command line described ends popek.
        controller.start_failed(outcome.error());
        if (vm_described) return outcome;
    }
}

}  // namespace popek::api
