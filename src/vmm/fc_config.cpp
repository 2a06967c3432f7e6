#include "vmm/fc_config.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace popek::vmm::fc {
namespace {

using json = nlohmann::json;

/// One JSON object read field by field: unknown fields are refused up front (Firecracker's
/// deny_unknown_fields), each accessor checks its field's type. `null` reads as absent, as
/// Firecracker's Option<T> fields do (its example config has `"initrd_path": null`).
class Fields {
public:
    static Result<Fields> open(const json& value, std::string_view what, std::initializer_list<std::string_view> known) {
        if (!value.is_object()) return fail("{}: expected an object, got {}", what, value.type_name());
        for (const auto& item : value.items()) {
            if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
            std::string expected;
            for (std::string_view k : known) expected += fmt::format("{}`{}`", expected.empty() ? "" : ", ", k);
            return fail("{}: unknown field `{}`, expected one of {}", what, item.key(), expected);
        }
        return Fields(value, what);
    }

    const json* find(std::string_view key) const {
        auto it = m_value.find(key);
        return it == m_value.end() || it->is_null() ? nullptr : &*it;
    }
    Result<std::optional<std::string>> text(std::string_view key) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_string()) return fail("{}: `{}` must be a string, got {}", m_what, key, v->type_name());
        return v->get<std::string>();
    }
    Result<std::string> required_text(std::string_view key) const {
        auto v = TRY(text(key));
        if (!v) return fail("{}: missing field `{}`", m_what, key);
        return *v;
    }
    Result<std::optional<bool>> flag(std::string_view key) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_boolean()) return fail("{}: `{}` must be true or false, got {}", m_what, key, v->type_name());
        return v->get<bool>();
    }
    Result<std::optional<uint64_t>> number(std::string_view key, uint64_t lo, uint64_t hi) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_number_unsigned())
            return fail("{}: `{}` must be a whole number from {} to {}, got {}", m_what, key, lo, hi, v->dump());
        const auto n = v->get<uint64_t>();
        if (n < lo || n > hi) return fail("{}: `{}` is {}, out of range ({} to {})", m_what, key, n, lo, hi);
        return n;
    }
    std::string_view what() const { return m_what; }

private:
    Fields(const json& value, std::string_view what) : m_value(value), m_what(what) {}
    const json& m_value;
    std::string m_what;
};

/// A field Firecracker has that popek does not implement: accepted only as its "off" value.
Result<void> only_value(const Fields& f, std::string_view key, std::string_view off) {
    auto v = TRY(f.text(key));
    if (v && *v != off) return fail("{}: `{}` \"{}\" is not supported by popek (only \"{}\")", f.what(), key, *v, off);
    return {};
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

Result<json> parse_json(std::string_view text, size_t max_bytes) {
    if (text.size() > max_bytes) return fail("the JSON is {} bytes, more than the {} allowed", text.size(), max_bytes);
    bool too_deep = false;
    // Values below the depth bound are discarded while parsing, so a deep input is never built.
    json::parser_callback_t bound = [&too_deep](int depth, json::parse_event_t, json&) {
        if (depth > kMaxDepth) too_deep = true;
        return !too_deep;
    };
    json value = json::parse(text.begin(), text.end(), bound, /*allow_exceptions=*/false);
    if (too_deep) return fail("the JSON is nested deeper than {} levels", kMaxDepth);
    if (value.is_discarded()) {
        // Parse again with exceptions, only to get nlohmann's description of where it is malformed.
        try {
            [[maybe_unused]] const json again = json::parse(text.begin(), text.end(), bound);
        } catch (const json::exception& e) {   // parse_error, or out_of_range for a number like 1e999
            return fail("malformed JSON: {}", e.what());
        }
        return fail("malformed JSON");
    }
    return value;
}

Result<std::array<uint8_t, 6>> parse_mac(std::string_view text) {
    std::array<uint8_t, 6> mac{};
    // Six pairs of hex digits separated by ':' (17 characters).
    if (text.size() != 17) return fail("`{}` is not a MAC address (expected six hex pairs like 06:00:AC:10:00:02)", text);
    for (size_t i = 0; i < 6; ++i) {
        const int hi = hex_digit(text[i * 3]), lo = hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
            return fail("`{}` is not a MAC address (expected six hex pairs like 06:00:AC:10:00:02)", text);
        mac[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return mac;
}

std::string format_mac(const std::array<uint8_t, 6>& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

Result<BootSource> parse_boot_source(const json& body) {
    const Fields f = TRY(Fields::open(body, "boot-source", {"kernel_image_path", "boot_args", "initrd_path"}));
    BootSource b;
    b.kernel_image_path = TRY(f.required_text("kernel_image_path"));
    if (b.kernel_image_path.empty()) return fail("boot-source: `kernel_image_path` is empty");
    b.boot_args = TRY(f.text("boot_args")).value_or("");
    b.initrd_path = TRY(f.text("initrd_path")).value_or("");
    return b;
}

Result<MachineConfig> parse_machine_config(const json& body) {
    const Fields f = TRY(Fields::open(body, "machine-config", {"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
                                                              "cpu_template", "huge_pages"}));
    MachineConfig m;
    auto vcpus = TRY(f.number("vcpu_count", 1, 255));
    auto mem = TRY(f.number("mem_size_mib", 2, uint64_t{1} << 24));
    if (!vcpus) return fail("machine-config: missing field `vcpu_count`");
    if (!mem) return fail("machine-config: missing field `mem_size_mib`");
    m.vcpu_count = *vcpus;
    m.mem_size_mib = *mem;
    if (TRY(f.flag("smt")).value_or(false))
        return fail("machine-config: `smt` true is not supported by popek (its vCPUs have no SMT siblings)");
    m.track_dirty_pages = TRY(f.flag("track_dirty_pages")).value_or(false);
    TRY_VOID(only_value(f, "cpu_template", "None"));
    TRY_VOID(only_value(f, "huge_pages", "None"));
    return m;
}

Result<Drive> parse_drive(const json& body) {
    const Fields f = TRY(Fields::open(body, "drive", {"drive_id", "path_on_host", "is_root_device", "is_read_only"}));
    Drive d;
    d.drive_id = TRY(f.required_text("drive_id"));
    d.path_on_host = TRY(f.required_text("path_on_host"));
    auto root = TRY(f.flag("is_root_device"));
    if (!root) return fail("drive: missing field `is_root_device`");
    d.is_root_device = *root;
    d.is_read_only = TRY(f.flag("is_read_only")).value_or(false);
    if (d.drive_id.empty()) return fail("drive: `drive_id` is empty");
    if (d.path_on_host.empty()) return fail("drive {}: `path_on_host` is empty", d.drive_id);
    return d;
}

Result<NetworkInterface> parse_network_interface(const json& body) {
    const Fields f = TRY(Fields::open(body, "network-interface", {"iface_id", "host_dev_name", "guest_mac"}));
    NetworkInterface n;
    n.iface_id = TRY(f.required_text("iface_id"));
    n.host_dev_name = TRY(f.required_text("host_dev_name"));
    if (n.iface_id.empty()) return fail("network-interface: `iface_id` is empty");
    if (n.host_dev_name.empty()) return fail("network-interface {}: `host_dev_name` is empty", n.iface_id);
    if (auto mac = TRY(f.text("guest_mac"))) {
        auto parsed = parse_mac(*mac);
        if (!parsed) return std::unexpected(with_context(parsed.error(), "network-interface: `guest_mac`"));
        n.guest_mac = *parsed;
    }
    return n;
}

Result<Logger> parse_logger(const json& body) {
    const Fields f = TRY(Fields::open(body, "logger", {"log_path", "level", "show_level", "show_log_origin", "module"}));
    Logger l;
    l.log_path = TRY(f.required_text("log_path"));
    if (l.log_path.empty()) return fail("logger: `log_path` is empty");
    if (auto level = TRY(f.text("level"))) {
        static constexpr std::string_view kLevels[] = {"Off", "Error", "Warning", "Info", "Debug", "Trace"};
        auto same = [&](std::string_view k) {
            return k.size() == level->size() && std::equal(k.begin(), k.end(), level->begin(), [](char a, char b) {
                       return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                   });
        };
        auto it = std::find_if(std::begin(kLevels), std::end(kLevels), same);
        if (it == std::end(kLevels))
            return fail("logger: `level` \"{}\" is not one of Off, Error, Warning, Info, Debug, Trace", *level);
        l.level = std::string(*it);
    }
    (void)TRY(f.flag("show_level"));
    (void)TRY(f.flag("show_log_origin"));
    (void)TRY(f.text("module"));
    return l;
}

Result<Metrics> parse_metrics(const json& body) {
    const Fields f = TRY(Fields::open(body, "metrics", {"metrics_path"}));
    Metrics m;
    m.metrics_path = TRY(f.required_text("metrics_path"));
    if (m.metrics_path.empty()) return fail("metrics: `metrics_path` is empty");
    return m;
}

Result<PopekExtras> parse_popek(const json& body) {
    const Fields f = TRY(Fields::open(body, "popek", {"accel", "xen", "share", "driver-domain", "net", "rng", "test-dev",
                                                     "stats", "bt-cache"}));
    PopekExtras p;
    p.accel = TRY(f.text("accel")).value_or("auto");
    if (p.accel != "auto" && p.accel != "kvm" && p.accel != "interp" && p.accel != "bt")
        return fail("popek: `accel` \"{}\" is not one of auto, kvm, interp, bt", p.accel);
    p.xen = TRY(f.flag("xen")).value_or(false);
    p.share = TRY(f.text("share")).value_or("");
    p.driver_domain = TRY(f.flag("driver-domain")).value_or(false);
    p.rng = TRY(f.flag("rng")).value_or(false);
    p.test_dev = TRY(f.flag("test-dev")).value_or(false);
    p.stats = TRY(f.flag("stats")).value_or(false);
    p.bt_cache_mib = TRY(f.number("bt-cache", 1, 1024)).value_or(32);
    if (const json* net = f.find("net")) {
        if (!net->is_array()) return fail("popek: `net` must be an array of strings, got {}", net->type_name());
        for (const json& n : *net) {
            if (!n.is_string()) return fail("popek: `net` must be an array of strings, found {}", n.type_name());
            p.net.push_back(n.get<std::string>());
        }
    }
    return p;
}

Result<void> put_drive(Config& config, Drive drive) {
    auto same = std::find_if(config.drives.begin(), config.drives.end(),
                             [&](const Drive& d) { return d.drive_id == drive.drive_id; });
    if (same != config.drives.end()) config.drives.erase(same);
    if (drive.is_root_device) {
        if (!config.drives.empty() && config.drives.front().is_root_device)
            return fail("drive {}: a root block device already exists (drive {})", drive.drive_id,
                        config.drives.front().drive_id);
        config.drives.insert(config.drives.begin(), std::move(drive));
    } else {
        config.drives.push_back(std::move(drive));
    }
    return {};
}

Result<void> put_network_interface(Config& config, NetworkInterface nic) {
    std::erase_if(config.nets, [&](const NetworkInterface& n) { return n.iface_id == nic.iface_id; });
    for (const NetworkInterface& n : config.nets) {
        if (nic.guest_mac && n.guest_mac == nic.guest_mac)
            return fail("network-interface {}: guest MAC {} is already in use by {}", nic.iface_id,
                        format_mac(*nic.guest_mac), n.iface_id);
        if (n.host_dev_name == nic.host_dev_name)
            return fail("network-interface {}: tap {} is already in use by {}", nic.iface_id, nic.host_dev_name,
                        n.iface_id);
    }
    config.nets.push_back(std::move(nic));
    return {};
}

Result<Config> parse_config(std::string_view text) {
    const json doc = TRY(parse_json(text, kMaxConfigFileBytes));
    // Firecracker's other sections are accepted only as null (its example config lists them so).
    const Fields f = TRY(Fields::open(doc, "config", {"boot-source", "machine-config", "drives", "network-interfaces",
                                                     "logger", "metrics", "entropy", "popek", "balloon", "vsock",
                                                     "mmds-config", "cpu-config"}));
    for (std::string_view unsupported : {"balloon", "vsock", "mmds-config", "cpu-config"})
        if (f.find(unsupported)) return fail("config: `{}` is not supported by popek (only null)", unsupported);
    Config c;
    const json* boot = f.find("boot-source");
    if (!boot) return fail("config: missing `boot-source` (with `kernel_image_path`)");
    c.boot_source = TRY(parse_boot_source(*boot));
    if (const json* m = f.find("machine-config")) c.machine = TRY(parse_machine_config(*m));
    if (const json* drives = f.find("drives")) {
        if (!drives->is_array()) return fail("config: `drives` must be an array, got {}", drives->type_name());
        for (const json& d : *drives) {
            Drive drive = TRY(parse_drive(d));
            if (std::any_of(c.drives.begin(), c.drives.end(), [&](const Drive& o) { return o.drive_id == drive.drive_id; }))
                return fail("config: drive_id `{}` appears twice", drive.drive_id);
            TRY_VOID(put_drive(c, std::move(drive)));
        }
    }
    if (const json* nets = f.find("network-interfaces")) {
        if (!nets->is_array()) return fail("config: `network-interfaces` must be an array, got {}", nets->type_name());
        for (const json& n : *nets) {
            NetworkInterface nic = TRY(parse_network_interface(n));
            if (std::any_of(c.nets.begin(), c.nets.end(), [&](const auto& o) { return o.iface_id == nic.iface_id; }))
                return fail("config: iface_id `{}` appears twice", nic.iface_id);
            TRY_VOID(put_network_interface(c, std::move(nic)));
        }
    }
    if (const json* l = f.find("logger")) c.logger = TRY(parse_logger(*l));
    if (const json* m = f.find("metrics")) c.metrics = TRY(parse_metrics(*m));
    if (const json* e = f.find("entropy")) {
        // Firecracker's EntropyDeviceConfig: only its rate limiter, which popek does not have.
        const Fields ef = TRY(Fields::open(*e, "entropy", {}));
        (void)ef;
        c.entropy = true;
    }
    if (const json* p = f.find("popek")) c.popek = TRY(parse_popek(*p));
    return c;
}

}  // namespace popek::vmm::fc
