#pragma once
/// The register file gdb sees (GDB manual, Appendix G "Target Descriptions", G.5 "Standard Target
/// Features", i386 features): the target description XML for i386:x86-64 and each register's
/// bytes in the `g`/`p` order (little-endian, the order of the XML).
#include <cstdint>
#include <string>
#include <string_view>

namespace popek::emu { class Cpu; }

namespace popek::gdb {

/// Number of registers in the description.
int register_count();
/// Size in bytes of register `n` (0 when out of range).
unsigned register_size(int n);
/// The target description (target.xml) served by qXfer:features:read.
const std::string& target_xml();
/// Appends register `n`'s little-endian bytes to `out`; false when `n` does not exist.
bool read_register(const emu::Cpu& cpu, int n, std::string& out);
/// Writes register `n` from `bytes` (exactly its size). False when it does not exist or is
/// not writable (segment selectors and control registers: their loads have checks and side
/// effects the stub does not emulate).
bool write_register(emu::Cpu& cpu, int n, std::string_view bytes);

}  // namespace popek::gdb
