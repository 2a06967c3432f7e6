#pragma once
/// A tiny AML encoder: just what popek's DSDT needs (ACPI 6.4 chapter 20 "ACPI Machine Language
/// Specification", and 6.4 "Resource Data Types for ACPI").
#include <cstdint>
#include <string_view>
#include <vector>

namespace popek::acpi::aml {

using Bytes = std::vector<uint8_t>;

/// PkgLength (20.2.4) followed by `body`: the length counts its own encoding bytes.
Bytes package_length(const Bytes& body);
/// An integer constant: ZeroOp, OneOp, or the smallest of Byte/Word/DWord/QWordPrefix.
Bytes integer(uint64_t value);
/// A NUL-terminated string (StringPrefix).
Bytes string(std::string_view s);
/// Name(seg, value); `seg` is a 4-character NameSeg, or "\\" + NameSeg for the root.
Bytes name(std::string_view seg, const Bytes& value);
/// Package (ElementList) of already-encoded elements.
Bytes package(const std::vector<Bytes>& elements);
/// Scope(seg) { body } and Device(seg) { body }.
Bytes scope(std::string_view seg, const Bytes& body);
Bytes device(std::string_view seg, const Bytes& body);
/// Buffer holding `bytes` (a resource template, for instance).
Bytes buffer(const Bytes& bytes);

/// Resource descriptors (6.4.3.4 Memory32Fixed, 6.4.3.6 Extended Interrupt) and the end tag.
Bytes memory32_fixed(uint32_t base, uint32_t size, bool writable);
Bytes extended_interrupt(uint32_t gsi, bool edge, bool active_low);
/// A complete resource template: the descriptors followed by End Tag with checksum 0.
Bytes resource_template(const std::vector<Bytes>& descriptors);

}  // namespace popek::acpi::aml
