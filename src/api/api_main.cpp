#include "api/api_main.h"

#include "api/api_controller.h"
#include "api/http_api_server.h"

namespace popek::api {

Result<vmm::RunOutcome> run_with_api(const std::string& socket_path, const vmm::VmOptions& options, bool vm_described) {
    ApiController controller(options, vm_described);
    auto server = TRY(HttpApiServer::start(socket_path, [&controller](std::string_view method, std::string_view path,
                                                                      std::string_view body) {
        return controller.handle(method, path, body);
    }));
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
