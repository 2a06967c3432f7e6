// `popek run --restore SNAP --restore-mem MEM --share DIR[,ro]` (docs/snapshot.md "What is
// supported"): the restored popekfs device serves the restoring run's DIR; a --share for a snapshot
// without one, or of the other read-only-ness, is refused before anything is built.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/cli.h"
#include "snapshot/config_record.h"
#include "vmm/vm_snapshot.h"

using namespace popek;
namespace fs = std::filesystem;

namespace {

struct RestoreShare : ::testing::Test {
    fs::path root;
    void SetUp() override {
        char tmpl[] = "/tmp/popek-restore-share-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root = tmpl;
    }
    void TearDown() override { fs::remove_all(root); }

    /// A snapshot file whose CONF describes a 2 MiB --xen VM (with `share`), and its memory file.
    vmm::VmOptions files(std::optional<vmm::ShareOption> share) {
        vmm::VmOptions described;
        described.xen = true;
        described.mem_mib = 2;
        described.share = std::move(share);
        snapshot::Image image;
        image.header.popek_version = POPEK_VERSION;
        image.header.ram_bytes = 2 << 20;
        image.header.vcpus = 1;
        snapshot::Writer conf;
        snapshot::encode_config(conf, described);
        image.sections.push_back({snapshot::tags::kConfig, 0, conf.buffer()});
        EXPECT_TRUE(snapshot::write_file((root / "vm.snap").string(), snapshot::encode(image)));
        fs::resize_file((std::ofstream(root / "vm.mem"), root / "vm.mem"), 2 << 20);
        vmm::VmOptions restoring;
        restoring.accel = hv::Accel::Bt;
        restoring.restore_path = (root / "vm.snap").string();
        restoring.restore_mem_path = (root / "vm.mem").string();
        return restoring;
    }
};

TEST_F(RestoreShare, TheRestoringRunsDirectoryIsServed) {
    vmm::VmOptions o = files(vmm::ShareOption{"/old/share", false});
    auto kept = vmm::RestorePlan::open(o);
    ASSERT_TRUE(kept) << kept.error().message;
    ASSERT_TRUE(kept->options().share);
    EXPECT_EQ(kept->options().share->path, "/old/share");   // none given: the snapshot's
    o.share = vmm::ShareOption{"/new/share", false};
    auto moved = vmm::RestorePlan::open(o);
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_EQ(moved->options().share->path, "/new/share");
    EXPECT_FALSE(moved->options().share->read_only);
}

TEST_F(RestoreShare, AShareTheSnapshotDoesNotHaveOrOfTheOtherModeIsRefused) {
    vmm::VmOptions o = files(std::nullopt);
    o.share = vmm::ShareOption{"/new/share", false};
    auto none = vmm::RestorePlan::open(o);
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message.find("has no --share"), std::string::npos) << none.error().message;
    o = files(vmm::ShareOption{"/old/share", false});
    o.share = vmm::ShareOption{"/new/share", true};
    auto ro = vmm::RestorePlan::open(o);
    ASSERT_FALSE(ro);
    EXPECT_NE(ro.error().message.find("was writable"), std::string::npos) << ro.error().message;
}

TEST(RestoreShareCli, ShareIsTakenWithRestore) {
    auto p = cli::parse({"run", "--restore", "vm.snap", "--restore-mem", "vm.mem", "--share", "/srv/x,ro"});
    ASSERT_EQ(p.action, cli::Parsed::Run) << p.message;
    ASSERT_TRUE(p.options.share);
    EXPECT_EQ(p.options.share->path, "/srv/x");
    EXPECT_TRUE(p.options.share->read_only);
    // Still refused: what describes the VM.
    auto disk = cli::parse({"run", "--restore", "vm.snap", "--restore-mem", "vm.mem", "--disk", "d.img"});
    EXPECT_EQ(disk.action, cli::Parsed::Exit);
}

}  // namespace
