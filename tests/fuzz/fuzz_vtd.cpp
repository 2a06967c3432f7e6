// libFuzzer target: the VT-d remapping unit (src/devices/iommu/), the parser of guest-written
// translation structures: root and context tables and second-level page tables (DMA), interrupt
// remapping table entries, invalidation queue descriptors, all read from guest RAM that the input
// writes, driven by register writes and requests the input chooses.
//
// Input: a sequence of operations (a kind byte, then its arguments, zero-padded at the end):
//   0 poke RAM (u32 address, u64 value)      1 write32 (u16 offset, u32)   2 write64 (u16, u64)
//   3 read (u16 offset, u8 size)              4/5 DMA read/write (u16 requester, u64 address, u16 length)
//   6 remap (u32 requester, u64 address, u32 data)   7 write of any size (u16 offset, u8 size)
// Checked: nothing touches memory outside the guest RAM or the buffers (ASan), GCMD reads 0,
// FSTS.FRI names a fault recording register, a remapped interrupt is a compatibility-format MSI.
// fuzz-sources: src/devices/iommu/*.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "devices/iommu/vtd_unit.h"

using namespace popek;
using namespace popek::devices::iommu;

namespace {

constexpr uint64_t kRam = 2 << 20;   // small: it is cleared for every input

struct Reader {
    const uint8_t* data;
    size_t size, pos = 0;
    uint64_t take(unsigned bytes) {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes; ++i, ++pos)
            if (pos < size) v |= uint64_t{data[pos]} << (8 * i);
        return v;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static memory::GuestMemory mem = memory::GuestMemory::create(kRam).value();
    // The RAM of the previous input is cleared: each input starts from a zeroed machine.
    for (const auto& r : mem.regions()) std::fill_n(r.host, r.size, uint8_t{0});
    VtdUnit unit(mem, [](const hv::MsiMessage&) {}, {});   // events go wherever FEADDR says
    Reader in{data, size};
    std::vector<uint8_t> buffer(8192);
    for (int ops = 0; in.pos < size && ops < 512; ++ops) {
        const unsigned kind = static_cast<unsigned>(in.take(1) % 8);
        switch (kind) {
        case 0: {
            const uint64_t at = in.take(4) % (kRam - 8);
            (void)mem.write_obj<uint64_t>(at, in.take(8));
            break;
        }
        case 1: case 2: {
            const uint32_t off = static_cast<uint32_t>(in.take(2) % 0x1000) & ~3u;
            std::array<uint8_t, 8> b{};
            bus::u64_to_span(in.take(kind == 1 ? 4 : 8), b);
            static_cast<bus::Device&>(unit).write(off, std::span(b).first(kind == 1 ? 4 : 8));
            break;
        }
        case 3: case 7: {
            const uint64_t off = in.take(2) % 0x1000;
            const size_t n = static_cast<size_t>(in.take(1) % 9);
            if (off + n > 0x1000) break;   // the bus never hands a device more than its range
            std::array<uint8_t, 8> b{};
            if (kind == 3) static_cast<bus::Device&>(unit).read(off, std::span(b).first(n));
            else static_cast<bus::Device&>(unit).write(off, std::span(b).first(n));
            break;
        }
        case 4: case 5: {
            const auto rid = static_cast<uint16_t>(in.take(2));
            const uint64_t address = in.take(8);
            const size_t len = static_cast<size_t>(in.take(2) % (buffer.size() + 1));
            if (kind == 4) (void)unit.read(rid, address, std::span(buffer).first(len));
            else (void)unit.write(rid, address, std::span(buffer).first(len));
            break;
        }
        default: {
            const auto requester = static_cast<uint32_t>(in.take(4) % 0x10001);
            hv::MsiMessage m{in.take(8), static_cast<uint32_t>(in.take(4))};
            const bool remappable = (m.address & (1u << 4)) != 0;
            const bool remapping = (unit.reg32(vtd::kGsts) & vtd::kIre) != 0;
            auto out = unit.remap(requester, m);
            if (out && remapping && remappable && (out->address >> 20) != 0xfee) __builtin_trap();
            break;
        }
        }
        if (unit.reg32(vtd::kGcmd) != 0) __builtin_trap();
        if (((unit.reg32(vtd::kFsts) >> 8) & 0xff) >= vtd::kFaultRecords) __builtin_trap();
    }
    return 0;
}

#ifdef POPEK_FUZZ_REPLAY
// g++ builds (ctest): seeds that set up DMA translation, interrupt remapping and a queue, then a
// deterministic stream of mutations. `fuzz_vtd_replay 0 DIR` writes the seeds into DIR.
#include <cstdlib>
#include <random>
#include <string>

#include "seed_writer.h"

namespace {

struct Seed {
    std::vector<uint8_t> bytes;
    void put(uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    void poke(uint64_t at, uint64_t v) { bytes.push_back(0), put(at, 4), put(v, 8); }
    void w32(uint16_t off, uint32_t v) { bytes.push_back(1), put(off, 2), put(v, 4); }
    void w64(uint16_t off, uint64_t v) { bytes.push_back(2), put(off, 2), put(v, 8); }
    void dma(bool write, uint16_t rid, uint64_t a, uint16_t len) { bytes.push_back(write ? 5 : 4), put(rid, 2), put(a, 8), put(len, 2); }
    void remap(uint32_t rid, uint64_t a, uint32_t d) { bytes.push_back(6), put(rid, 4), put(a, 8), put(d, 4); }
};

std::vector<std::vector<uint8_t>> seeds() {
    Seed dma;   // root -> context -> 3 levels, IOVA 0 -> 0x100000, then DMA both ways and a fault
    dma.poke(0x10000, 0x11000 | 1);
    dma.poke(0x11000 + 16 * 0x10, 0x12000 | 1);
    dma.poke(0x11000 + 16 * 0x10 + 8, 1 | 1u << 8);
    dma.poke(0x12000, 0x13000 | 3);
    dma.poke(0x13000, 0x14000 | 3);
    dma.poke(0x14000, 0x100000 | 3);
    dma.poke(0x14008, 0x1ff000 | 3);
    dma.w64(vtd::kRtaddr, 0x10000);
    dma.w32(vtd::kGcmd, vtd::kSrtp);
    dma.w32(vtd::kGcmd, vtd::kSrtp | vtd::kTe);
    dma.dma(false, 0x10, 0xff0, 64);
    dma.dma(true, 0x10, 0x10, 4096);
    dma.dma(false, 0x10, 0x5000, 4);
    dma.w32(vtd::kFectl, 0);
    dma.dma(true, 0x18, 0, 4);
    Seed ir;   // a 16-entry table, entries 1 and 2, remappable requests with and without SHV
    ir.poke(0x20000 + 16, 1 | uint64_t{0xed} << 16);
    ir.poke(0x20000 + 24, 0x10 | uint64_t{1} << 18);
    ir.poke(0x20000 + 32, 1 | uint64_t{0xee} << 16 | uint64_t{1} << 40);
    ir.w64(vtd::kIrta, 0x20000 | 3);
    ir.w32(vtd::kGcmd, vtd::kSirtp);
    ir.w32(vtd::kGcmd, vtd::kSirtp | vtd::kIre);
    ir.remap(hv::kNoRequesterId, 0xfee00000 | 1u << 5 | 1u << 4, 0xed);
    ir.remap(0x10, 0xfee00000 | 2u << 5 | 1u << 4, 0);
    ir.remap(0x10, 0xfee00000 | 1u << 5 | 1u << 4 | 1u << 3, 1);
    ir.remap(0x10, 0xfee00000, 0x30);
    Seed qi;   // a queue with each descriptor type, a wait writing its status, then a bad one
    qi.poke(0x30000, 0x1 | 1u << 4);
    qi.poke(0x30010, 0x2 | 1u << 4);
    qi.poke(0x30020, 0x4 | 1u << 4);
    qi.poke(0x30030, 0x5 | 1u << 5 | 1u << 4 | uint64_t{0xcafe} << 32);
    qi.poke(0x30038, 0x40000);
    qi.poke(0x30040, 0x3);
    qi.w64(vtd::kIqa, 0x30000);
    qi.w32(vtd::kGcmd, vtd::kQie);
    qi.w32(vtd::kIectl, 0);
    qi.w64(vtd::kIqt, 0x40);
    qi.w64(vtd::kIqt, 0x50);
    qi.w32(vtd::kFsts, vtd::kFstsIqe);
    return {dma.bytes, ir.bytes, qi.bytes};
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    const auto inputs = seeds();
    if (argc > 2) return popek::fuzz::write_seeds(argv[2], inputs) ? 0 : 1;
    std::mt19937 rng(0x76746421);
    for (const auto& s : inputs) LLVMFuzzerTestOneInput(s.data(), s.size());
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> d = inputs[static_cast<size_t>(i) % inputs.size()];
        popek::fuzz::mutate(d, rng);
        LLVMFuzzerTestOneInput(d.data(), d.size());
    }
    return 0;
}
#endif
