// cli::parse without running anything: defaults, the auto engine choice, and option errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "cli/cli.h"

using popek::cli::Parsed;
using popek::cli::parse;

TEST(CliParse, AutoAccelPicksKvmOnlyWhenItIsUsable) {
    Parsed p = parse({"run"});
    ASSERT_EQ(p.action, Parsed::Run) << p.message;
    bool kvm = ::access("/dev/kvm", R_OK | W_OK) == 0;
    EXPECT_EQ(p.options.accel, kvm ? popek::hv::Accel::Kvm : popek::hv::Accel::Interp);
    EXPECT_EQ(p.options.mem_mib, 256u);
    EXPECT_EQ(p.options.cpus, 1);
}

TEST(CliParse, BtCacheDefaultsTo32MiBAndIsSettable) {
    EXPECT_EQ(parse({"run"}).options.bt_cache_mib, 128u);
    Parsed p = parse({"run", "--accel", "bt", "--bt-cache", "8"});
    ASSERT_EQ(p.action, Parsed::Run) << p.message;
    EXPECT_EQ(p.options.bt_cache_mib, 8u);
}

TEST(CliParse, BtWarmIsOnUnlessTurnedOff) {
    EXPECT_TRUE(parse({"run"}).options.bt_warm);
    Parsed p = parse({"run", "--accel", "bt", "--cpus", "2", "--no-bt-warm"});
    ASSERT_EQ(p.action, Parsed::Run) << p.message;
    EXPECT_FALSE(p.options.bt_warm);
}

TEST(CliParse, ExplicitAccelWins) {
    EXPECT_EQ(parse({"run", "--accel", "interp"}).options.accel, popek::hv::Accel::Interp);
    EXPECT_EQ(parse({"run", "--accel", "kvm"}).options.accel, popek::hv::Accel::Kvm);
}

TEST(CliParse, BadValuesAreUsageErrors) {
    for (auto args : std::vector<std::vector<std::string>>{{"run", "--accel", "qemu"},
                                                           {"run", "--cpus", "0"},
                                                           {"run", "--mem", "1"},
                                                           {"run", "--mem", "lots"},
                                                           {"run", "--bt-cache", "0"},
                                                           {"run", "--bt-cache", "4096"},
                                                           {"run", "--bogus"},
                                                           {}}) {
        Parsed p = parse(args);
        EXPECT_EQ(p.action, Parsed::Exit);
        EXPECT_EQ(p.exit_status, 2);
        EXPECT_NE(p.message.find("popek:"), std::string::npos) << p.message;
    }
}

TEST(CliParse, NumbersSayWhetherTheyAreNotANumberOrOutOfRange) {
    // `--mem abc` was answered "Value abc not in range" (issue 19).
    for (auto [option, value] : std::vector<std::pair<std::string, std::string>>{
             {"--mem", "abc"}, {"--mem", "1.5"}, {"--mem", "-5"}, {"--mem", "64M"}, {"--cpus", "x"}, {"--bt-cache", ""}}) {
        Parsed p = parse({"run", option, value});
        EXPECT_EQ(p.exit_status, 2) << option << " " << value;
        EXPECT_NE(p.message.find("'" + value + "' is not a whole number"), std::string::npos) << p.message;
    }
    for (auto [option, value] : std::vector<std::pair<std::string, std::string>>{
             {"--mem", "1"}, {"--mem", "99999999999999999999"}, {"--cpus", "256"}, {"--bt-cache", "0"}}) {
        Parsed p = parse({"run", option, value});
        EXPECT_EQ(p.exit_status, 2) << option << " " << value;
        EXPECT_NE(p.message.find(value + " is out of range"), std::string::npos) << p.message;
    }
    EXPECT_EQ(parse({"run", "--mem", "16777216", "--cpus", "255"}).options.cpus, 255);
}

TEST(CliParse, ShareNeedsXenAndTakesOnlyRo) {
    Parsed p = parse({"run", "--xen", "--share", "/srv/files,ro"});
    ASSERT_EQ(p.action, Parsed::Run) << p.message;
    ASSERT_TRUE(p.options.share.has_value());
    EXPECT_EQ(p.options.share->path, "/srv/files");
    EXPECT_TRUE(p.options.share->read_only);
    p = parse({"run", "--xen", "--share", "/srv/files"});
    ASSERT_TRUE(p.options.share.has_value());
    EXPECT_FALSE(p.options.share->read_only);
    EXPECT_FALSE(parse({"run", "--xen"}).options.share.has_value());
    for (auto args : std::vector<std::vector<std::string>>{{"run", "--share", "/srv/files"},
                                                           {"run", "--xen", "--share", "/srv/files,rw"},
                                                           {"run", "--xen", "--share", ",ro"}}) {
        Parsed bad = parse(args);
        EXPECT_EQ(bad.action, Parsed::Exit);
        EXPECT_EQ(bad.exit_status, 2);
        EXPECT_NE(bad.message.find("--share"), std::string::npos) << bad.message;
    }
    EXPECT_NE(parse({"run", "--help"}).message.find("--share DIR[,ro]"), std::string::npos);
}

TEST(CliParse, DriverDomainAndTheBackendSubcommand) {
    Parsed p = parse({"run", "--xen", "--driver-domain", "--disk", "d.img"});
    ASSERT_EQ(p.action, Parsed::Run) << p.message;
    EXPECT_TRUE(p.options.driver_domain);
    Parsed no_xen = parse({"run", "--driver-domain"});
    EXPECT_EQ(no_xen.action, Parsed::Exit);
    EXPECT_EQ(no_xen.exit_status, 2);
    EXPECT_NE(no_xen.message.find("needs --xen"), std::string::npos);

    // Options that did nothing were accepted silently (issue 19): refused now.
    Parsed no_disk = parse({"run", "--xen", "--driver-domain"});
    EXPECT_EQ(no_disk.exit_status, 2);
    EXPECT_NE(no_disk.message.find("give at least one --disk"), std::string::npos) << no_disk.message;
    Parsed rng_xen = parse({"run", "--xen", "--rng"});
    EXPECT_EQ(rng_xen.exit_status, 2);
    EXPECT_NE(rng_xen.message.find("--rng is a virtio device"), std::string::npos) << rng_xen.message;

    Parsed b = parse({"backend", "--socket-fd", "3", "--disk-fd", "4", "--domid", "7", "--read-only"});
    ASSERT_EQ(b.action, Parsed::Backend) << b.message;
    EXPECT_EQ(b.backend.socket_fd, 3);
    EXPECT_EQ(b.backend.disk_fd, 4);
    EXPECT_EQ(b.backend.domid, 7);
    EXPECT_TRUE(b.backend.read_only);
    EXPECT_TRUE(b.backend.sandbox);
    EXPECT_FALSE(parse({"backend", "--socket-fd", "3", "--disk-fd", "4", "--no-sandbox"}).backend.sandbox);
    Parsed missing = parse({"backend", "--disk-fd", "4"});
    EXPECT_EQ(missing.action, Parsed::Exit);
    EXPECT_EQ(missing.exit_status, 2);
}

// The gdb stub's options (docs/debugging.md): a usage error (status 2) for bad endpoints,
// --gdb-wait alone and --accel kvm.
TEST(CliParse, GdbOptions) {
    Parsed ok = parse({"run", "--accel", "bt", "--gdb", "tcp:1234", "--gdb-wait"});
    EXPECT_EQ(ok.action, Parsed::Run);
    EXPECT_EQ(ok.options.gdb, "tcp:1234");
    EXPECT_TRUE(ok.options.gdb_wait);
    EXPECT_EQ(parse({"run", "--accel", "interp", "--gdb", "unix:/tmp/x.sock"}).action, Parsed::Run);
    for (const std::vector<std::string>& bad :
         {std::vector<std::string>{"run", "--accel", "interp", "--gdb", "tcp:0"},
          {"run", "--accel", "interp", "--gdb", "tcp:70000"},
          {"run", "--accel", "interp", "--gdb", "tcp:12x"},
          {"run", "--accel", "interp", "--gdb", "1234"},
          {"run", "--accel", "interp", "--gdb", "unix:"},
          {"run", "--accel", "interp", "--gdb-wait"},
          {"run", "--accel", "kvm", "--gdb", "tcp:1234"}}) {
        Parsed p = parse(bad);
        EXPECT_EQ(p.action, Parsed::Exit) << bad.back();
        EXPECT_EQ(p.exit_status, 2) << bad.back();
        EXPECT_NE(p.message.find("--gdb"), std::string::npos) << p.message;
    }
}

TEST(CliParse, DiskInspectTakesOneImage) {
    Parsed p = parse({"disk-inspect", "sealed.img"});
    ASSERT_EQ(p.action, Parsed::DiskInspect) << p.message;
    EXPECT_EQ(p.disk_image, "sealed.img");
    Parsed none = parse({"disk-inspect"});
    EXPECT_EQ(none.action, Parsed::Exit);
    EXPECT_EQ(none.exit_status, 2);
    EXPECT_NE(none.message.find("IMG is required"), std::string::npos) << none.message;
}

TEST(CliParse, ViridianIsOptInAndNeedsXenOnTheOwnEngine) {
    EXPECT_FALSE(parse({"run", "--xen", "--accel", "bt"}).options.viridian) << "off by default";
    Parsed p = parse({"run", "--xen", "--viridian", "--accel", "interp"});
    ASSERT_EQ(p.action, Parsed::Run) << p.message;
    EXPECT_TRUE(p.options.viridian);
    Parsed no_xen = parse({"run", "--viridian", "--accel", "bt"});
    EXPECT_EQ(no_xen.exit_status, 2);
    EXPECT_NE(no_xen.message.find("--viridian needs --xen"), std::string::npos) << no_xen.message;
    Parsed kvm = parse({"run", "--xen", "--viridian", "--accel", "kvm"});
    EXPECT_EQ(kvm.exit_status, 2);
    EXPECT_NE(kvm.message.find("not supported on --accel kvm"), std::string::npos) << kvm.message;
    EXPECT_NE(parse({"run", "--help"}).message.find("--viridian"), std::string::npos);
}

TEST(CliParse, DeviceEduAndIommuIntelAreOwnEngineOptions) {
    Parsed p = parse({"run", "--accel", "interp", "--device", "edu", "--iommu", "intel"});
    ASSERT_EQ(p.action, Parsed::Run) << p.message;
    EXPECT_EQ(p.options.pci_devices, std::vector<std::string>{"edu"});
    EXPECT_TRUE(p.options.iommu);
    Parsed none = parse({"run", "--accel", "bt"});
    EXPECT_TRUE(none.options.pci_devices.empty());
    EXPECT_FALSE(none.options.iommu);
    for (auto args : std::vector<std::vector<std::string>>{{"run", "--accel", "interp", "--device", "e1000"},
                                                           {"run", "--accel", "interp", "--iommu", "amd"},
                                                           {"run", "--accel", "kvm", "--device", "edu"},
                                                           {"run", "--accel", "kvm", "--iommu", "intel"},
                                                           {"run", "--accel", "interp", "--xen", "--iommu", "intel"},
                                                           {"run", "--accel", "interp", "--record", "/tmp/x", "--device", "edu"}}) {
        Parsed bad = parse(args);
        EXPECT_EQ(bad.action, Parsed::Exit) << args.back();
        EXPECT_EQ(bad.exit_status, 2) << args.back();
        EXPECT_EQ(std::count(bad.message.begin(), bad.message.end(), '\n'), 1) << "one line: " << bad.message;
    }
}
