// Firecracker's JSON VM description (src/vmm/fc_config.cpp) and its mapping onto VmOptions
// (src/cli/fc_options.cpp): every error case names what is wrong, and Firecracker's own example
// config (nulls included) is accepted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "cli/cli.h"
#include "cli/fc_options.h"
#include "vmm/fc_config.h"

using namespace popek::vmm::fc;
using nlohmann::json;

namespace {

/// The error message of parsing `text` as a config file ("" when it parsed).
std::string config_error(const std::string& text) {
    auto c = parse_config(text);
    return c ? std::string() : c.error().message;
}

const char* kMinimal = R"({"boot-source": {"kernel_image_path": "vmlinux"}})";

}  // namespace

TEST(FcConfig, FirecrackerExampleConfigIsAccepted) {
    // The shape of Firecracker's tests/framework/vm_config.json: optional sections are null.
    auto c = parse_config(R"({
      "boot-source": {"kernel_image_path": "vmlinux.bin", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off",
                      "initrd_path": null},
      "drives": [{"drive_id": "rootfs", "path_on_host": "bionic.rootfs.ext4", "is_root_device": true,
                  "is_read_only": false}],
      "machine-config": {"vcpu_count": 2, "mem_size_mib": 1024, "smt": false, "track_dirty_pages": false,
                         "huge_pages": "None"},
      "cpu-config": null, "balloon": null,
      "network-interfaces": [{"iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"}],
      "vsock": null, "logger": null, "metrics": null, "mmds-config": null, "entropy": null})");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->boot_source->kernel_image_path, "vmlinux.bin");
    EXPECT_EQ(c->boot_source->initrd_path, "");
    EXPECT_EQ(c->machine.vcpu_count, 2u);
    EXPECT_EQ(c->machine.mem_size_mib, 1024u);
    ASSERT_EQ(c->drives.size(), 1u);
    EXPECT_TRUE(c->drives[0].is_root_device);
    ASSERT_EQ(c->nets.size(), 1u);
    EXPECT_EQ(format_mac(*c->nets[0].guest_mac), "06:00:ac:10:00:02");
    EXPECT_FALSE(c->entropy);
}

TEST(FcConfig, DefaultsAreFirecrackers) {
    auto c = parse_config(kMinimal);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->machine.vcpu_count, 1u);
    EXPECT_EQ(c->machine.mem_size_mib, 128u);
    EXPECT_EQ(c->popek.accel, "auto");
}

TEST(FcConfig, MalformedJsonSaysWhere) {
    EXPECT_NE(config_error(R"({"boot-source": {)").find("malformed JSON"), std::string::npos);
    EXPECT_NE(config_error("").find("malformed JSON"), std::string::npos);
    EXPECT_NE(config_error(R"({"a": 1,})").find("line 1"), std::string::npos);
    // A number out of double's range is nlohmann's out_of_range, not a parse_error (found by fuzz_fc_config).
    EXPECT_NE(config_error(R"({"a": 1e999})").find("number overflow"), std::string::npos);
}

TEST(FcConfig, DeepNestingAndOversizeAreRefusedBeforeBuilding) {
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_NE(config_error(deep).find("nested deeper"), std::string::npos);
    EXPECT_FALSE(parse_json(std::string(kMaxBodyBytes + 1, ' ')));
    EXPECT_TRUE(parse_json(R"({"a": [[[1]]]})"));
}

TEST(FcConfig, TopLevelMustBeAnObjectWithKnownKeys) {
    EXPECT_NE(config_error("[]").find("expected an object, got array"), std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": "k"}, "bogus": 1})").find("unknown field `bogus`"),
              std::string::npos);
    for (const char* unsupported : {"balloon", "vsock", "mmds-config", "cpu-config"}) {
        std::string text = std::string(R"({"boot-source": {"kernel_image_path": "k"}, ")") + unsupported + R"(": {}})";
        EXPECT_NE(config_error(text).find("not supported by popek"), std::string::npos) << unsupported;
    }
}

TEST(FcConfig, MissingKernelIsAnError) {
    EXPECT_NE(config_error("{}").find("missing `boot-source`"), std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": {"boot_args": "x"}})").find("missing field `kernel_image_path`"),
              std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": ""}})").find("empty"), std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": null})").find("missing `boot-source`"), std::string::npos);
}

TEST(FcConfig, WrongTypesNameTheField) {
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": 7}})").find("`kernel_image_path` must be a string"),
              std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": "k", "boot_args": []}})").find("`boot_args`"),
              std::string::npos);
    auto machine = [](const std::string& body) {
        return config_error(std::string(R"({"boot-source": {"kernel_image_path": "k"}, "machine-config": )") + body + "}");
    };
    EXPECT_NE(machine(R"({"vcpu_count": "2", "mem_size_mib": 64})").find("`vcpu_count` must be a whole number"),
              std::string::npos);
    EXPECT_NE(machine(R"({"vcpu_count": 1.5, "mem_size_mib": 64})").find("must be a whole number"), std::string::npos);
    EXPECT_NE(machine(R"({"vcpu_count": -1, "mem_size_mib": 64})").find("must be a whole number"), std::string::npos);
    EXPECT_NE(machine(R"({"vcpu_count": 1, "mem_size_mib": 64, "smt": "no"})").find("`smt` must be true or false"),
              std::string::npos);
    EXPECT_NE(machine("[1]").find("expected an object, got array"), std::string::npos);
}

TEST(FcConfig, MachineConfigRangesAndUnsupportedValues) {
    auto m = [](const std::string& body) {
        auto r = parse_machine_config(json::parse(body));
        return r ? std::string() : r.error().message;
    };
    EXPECT_EQ(m(R"({"vcpu_count": 2, "mem_size_mib": 64, "track_dirty_pages": true})"), "");
    EXPECT_NE(m(R"({"vcpu_count": 0, "mem_size_mib": 64})").find("out of range"), std::string::npos);
    EXPECT_NE(m(R"({"vcpu_count": 256, "mem_size_mib": 64})").find("out of range"), std::string::npos);
    EXPECT_NE(m(R"({"vcpu_count": 1, "mem_size_mib": 1})").find("out of range"), std::string::npos);
    EXPECT_NE(m(R"({"mem_size_mib": 64})").find("missing field `vcpu_count`"), std::string::npos);
    EXPECT_NE(m(R"({"vcpu_count": 1})").find("missing field `mem_size_mib`"), std::string::npos);
    EXPECT_NE(m(R"({"vcpu_count": 2, "mem_size_mib": 64, "smt": true})").find("`smt` true is not supported"),
              std::string::npos);
    EXPECT_NE(m(R"({"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2"})").find("not supported"), std::string::npos);
    EXPECT_NE(m(R"({"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "2M"})").find("not supported"), std::string::npos);
    EXPECT_NE(m(R"({"vcpu_count": 1, "mem_size_mib": 64, "vcpus": 1})").find("unknown field `vcpus`"), std::string::npos);
}

TEST(FcConfig, DrivesRootFirstOneRootNoDuplicates) {
    auto c = parse_config(R"({"boot-source": {"kernel_image_path": "k"}, "drives": [
        {"drive_id": "data", "path_on_host": "d.img", "is_root_device": false},
        {"drive_id": "rootfs", "path_on_host": "r.img", "is_root_device": true, "is_read_only": true}]})");
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_EQ(c->drives.size(), 2u);
    EXPECT_EQ(c->drives[0].drive_id, "rootfs");
    EXPECT_TRUE(c->drives[0].is_read_only);
    auto drives = [](const std::string& list) {
        return config_error(std::string(R"({"boot-source": {"kernel_image_path": "k"}, "drives": )") + list + "}");
    };
    EXPECT_NE(drives(R"([{"drive_id": "a", "path_on_host": "a", "is_root_device": true},
                         {"drive_id": "b", "path_on_host": "b", "is_root_device": true}])").find("root block device already"),
              std::string::npos);
    EXPECT_NE(drives(R"([{"drive_id": "a", "path_on_host": "a", "is_root_device": false},
                         {"drive_id": "a", "path_on_host": "b", "is_root_device": false}])").find("appears twice"),
              std::string::npos);
    EXPECT_NE(drives(R"([{"drive_id": "a", "path_on_host": "a"}])").find("missing field `is_root_device`"),
              std::string::npos);
    EXPECT_NE(drives(R"([{"drive_id": "a", "is_root_device": false}])").find("missing field `path_on_host`"),
              std::string::npos);
    EXPECT_NE(drives(R"([{"drive_id": "a", "path_on_host": "a", "is_root_device": false, "partuuid": "x"}])")
                  .find("unknown field `partuuid`"), std::string::npos);
    EXPECT_NE(drives(R"({"drive_id": "a"})").find("`drives` must be an array"), std::string::npos);
}

TEST(FcConfig, PutDriveReplacesTheSameId) {
    Config c;
    ASSERT_TRUE(put_drive(c, Drive{"rootfs", "a.img", true, false}));
    ASSERT_TRUE(put_drive(c, Drive{"rootfs", "b.img", true, true}));   // same id: replaced, not a second root
    ASSERT_EQ(c.drives.size(), 1u);
    EXPECT_EQ(c.drives[0].path_on_host, "b.img");
    EXPECT_FALSE(put_drive(c, Drive{"other", "c.img", true, false}));
}

TEST(FcConfig, NetworkInterfacesMacAndTapChecked) {
    auto nets = [](const std::string& list) {
        return config_error(std::string(R"({"boot-source": {"kernel_image_path": "k"}, "network-interfaces": )") + list + "}");
    };
    EXPECT_EQ(nets(R"([{"iface_id": "eth0", "host_dev_name": "tap0"}])"), "");
    EXPECT_NE(nets(R"([{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00"}])").find("not a MAC"),
              std::string::npos);
    EXPECT_NE(nets(R"([{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06-00-AC-10-00-02"}])").find("not a MAC"),
              std::string::npos);
    EXPECT_NE(nets(R"([{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "0g:00:AC:10:00:02"}])").find("not a MAC"),
              std::string::npos);
    EXPECT_NE(nets(R"([{"iface_id": "a", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02"},
                       {"iface_id": "b", "host_dev_name": "tap1", "guest_mac": "06:00:ac:10:00:02"}])").find("already in use"),
              std::string::npos);
    EXPECT_NE(nets(R"([{"iface_id": "a", "host_dev_name": "tap0"}, {"iface_id": "b", "host_dev_name": "tap0"}])")
                  .find("tap tap0 is already in use"), std::string::npos);
    EXPECT_NE(nets(R"([{"iface_id": "a"}])").find("missing field `host_dev_name`"), std::string::npos);
    EXPECT_NE(nets(R"([{"iface_id": "a", "host_dev_name": "t", "rx_rate_limiter": {}}])").find("unknown field"),
              std::string::npos);
}

TEST(FcConfig, LoggerMetricsEntropy) {
    auto c = parse_config(R"({"boot-source": {"kernel_image_path": "k"},
        "logger": {"log_path": "fc.log", "level": "debug", "show_level": true, "show_log_origin": false},
        "metrics": {"metrics_path": "m.json"}, "entropy": {}})");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->logger->level, "Debug");
    EXPECT_EQ(c->metrics->metrics_path, "m.json");
    EXPECT_TRUE(c->entropy);
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": "k"}, "logger": {"log_path": "l", "level": "Loud"}})")
                  .find("`level`"), std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": "k"}, "logger": {"level": "Info"}})")
                  .find("missing field `log_path`"), std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": "k"}, "metrics": {"path": "m"}})")
                  .find("unknown field `path`"), std::string::npos);
    EXPECT_NE(config_error(R"({"boot-source": {"kernel_image_path": "k"}, "entropy": {"rate_limiter": {}}})")
                  .find("unknown field `rate_limiter`"), std::string::npos);
}

TEST(FcConfig, PopekKeyIsCheckedAndMapped) {
    auto c = parse_config(R"({"boot-source": {"kernel_image_path": "k", "boot_args": "console=ttyS0"},
        "drives": [{"drive_id": "rootfs", "path_on_host": "r.img", "is_root_device": true, "is_read_only": true}],
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap7", "guest_mac": "06:00:AC:10:00:02"}],
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 96},
        "popek": {"accel": "bt", "net": ["user"], "stats": true, "bt-cache": 8}})");
    ASSERT_TRUE(c) << c.error().message;
    auto o = popek::cli::to_vm_options(*c);
    ASSERT_TRUE(o) << o.error().message;
    EXPECT_EQ(o->accel, popek::hv::Accel::Bt);
    EXPECT_EQ(o->cpus, 2);
    EXPECT_EQ(o->mem_mib, 96u);
    EXPECT_EQ(o->cmdline, "console=ttyS0 root=/dev/vda ro");
    ASSERT_EQ(o->disks.size(), 1u);
    EXPECT_TRUE(o->disks[0].read_only);
    ASSERT_EQ(o->nets.size(), 2u);
    EXPECT_EQ(o->nets[0].kind, popek::vmm::NetOption::Kind::Tap);
    EXPECT_EQ(o->nets[0].tap_name, "tap7");
    ASSERT_TRUE(o->nets[0].mac);
    EXPECT_EQ((*o->nets[0].mac)[5], 0x02);
    EXPECT_EQ(o->nets[1].kind, popek::vmm::NetOption::Kind::User);
    EXPECT_TRUE(o->stats);
    EXPECT_EQ(o->bt_cache_mib, 8u);

    auto mapped_error = [](const std::string& popek_key) {
        auto cfg = parse_config(std::string(R"({"boot-source": {"kernel_image_path": "k"}, "popek": )") + popek_key + "}");
        if (!cfg) return cfg.error().message;
        auto opts = popek::cli::to_vm_options(*cfg);
        return opts ? std::string() : opts.error().message;
    };
    EXPECT_NE(mapped_error(R"({"accel": "qemu"})").find("`accel`"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"xen": "yes"})").find("`xen` must be true or false"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"net": "user"})").find("`net` must be an array"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"net": [1]})").find("array of strings"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"net": ["carrier-pigeon"]})").find("popek: `net`"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"share": "/tmp"})").find("needs `\"xen\": true`"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"driver-domain": true, "xen": true})").find("at least one drive"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"rng": true, "xen": true})").find("virtio device"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"bt-cache": 0})").find("out of range"), std::string::npos);
    EXPECT_NE(mapped_error(R"({"kvm": true})").find("unknown field `kvm`"), std::string::npos);
}

TEST(FcConfig, CliConfigFileConflictsAndErrorsAreUsageErrors) {
    char path[] = "/tmp/popek-fc-config-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    {
        std::ofstream f(path);
        f << R"({"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}, "popek": {"accel": "interp"}})";
    }
    auto ok = popek::cli::parse({"run", "--config-file", path, "--stats"});
    EXPECT_EQ(ok.action, popek::cli::Parsed::Run) << ok.message;
    EXPECT_TRUE(ok.vm_described);
    EXPECT_TRUE(ok.options.stats);
    EXPECT_EQ(ok.options.kernel_path, "/nonexistent/vmlinux");
    EXPECT_EQ(ok.options.mem_mib, 128u);

    auto conflict = popek::cli::parse({"run", "--config-file", path, "--kernel", "x"});
    EXPECT_EQ(conflict.action, popek::cli::Parsed::Exit);
    EXPECT_EQ(conflict.exit_status, 2);
    EXPECT_NE(conflict.message.find("--kernel cannot be given with it"), std::string::npos);
    {
        std::ofstream f(path);
        f << R"({"boot-source": {"kernel_image_path": 1}})";
    }
    auto bad = popek::cli::parse({"run", "--config-file", path});
    EXPECT_EQ(bad.exit_status, 2);
    EXPECT_NE(bad.message.find("must be a string"), std::string::npos);
    std::remove(path);
    auto missing = popek::cli::parse({"run", "--config-file", path});
    EXPECT_EQ(missing.exit_status, 2);
    EXPECT_EQ(std::count(missing.message.begin(), missing.message.end(), '\n'), 1);
}
