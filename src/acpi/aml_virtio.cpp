#include "acpi/aml_virtio.h"

#include <string_view>

namespace popek::acpi {
namespace {

// 20.3 AML byte stream encodings used here.
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;   // after ExtOpPrefix

// 6.4 resource data types.
constexpr uint8_t kMemory32FixedTag = 0x86;     ///< 6.4.3.4 large item, length 9
constexpr uint8_t kExtendedIrqTag = 0x89;       ///< 6.4.3.6 large item
constexpr uint8_t kEndTag = 0x79;               ///< 6.4.2.9 small item, length 1
constexpr uint8_t kIrqConsumer = 1 << 0;        ///< bit 0; level (bit1=0), active-high (bit2=0), exclusive (bit3=0)
constexpr uint8_t kMemReadWrite = 1;

using Bytes = std::vector<uint8_t>;

void put_le(Bytes& out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put_name(Bytes& out, std::string_view seg) { out.insert(out.end(), seg.begin(), seg.end()); }

/// 20.2.3 ComputationalData: the shortest integer encoding.
void put_integer(Bytes& out, uint64_t v) {
    if (v == 0) out.push_back(kZeroOp);
    else if (v == 1) out.push_back(kOneOp);
    else if (v <= 0xff) { out.push_back(kBytePrefix); put_le(out, v, 1); }
    else if (v <= 0xffff) { out.push_back(kWordPrefix); put_le(out, v, 2); }
    else { out.push_back(kDWordPrefix); put_le(out, v, 4); }
}

/// `op` PkgLength `body`.
Result<void> put_package(Bytes& out, std::initializer_list<uint8_t> op, const Bytes& body) {
    out.insert(out.end(), op);
    Bytes len = TRY(aml_pkg_length(body.size()));
    out.insert(out.end(), len.begin(), len.end());
    out.insert(out.end(), body.begin(), body.end());
    return {};
}

}  // namespace

Result<Bytes> aml_pkg_length(uint64_t content) {
    // The encoded length counts the PkgLength bytes themselves.
    Bytes out;
    if (content + 1 <= 0x3f) {
        out.push_back(static_cast<uint8_t>(content + 1));
        return out;
    }
    for (uint64_t extra = 1; extra <= 3; ++extra) {
        uint64_t total = content + 1 + extra;
        if (total >= (uint64_t{1} << (4 + 8 * extra))) continue;
        out.push_back(static_cast<uint8_t>(extra << 6 | (total & 0xf)));
        put_le(out, total >> 4, static_cast<int>(extra));
        return out;
    }
    return fail("AML package of {} bytes is too large", content);
}

Result<Bytes> aml_virtio_device(const devices::virtio::MmioDeviceInfo& info) {
    constexpr std::string_view kDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (info.index >= kDigits.size()) return fail("virtio-mmio device index {} has no AML name", info.index);
    if (info.base > 0xffff'ffff || info.size > 0xffff'ffff || info.base + info.size > 0x1'0000'0000)
        return fail("virtio-mmio window {:#x}+{:#x} is not below 4 GiB", info.base, info.size);

    Bytes crs;   // ResourceTemplate contents
    crs.push_back(kMemory32FixedTag);
    put_le(crs, 9, 2);
    crs.push_back(kMemReadWrite);
    put_le(crs, info.base, 4);
    put_le(crs, info.size, 4);
    crs.push_back(kExtendedIrqTag);
    put_le(crs, 6, 2);            // flags, table length, one 32-bit interrupt number
    crs.push_back(kIrqConsumer);
    crs.push_back(1);
    put_le(crs, info.gsi, 4);
    crs.push_back(kEndTag);
    crs.push_back(0);             // checksum 0: "treat as correct"

    Bytes buffer;                 // BufferSize then the bytes
    put_integer(buffer, crs.size());
    buffer.insert(buffer.end(), crs.begin(), crs.end());

    Bytes body;
    put_name(body, std::string{"VRT"} + kDigits[info.index]);
    body.push_back(kNameOp);
    put_name(body, "_HID");
    body.push_back(kStringPrefix);
    put_name(body, "LNRO0005");
    body.push_back(0);
    body.push_back(kNameOp);
    put_name(body, "_UID");
    put_integer(body, info.index);
    body.push_back(kNameOp);
    put_name(body, "_CRS");
    TRY_VOID(put_package(body, {kBufferOp}, buffer));

    Bytes out;
    TRY_VOID(put_package(out, {kExtOpPrefix, kDeviceOp}, body));
    return out;
}

Result<Bytes> aml_virtio_devices(std::span<const devices::virtio::MmioDeviceInfo> devices) {
    Bytes out;
    for (const auto& d : devices) {
        Bytes one = TRY(aml_virtio_device(d));
        out.insert(out.end(), one.begin(), one.end());
    }
    return out;
}

}  // namespace popek::acpi
