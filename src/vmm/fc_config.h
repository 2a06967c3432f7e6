#pragma once
/// Firecracker's VM description in JSON: the bodies of its API's pre-boot calls (PUT /boot-source,
/// /machine-config, /drives/{id}, /network-interfaces/{id}, /logger, /metrics) and the config file
/// of `firecracker --config-file` that gathers them under one object, plus popek's own `"popek"`
/// key. Field names, types and defaults follow Firecracker's swagger file
/// (src/firecracker/swagger/firecracker.yaml, v1.x) and its JSON config format
/// (docs/getting-started.md "Configuring the microVM without sending API requests").
///
/// Unknown fields are errors, as in Firecracker (serde's deny_unknown_fields). Only types and
/// shapes are checked here; whether the files exist is checked when the VM is built. Nothing here
/// depends on the rest of popek, so the fuzz target links this file alone.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace popek::vmm::fc {

/// Requests and config files larger than this are refused (Firecracker bounds API bodies at 51200
/// bytes by default: `--http-api-max-payload-size`).
inline constexpr size_t kMaxBodyBytes = 51200;
inline constexpr size_t kMaxConfigFileBytes = 1 << 20;
/// Deeper JSON is refused before it is built (no bound on stack or memory otherwise).
inline constexpr int kMaxDepth = 16;

/// Firecracker `BootSource`.
struct BootSource {
    std::string kernel_image_path;
    std::string boot_args;
    std::string initrd_path;
};

/// Firecracker `MachineConfiguration` (its defaults: 1 vCPU, 128 MiB).
struct MachineConfig {
    uint64_t vcpu_count = 1;
    uint64_t mem_size_mib = 128;
    bool track_dirty_pages = false;   ///< accepted and ignored: popek has no dirty-page snapshots yet
};

/// Firecracker `Drive`: a virtio-blk device (a Xen vbd under popek's `"xen": true`).
struct Drive {
    std::string drive_id;
    std::string path_on_host;
    bool is_root_device = false;
    bool is_read_only = false;
};

/// Firecracker `NetworkInterface`: a virtio-net device on the tap `host_dev_name`.
struct NetworkInterface {
    std::string iface_id;
    std::string host_dev_name;
    std::optional<std::array<uint8_t, 6>> guest_mac;
};

/// Firecracker `Logger` (level, show_level, show_log_origin are accepted; popek writes its own lines).
struct Logger {
    std::string log_path;
    std::string level = "Info";
};

/// Firecracker `Metrics`.
struct Metrics {
    std::string metrics_path;
};

/// popek's own top-level key: the choices a Firecracker config has no words for (CLI names).
struct PopekExtras {
    std::string accel = "auto";
    bool xen = false;
    std::string share;                 ///< `--share DIR[,ro]`
    bool driver_domain = false;
    std::vector<std::string> net;      ///< `--net` specs: user, tap=NAME, dgram=LOCAL,REMOTE
    bool rng = false;
    bool test_dev = false;
    bool stats = false;
    uint64_t bt_cache_mib = 32;
};

/// A whole pre-boot VM description: what the config file holds, or what API calls have set so far.
struct Config {
    std::optional<BootSource> boot_source;
    MachineConfig machine;
    std::vector<Drive> drives;              ///< the root device (if any) first, as Firecracker orders them
    std::vector<NetworkInterface> nets;
    std::optional<Logger> logger;
    std::optional<Metrics> metrics;
    bool entropy = false;                   ///< Firecracker's `entropy` device: popek's --rng
    PopekExtras popek;
};

/// Parses a request body or config file: malformed JSON, nesting deeper than kMaxDepth and
/// inputs over `max_bytes` are errors (the message says where, as nlohmann reports it).
Result<nlohmann::json> parse_json(std::string_view text, size_t max_bytes = kMaxBodyBytes);

Result<BootSource> parse_boot_source(const nlohmann::json& body);
/// PUT semantics: every field not given takes Firecracker's default; vcpu_count and
/// mem_size_mib are required, as in Firecracker's PUT /machine-config.
Result<MachineConfig> parse_machine_config(const nlohmann::json& body);
Result<Drive> parse_drive(const nlohmann::json& body);
Result<NetworkInterface> parse_network_interface(const nlohmann::json& body);
Result<Logger> parse_logger(const nlohmann::json& body);
Result<Metrics> parse_metrics(const nlohmann::json& body);
Result<PopekExtras> parse_popek(const nlohmann::json& body);

/// Adds or replaces (same drive_id) a drive; a second root device is an error.
Result<void> put_drive(Config& config, Drive drive);
/// Adds or replaces (same iface_id) a network interface; a MAC in use by another is an error.
Result<void> put_network_interface(Config& config, NetworkInterface nic);

/// A whole config file (`popek run --config-file`); `boot-source` is required.
Result<Config> parse_config(std::string_view text);

/// "06:00:AC:10:00:02".
Result<std::array<uint8_t, 6>> parse_mac(std::string_view text);
std::string format_mac(const std::array<uint8_t, 6>& mac);

}  // namespace popek::vmm::fc
