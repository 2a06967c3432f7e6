// PUT /snapshot/create and /snapshot/load in the API controller (src/api/api_snapshot.cpp): the
// lifecycle rules (create only on a paused VM, load only before start, KVM refused) and the
// hand-over of a load to the main thread, without a socket or a VM.
#include <gtest/gtest.h>

#include <thread>

#include "api/api_controller.h"

using popek::api::ApiController;
using popek::api::ApiResponse;
using json = nlohmann::json;

namespace {

struct SnapshotVm final : popek::vmm::RunningVm {
    int pauses = 0;
    std::string snap, mem;
    popek::Result<void> pause() override {
        ++pauses;
        return {};
    }
    popek::Result<void> resume() override { return {}; }
    popek::Result<void> send_ctrl_alt_del() override { return {}; }
    popek::Result<uint64_t> create_snapshot(const std::string& s, const std::string& m) override {
        snap = s;
        mem = m;
        return 4096;
    }
};

std::string fault_of(const ApiResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("fault_message") ? j["fault_message"].get<std::string>() : "<none>";
}

popek::vmm::VmOptions engine_cli(popek::hv::Accel accel = popek::hv::Accel::Bt) {
    popek::vmm::VmOptions o;
    o.accel = accel;
    o.kernel_path = "/k/vmlinux";
    return o;
}

constexpr const char* kCreate = R"({"snapshot_type": "Full", "snapshot_path": "/s/vm.snap", "mem_file_path": "/s/vm.mem"})";

}  // namespace

TEST(ApiSnapshot, CreateOnlyOnAPausedVm) {
    ApiController api(engine_cli(), true);
    SnapshotVm vm;
    api.started(vm);
    ApiResponse running = api.handle("PUT", "/snapshot/create", kCreate);
    EXPECT_EQ(running.status, 400);
    EXPECT_NE(fault_of(running).find("not paused"), std::string::npos) << fault_of(running);
    EXPECT_TRUE(vm.snap.empty());
    ASSERT_EQ(api.handle("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    ApiResponse paused = api.handle("PUT", "/snapshot/create", kCreate);
    EXPECT_EQ(paused.status, 204) << paused.body;
    EXPECT_EQ(vm.snap, "/s/vm.snap");
    EXPECT_EQ(vm.mem, "/s/vm.mem");
    api.stopping();
}

TEST(ApiSnapshot, KvmIsNotSupportedYetXenShareAndDriverDomainAre) {
    ApiController kvm(engine_cli(popek::hv::Accel::Kvm), true);
    SnapshotVm vm;
    kvm.started(vm);
    ASSERT_EQ(kvm.handle("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    ApiResponse r = kvm.handle("PUT", "/snapshot/create", kCreate);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(fault_of(r).find("not supported yet on --accel kvm"), std::string::npos) << fault_of(r);
    EXPECT_TRUE(vm.snap.empty());
    kvm.stopping();

    // A --xen VM is snapshotted (docs/snapshot.md "Xen guests"), with --share and --driver-domain too.
    auto xen_cli = engine_cli();
    xen_cli.xen = true;
    ApiController xen(xen_cli, true);
    SnapshotVm xvm;
    xen.started(xvm);
    ASSERT_EQ(xen.handle("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
    r = xen.handle("PUT", "/snapshot/create", kCreate);
    EXPECT_EQ(r.status, 204) << fault_of(r);
    EXPECT_FALSE(xvm.snap.empty());
    xen.stopping();
    for (const char* what : {"--driver-domain", "--share"}) {
        auto cli = xen_cli;
        if (std::string(what) == "--share") cli.share = popek::vmm::ShareOption{"/tmp", false};
        else cli.driver_domain = true;
        ApiController taken(cli, true);
        SnapshotVm tvm;
        taken.started(tvm);
        ASSERT_EQ(taken.handle("PATCH", "/vm", R"({"state": "Paused"})").status, 204);
        r = taken.handle("PUT", "/snapshot/create", kCreate);
        EXPECT_EQ(r.status, 204) << what << ": " << fault_of(r);
        EXPECT_FALSE(tvm.snap.empty()) << what;
        taken.stopping();
    }

    ApiController kvm_load(engine_cli(popek::hv::Accel::Kvm), false);
    r = kvm_load.handle("PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(fault_of(r).find("not supported yet on --accel kvm"), std::string::npos) << fault_of(r);
}

TEST(ApiSnapshot, LoadHandsTheFilesToTheMainThreadAndStaysPausedWithoutResume) {
    ApiController api(engine_cli(), false);
    SnapshotVm vm;
    popek::vmm::VmOptions booted;
    std::thread main_thread([&] {
        booted = api.wait_for_start();
        api.started(vm);
    });
    ApiResponse r = api.handle("PUT", "/snapshot/load",
                               R"({"snapshot_path": "/s/vm.snap", "mem_backend": {"backend_type": "File", "backend_path": "/s/vm.mem"}})");
    main_thread.join();
    EXPECT_EQ(r.status, 204) << r.body;
    EXPECT_EQ(booted.restore_path, "/s/vm.snap");
    EXPECT_EQ(booted.restore_mem_path, "/s/vm.mem");
    EXPECT_EQ(booted.accel, popek::hv::Accel::Bt);
    EXPECT_EQ(vm.pauses, 1);   // resume_vm defaults to false: loaded paused, as Firecracker does
    EXPECT_EQ(json::parse(api.handle("GET", "/", "").body)["state"], "Paused");
    ApiResponse again = api.handle("PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m"})");
    EXPECT_EQ(again.status, 400);
    EXPECT_NE(fault_of(again).find("not supported after starting"), std::string::npos);
    api.stopping();
}

TEST(ApiSnapshot, AFailedLoadLeavesTheApiReadyForAnother) {
    ApiController api(engine_cli(), false);
    std::thread main_thread([&] {
        (void)api.wait_for_start();
        api.start_failed(popek::Error{"the snapshot is corrupted or truncated (CRC-32 mismatch)"});
    });
    ApiResponse r = api.handle("PUT", "/snapshot/load", R"({"snapshot_path": "s", "mem_file_path": "m", "resume_vm": true})");
    main_thread.join();
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(fault_of(r).find("CRC-32 mismatch"), std::string::npos) << fault_of(r);
    EXPECT_EQ(json::parse(api.handle("GET", "/", "").body)["state"], "Not started");
}
