#include "acpi/aml.h"

namespace popek::acpi::aml {
namespace {

// Opcodes (ACPI 6.4 20.3 "AML Byte Stream Byte Values").
constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0a, kWordPrefix = 0x0b,
                  kDWordPrefix = 0x0c, kStringPrefix = 0x0d, kQWordPrefix = 0x0e, kScopeOp = 0x10,
                  kBufferOp = 0x11, kPackageOp = 0x12, kExtOpPrefix = 0x5b, kDeviceOp = 0x82, kRootChar = 0x5c;

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

void append_le(Bytes& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes name_string(std::string_view seg) {
    Bytes out;
    if (!seg.empty() && seg.front() == '\\') {
        out.push_back(kRootChar);
        seg.remove_prefix(1);
    }
    for (size_t i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(i < seg.size() ? seg[i] : '_'));
    return out;
}

}  // namespace

Bytes package_length(const Bytes& body) {
    // One byte holds up to 63; with n extra bytes, 4 + 8n bits (20.2.4).
    Bytes out;
    for (int extra = 0; extra <= 3; ++extra) {
        uint64_t total = body.size() + 1 + static_cast<uint64_t>(extra);
        uint64_t limit = extra == 0 ? 0x3f : (uint64_t{1} << (4 + 8 * extra)) - 1;
        if (total > limit) continue;
        if (extra == 0) {
            out.push_back(static_cast<uint8_t>(total));
        } else {
            out.push_back(static_cast<uint8_t>((extra << 6) | (total & 0xf)));
            for (int i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
        }
        append(out, body);
        return out;
    }
    return out;  // > 256 MiB of AML: not produced by popek
}

Bytes integer(uint64_t value) {
    if (value == 0) return {kZeroOp};
    if (value == 1) return {kOneOp};
    Bytes out;
    if (value <= 0xff) {
        out.push_back(kBytePrefix);
        append_le(out, value, 1);
    } else if (value <= 0xffff) {
        out.push_back(kWordPrefix);
        append_le(out, value, 2);
    } else if (value <= 0xffffffff) {
        out.push_back(kDWordPrefix);
        append_le(out, value, 4);
    } else {
        out.push_back(kQWordPrefix);
        append_le(out, value, 8);
    }
    return out;
}

Bytes string(std::string_view s) {
    Bytes out;
    out.reserve(s.size() + 2);  // (also keeps g++ 12's -Warray-bounds false positive away)
    out.push_back(kStringPrefix);
    for (char c : s) out.push_back(static_cast<uint8_t>(c));
    out.push_back(0);
    return out;
}

Bytes name(std::string_view seg, const Bytes& value) {
    Bytes out{kNameOp};
    append(out, name_string(seg));
    append(out, value);
    return out;
}

Bytes package(const std::vector<Bytes>& elements) {
    Bytes body{static_cast<uint8_t>(elements.size())};
    for (const Bytes& e : elements) append(body, e);
    Bytes out{kPackageOp};
    append(out, package_length(body));
    return out;
}

Bytes scope(std::string_view seg, const Bytes& body) {
    Bytes inner = name_string(seg);
    append(inner, body);
    Bytes out{kScopeOp};
    append(out, package_length(inner));
    return out;
}

Bytes device(std::string_view seg, const Bytes& body) {
    Bytes inner = name_string(seg);
    append(inner, body);
    Bytes out{kExtOpPrefix, kDeviceOp};
    append(out, package_length(inner));
    return out;
}

Bytes buffer(const Bytes& bytes) {
    Bytes inner = integer(bytes.size());
    append(inner, bytes);
    Bytes out{kBufferOp};
    append(out, package_length(inner));
    return out;
}

Bytes memory32_fixed(uint32_t base, uint32_t size, bool writable) {
    Bytes out{0x86, 0x09, 0x00, static_cast<uint8_t>(writable ? 1 : 0)};
    append_le(out, base, 4);
    append_le(out, size, 4);
    return out;
}

Bytes extended_interrupt(uint32_t gsi, bool edge, bool active_low) {
    // Flags: bit0 consumer, bit1 edge, bit2 active-low, bit3 shared (clear: exclusive).
    uint8_t flags = static_cast<uint8_t>(0x1 | (edge ? 0x2 : 0) | (active_low ? 0x4 : 0));
    Bytes out{0x89, 0x06, 0x00, flags, 0x01};
    append_le(out, gsi, 4);
    return out;
}

Bytes resource_template(const std::vector<Bytes>& descriptors) {
    Bytes out;
    for (const Bytes& d : descriptors) append(out, d);
    out.push_back(0x79);  // End Tag; checksum 0 means "treat as correct" (6.4.2.9)
    out.push_back(0x00);
    return buffer(out);
}

}  // namespace popek::acpi::aml
