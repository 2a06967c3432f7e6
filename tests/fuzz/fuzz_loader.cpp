// libFuzzer target: every kernel loader (ELF32/64 parser, PVH, multiboot, own-guest ABI, bzImage) against
// arbitrary bytes. The loader must return an error or a setup, never read or write out of bounds.
// Differential: a copy holding only what fetch_elf_metadata reads (how popek run reads a large
// kernel) must parse exactly as the whole file does.
// fuzz-sources: src/loader/*.cpp src/arch/x86_64/*.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
// fuzz-seeds: build/guests/*.elf
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>
#include <span>

#include "loader/elf.h"
#include "loader/loader.h"

namespace {

popek::memory::GuestMemory& guest_memory() {
    // 32 MiB is enough for every seed and small enough to be wiped quickly between runs.
    static std::optional<popek::memory::GuestMemory> mem = [] {
        auto m = popek::memory::GuestMemory::create(32ull << 20);
        if (!m) __builtin_trap();
        return std::optional(std::move(*m));
    }();
    return *mem;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> bytes(data, size);
    auto whole = popek::loader::ElfFile::parse(bytes);
    std::vector<uint8_t> sparse(size, 0);
    const bool fetched = popek::loader::fetch_elf_metadata(sparse, 16 << 20, [&](uint64_t offset, uint64_t len) {
        if (offset > size || len > size - offset) __builtin_trap();
        std::memcpy(sparse.data() + offset, data + offset, len);
        return true;
    });
    if (fetched) {
        auto part = popek::loader::ElfFile::parse(sparse);
        if (whole.has_value() != part.has_value()) __builtin_trap();
        if (!whole && whole.error().message != part.error().message) __builtin_trap();
        if (whole && (whole->entry != part->entry || whole->segments.size() != part->segments.size() ||
                      whole->notes.size() != part->notes.size()))
            __builtin_trap();
        for (size_t i = 0; whole && i < whole->notes.size(); ++i)
            if (whole->notes[i].name != part->notes[i].name || whole->notes[i].desc.size() != part->notes[i].desc.size() ||
                std::memcmp(whole->notes[i].desc.data(), part->notes[i].desc.data(), whole->notes[i].desc.size()) != 0)
                __builtin_trap();
    }
    // The last byte picks the vCPU count and how much of the tail becomes the initrd, so the
    // placement code sees varied requests too.
    uint8_t knob = size ? data[size - 1] : 0;
    size_t initrd_len = std::min<size_t>(size, (knob >> 4) * 64u);
    // With the ACPI area claimed and file names given, as popek run loads every kernel.
    popek::loader::LoadRequest request{bytes.first(size - initrd_len), bytes.last(initrd_len),
                                       "console=ttyS0", 1 + (knob & 3), 0xe0000, "kernel.elf", "initrd.img"};
    auto setup = popek::loader::load_kernel(guest_memory(), request);
    if (setup && setup->ap_start == popek::loader::ApStart::AtEntry)
        (void)popek::loader::ap_entry_state(*setup, request.vcpus - 1, request.vcpus);
    return 0;
}
