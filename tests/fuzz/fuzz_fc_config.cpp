// libFuzzer target: Firecracker's JSON VM description (src/vmm/fc_config.cpp), the parser behind
// `popek run --config-file` and every API request body.
//
// The input is a config file, then each API body parser on the same bytes: whatever the input,
// each returns a value or an error (no crash, no exception out), a parsed MAC formats back to
// itself, and every accepted config keeps at most one root drive, first.
// fuzz-sources: src/vmm/fc_config.cpp
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vmm/fc_config.h"

using namespace popek::vmm::fc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto config = parse_config(text)) {
        if (!config->boot_source || config->boot_source->kernel_image_path.empty()) __builtin_trap();
        for (size_t i = 1; i < config->drives.size(); ++i)
            if (config->drives[i].is_root_device) __builtin_trap();
        for (const NetworkInterface& n : config->nets)
            if (n.guest_mac) {
                auto again = parse_mac(format_mac(*n.guest_mac));   // (the compat expected has no operator==)
                if (!again || *again != *n.guest_mac) __builtin_trap();
            }
    }
    if (auto body = parse_json(text)) {
        (void)parse_boot_source(*body);
        (void)parse_machine_config(*body);
        (void)parse_drive(*body);
        (void)parse_network_interface(*body);
        (void)parse_logger(*body);
        (void)parse_metrics(*body);
        (void)parse_popek(*body);
    }
    (void)parse_mac(text.substr(0, 17));
    return 0;
}

#ifdef POPEK_FUZZ_REPLAY
// g++ builds (ctest): seed configs plus a deterministic stream of mutations.
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "seed_writer.h"

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    // Firecracker's example config (nulls), its getting-started guide's API bodies, popek's key, near misses.
    const std::vector<std::string> seeds = {
        R"({"boot-source": {"kernel_image_path": "vmlinux.bin", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off",
            "initrd_path": null},
            "drives": [{"drive_id": "rootfs", "path_on_host": "r.ext4", "is_root_device": true, "is_read_only": false},
                       {"drive_id": "d", "path_on_host": "d.img", "is_root_device": false}],
            "machine-config": {"vcpu_count": 2, "mem_size_mib": 1024, "smt": false, "track_dirty_pages": false,
                               "huge_pages": "None"},
            "cpu-config": null, "balloon": null, "vsock": null, "mmds-config": null,
            "network-interfaces": [{"iface_id": "net1", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"}],
            "logger": {"log_path": "l", "level": "Debug"}, "metrics": {"metrics_path": "m"}, "entropy": {},
            "popek": {"accel": "interp", "xen": false, "net": ["user", "dgram=/a,/b"], "bt-cache": 8}})",
        R"({"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"})",
        R"({"vcpu_count": 2, "mem_size_mib": 1024})",
        R"({"drive_id": "rootfs", "path_on_host": "rootfs.ext4", "is_root_device": true, "is_read_only": false})",
        R"({"iface_id": "net1", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"})",
        R"({"log_path": "fc.log", "level": "Debug", "show_level": true, "show_log_origin": true})",
        R"({"metrics_path": "metrics.json"})", R"({"action_type": "InstanceStart"})", R"({"state": "Paused"})",
        R"({"accel": "bt", "xen": true, "share": "/tmp,ro", "driver-domain": true})",
        "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]", "06:00:AC:10:00:02",
        R"({"a": "\u0000\ud800", "b": 1e999, "c": -0})", R"({"boot-source": {"kernel_image_path": 7}})"};
    if (argc > 2) {   // `0 DIR`: the seed corpus (tools/fuzz-corpus.sh)
        std::vector<std::vector<uint8_t>> bytes;
        for (const auto& s : seeds) bytes.emplace_back(s.begin(), s.end());
        if (!popek::fuzz::write_seeds(argv[2], bytes)) return 1;
    }
    std::mt19937_64 rng(0x66636366);
    for (const auto& s : seeds) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    for (long i = 0; i < iterations; ++i) {
        std::string d = seeds[static_cast<size_t>(i) % seeds.size()];
        const int flips = 1 + static_cast<int>(rng() % 6);
        for (int k = 0; k < flips && !d.empty(); ++k) {
            static constexpr char kJsonBytes[] = "{}[]\",:01-.etrufalsn \\";
            d[rng() % d.size()] = rng() % 2 ? kJsonBytes[rng() % (sizeof(kJsonBytes) - 1)] : static_cast<char>(rng());
        }
        if (rng() % 4 == 0) d += seeds[rng() % seeds.size()];
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(d.data()), d.size());
    }
    return 0;
}
#endif
