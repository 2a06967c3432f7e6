// ApiController (src/api/api_controller.cpp): Firecracker's API rules without a socket: status
// codes, fault messages, the pre-boot / running split, InstanceStart's hand-over to the main
// thread, pause / resume / Ctrl+Alt+Del reaching the running VM, logger and metrics files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/api_controller.h"

using popek::api::ApiController;
using popek::api::ApiResponse;
using nlohmann::json;

namespace {

struct FakeVm final : popek::vmm::RunningVm {
    int pauses = 0, resumes = 0, ctrl_alt_dels = 0;
    bool fail_pause = false;
    popek::Result<void> pause() override {
        if (fail_pause) return popek::fail("engine says no");
        ++pauses;
        return {};
    }
    popek::Result<void> resume() override {
        ++resumes;
        return {};
    }
    popek::Result<void> send_ctrl_alt_del() override {
        ++ctrl_alt_dels;
        return {};
    }
};

std::string fault_of(const ApiResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("fault_message") ? j["fault_message"].get<std::string>() : "<no fault_message>";
}

popek::vmm::VmOptions cli_options() {
    popek::vmm::VmOptions o;
    o.accel = popek::hv::Accel::Interp;
    o.stats = true;
    return o;
}

const char* kBoot = R"({"kernel_image_path": "/k/vmlinux", "boot_args": "console=ttyS0"})";

std::string temp_path(const char* name) {
    return ::testing::TempDir() + "/popek-api-" + std::to_string(::getpid()) + "-" + name;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace

TEST(ApiController, InstanceInfoAndMachineConfigBeforeBoot) {
    ApiController api(cli_options(), false);
    ApiResponse info = api.handle("GET", "/", "");
    ASSERT_EQ(info.status, 200);
    auto j = json::parse(info.body);
    EXPECT_EQ(j["state"], "Not started");
    EXPECT_EQ(j["id"], "anonymous-instance");
    ApiResponse mc = api.handle("GET", "/machine-config", "");
    ASSERT_EQ(mc.status, 200);
    EXPECT_EQ(json::parse(mc.body)["mem_size_mib"], 128);   // Firecracker's default
    EXPECT_EQ(api.handle("PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 256})").status, 204);
    auto after = json::parse(api.handle("GET", "/machine-config", "").body);
    EXPECT_EQ(after["vcpu_count"], 2);
    EXPECT_EQ(after["mem_size_mib"], 256);
}

TEST(ApiController, BadRequestsAre4xxWithAFaultMessageAndChangeNothing) {
    ApiController api(cli_options(), false);
    ASSERT_EQ(api.handle("PUT", "/machine-config", R"({"vcpu_count": 3, "mem_size_mib": 64})").status, 204);
    struct Case {
        const char* method;
        const char* path;
        std::string body;
        int status;
        const char* fault;
    } cases[] = {
        {"PUT", "/machine-config", R"({"vcpu_count": "2", "mem_size_mib": 64})", 400, "must be a whole number"},
        {"PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 64, "foo": 1})", 400, "unknown field `foo`"},
        {"PUT", "/machine-config", "{\"vcpu_count\": ", 400, "deserializing the json body"},
        {"PUT", "/machine-config", "", 400, "body is empty"},
        {"PUT", "/machine-config", std::string(60000, ' '), 413, "more than"},
        {"PUT", "/boot-source", R"({"boot_args": "x"})", 400, "missing field `kernel_image_path`"},
        {"PUT", "/drives/rootfs", R"({"drive_id": "other", "path_on_host": "r", "is_root_device": true})", 400,
         "does not match"},
        {"PUT", "/network-interfaces/eth0", R"({"iface_id": "eth0", "host_dev_name": "t", "guest_mac": "zz"})", 400,
         "not a MAC"},
        {"PUT", "/drives/", R"({})", 400, "Invalid request method and/or path"},
        {"PUT", "/drives/a/b", R"({})", 400, "Invalid request method and/or path"},
        {"GET", "/nope", "", 400, "Invalid request method and/or path: GET /nope"},
        {"DELETE", "/machine-config", "", 400, "Invalid request method"},
        {"PUT", "/snapshot/create", R"({})", 400, "missing field `snapshot_path`"},
        {"PUT", "/snapshot/create", R"({"snapshot_path": "s", "mem_file_path": "m"})", 400, "before starting"},
        {"PUT", "/snapshot/create", R"({"snapshot_path": "s", "mem_file_path": "m", "snapshot_type": "Diff"})", 400,
         "Diff snapshots are not supported"},
        {"PUT", "/snapshot/create", R"({"snapshot_path": "s", "mem_file_path": "m", "x": 1})", 400, "unknown field `x`"},
        {"PUT", "/snapshot/load", R"({"snapshot_path": "s"})", 400, "missing field `mem_backend`"},
        {"PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m", "mem_backend": {"backend_type": "File", "backend_path": "m"}})",
         400, "mutually exclusive"},
        {"PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_backend": {"backend_type": "Uffd", "backend_path": "u"}})", 400,
         "`Uffd` memory backend is not supported"},
        {"PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m", "resume_vm": "yes"})", 400,
         "`resume_vm` must be a boolean"},
        {"PUT", "/actions", R"({"action_type": "Reboot"})", 400, "unknown variant `Reboot`"},
        {"PUT", "/actions", R"({"action_type": 1})", 400, "must be a string"},
        {"PUT", "/actions", R"({"action_type": "InstanceStart", "x": 1})", 400, "exactly the field"},
        {"PUT", "/actions", R"({"action_type": "InstanceStart"})", 400, "not configured"},   // no boot-source yet
        {"PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})", 400, "before starting"},
        {"PUT", "/actions", R"({"action_type": "FlushMetrics"})", 400, "metrics system is not initialized"},
        {"PATCH", "/vm", R"({"state": "Paused"})", 400, "before starting"},
        {"PATCH", "/vm", R"({"state": "Sleeping"})", 400, "unknown variant `Sleeping`"},
        {"PATCH", "/vm", R"({"state": "Paused", "now": true})", 400, "exactly the field"},
        {"PUT", "/logger", R"({"log_path": "/nonexistent-dir/x.log"})", 400, "cannot open"},
        {"PUT", "/metrics", R"({"metrics_path": 5})", 400, "must be a string"},
    };
    for (const Case& c : cases) {
        ApiResponse r = api.handle(c.method, c.path, c.body);
        EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 80);
        EXPECT_NE(fault_of(r).find(c.fault), std::string::npos) << c.path << ": " << fault_of(r);
    }
    EXPECT_EQ(json::parse(api.handle("GET", "/machine-config", "").body)["vcpu_count"], 3);
}

TEST(ApiController, InstanceStartHandsTheVmToTheMainThreadThenPreBootCallsAre400) {
    ApiController api(cli_options(), false);
    ASSERT_EQ(api.handle("PUT", "/boot-source", kBoot).status, 204);
    ASSERT_EQ(api.handle("PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 64})").status, 204);
    ASSERT_EQ(api.handle("PUT", "/drives/rootfs",
                         R"({"drive_id": "rootfs", "path_on_host": "/r.ext4", "is_root_device": true, "is_read_only": true})")
                  .status, 204);
    FakeVm vm;
    popek::vmm::VmOptions booted;
    std::thread main_thread([&] {
        booted = api.wait_for_start();
        api.started(vm);
    });
    ApiResponse start = api.handle("PUT", "/actions", R"({"action_type": "InstanceStart"})");
    main_thread.join();
    EXPECT_EQ(start.status, 204) << start.body;
    EXPECT_EQ(booted.kernel_path, "/k/vmlinux");
    EXPECT_EQ(booted.cmdline, "console=ttyS0 root=/dev/vda ro");
    EXPECT_EQ(booted.cpus, 2);
    EXPECT_EQ(booted.accel, popek::hv::Accel::Interp);   // the command line's --accel
    EXPECT_TRUE(booted.stats);                           // and its --stats
    EXPECT_EQ(json::parse(api.handle("GET", "/", "").body)["state"], "Running");

    for (auto [path, body] : {std::pair{"/boot-source", kBoot},
                              std::pair{"/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 64})"},
                              std::pair{"/actions", R"({"action_type": "InstanceStart"})"}}) {
        ApiResponse r = api.handle("PUT", path, body);
        EXPECT_EQ(r.status, 400) << path;
        EXPECT_NE(fault_of(r).find("not supported after starting"), std::string::npos) << path;
    }
    EXPECT_EQ(api.handle("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    EXPECT_EQ(vm.pauses, 1);
    EXPECT_EQ(json::parse(api.handle("GET", "/", "").body)["state"], "Paused");
    EXPECT_EQ(api.handle("PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
    EXPECT_EQ(vm.resumes, 1);
    EXPECT_EQ(api.handle("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})").status, 204);
    EXPECT_EQ(vm.ctrl_alt_dels, 1);
    vm.fail_pause = true;
    ApiResponse refused = api.handle("PATCH", "/vm", R"({"state": "Paused"})");
    EXPECT_EQ(refused.status, 400);
    EXPECT_NE(fault_of(refused).find("engine says no"), std::string::npos);
    EXPECT_EQ(json::parse(api.handle("GET", "/", "").body)["state"], "Running");

    api.stopping();
    EXPECT_EQ(api.handle("PATCH", "/vm", R"({"state": "Resumed"})").status, 400);   // no VM to act on
}

TEST(ApiController, AFailedStartIsReportedAndTheApiTakesConfigurationAgain) {
    ApiController api(cli_options(), false);
    ASSERT_EQ(api.handle("PUT", "/boot-source", kBoot).status, 204);
    std::thread main_thread([&] {
        (void)api.wait_for_start();
        api.start_failed(popek::Error{"cannot read kernel '/k/vmlinux'"});
    });
    ApiResponse start = api.handle("PUT", "/actions", R"({"action_type": "InstanceStart"})");
    main_thread.join();
    EXPECT_EQ(start.status, 400);
    EXPECT_NE(fault_of(start).find("cannot read kernel"), std::string::npos);
    EXPECT_EQ(api.handle("PUT", "/boot-source", R"({"kernel_image_path": "/k/other"})").status, 204);
}

TEST(ApiController, DescribedOnTheCommandLineMeansStartedAtOnce) {
    popek::vmm::VmOptions o = cli_options();
    o.kernel_path = "/k/vmlinux";
    ApiController api(o, true);
    EXPECT_EQ(api.wait_for_start().kernel_path, "/k/vmlinux");   // does not block
    EXPECT_EQ(api.handle("PUT", "/boot-source", kBoot).status, 400);
}

TEST(ApiController, CallsOnTheVmWaitWhileADescribedVmIsBeingBuilt) {
    popek::vmm::VmOptions o = cli_options();
    o.kernel_path = "/k/vmlinux";
    ApiController api(o, true);
    FakeVm vm;
    ApiResponse paused;
    // Sent while the main thread still builds the VM: answered once it runs, not refused.
    std::thread client([&] { paused = api.handle("PATCH", "/vm", R"({"state": "Paused"})"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    api.started(vm);
    client.join();
    EXPECT_EQ(paused.status, 204) << paused.body;
    EXPECT_EQ(vm.pauses, 1);

    ApiController failing(o, true);
    ApiResponse refused;
    std::thread waiter([&] { refused = failing.handle("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    failing.start_failed(popek::Error{"no such kernel"});
    waiter.join();
    EXPECT_EQ(refused.status, 400);
}

TEST(ApiController, LoggerAndMetricsFiles) {
    const std::string log = temp_path("fc.log"), metrics = temp_path("metrics.json");
    ::unlink(log.c_str());
    ::unlink(metrics.c_str());
    ApiController api(cli_options(), false);
    EXPECT_EQ(api.handle("PUT", "/logger", json{{"log_path", log}, {"level", "Info"}}.dump()).status, 204);
    EXPECT_NE(read_file(log).find("logger configured"), std::string::npos);
    EXPECT_EQ(api.handle("PUT", "/metrics", json{{"metrics_path", metrics}}.dump()).status, 204);
    api.handle("GET", "/nope", "");   // one fault, counted
    EXPECT_EQ(api.handle("PUT", "/actions", R"({"action_type": "FlushMetrics"})").status, 204);
    auto record = json::parse(read_file(metrics));
    EXPECT_GT(record["utc_timestamp_ms"].get<uint64_t>(), 0u);
    EXPECT_EQ(record["api_server"]["faults"], 1);
    EXPECT_EQ(record["vmm"]["state"], "Not started");
    ::unlink(log.c_str());
    ::unlink(metrics.c_str());
}
