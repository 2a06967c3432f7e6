#include "loader/pvh.h"

#include <stdint.h>  // the Xen headers expect the C integer types in the global namespace

#include <xen/arch-x86/hvm/start_info.h>
#include <xen/elfnote.h>

#include <vector>

#include "arch/x86_64/boot_cpu.h"
#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/segments.h"
#include "loader/byte_reader.h"
#include "loader/elf_segments.h"
#include "loader/initrd.h"

namespace popek::loader {
namespace {

/// Layout of the boot information page (arch::kBootInfoAddr): start info, module list, memory map.
constexpr uint64_t kStartInfoAddr = arch::kBootInfoAddr;
constexpr uint64_t kModlistAddr = kStartInfoAddr + 0x40;
constexpr uint64_t kMemmapAddr = kStartInfoAddr + 0x80;
constexpr uint64_t kMaxMemmapEntries = (arch::kPageSize - 0x80) / sizeof(hvm_memmap_table_entry);
static_assert(sizeof(hvm_start_info) <= kModlistAddr - kStartInfoAddr);
static_assert(sizeof(hvm_modlist_entry) <= kMemmapAddr - kModlistAddr);

Result<void> write_memmap(const memory::GuestMemory& mem, const std::vector<arch::E820Entry>& map) {
    if (map.size() > kMaxMemmapEntries) return fail("memory map has {} entries, at most {} fit", map.size(), kMaxMemmapEntries);
    for (size_t i = 0; i < map.size(); ++i) {
        hvm_memmap_table_entry e{};
        e.addr = map[i].addr;
        e.size = map[i].size;
        e.type = static_cast<uint32_t>(map[i].type);
        TRY_VOID(mem.write_obj(kMemmapAddr + i * sizeof(e), e));
    }
    return {};
}

}  // namespace

Result<std::optional<uint64_t>> pvh_entry(const ElfFile& elf) {
    const ElfNote* note = elf.find_note("Xen", XEN_ELFNOTE_PHYS32_ENTRY);
    if (note == nullptr) return std::optional<uint64_t>{};
    // Linux emits the entry as a pointer-sized value (8 bytes), small guests as 4 bytes.
    uint64_t entry;
    if (note->desc.size() == 4) {
        entry = read_le_unchecked<uint32_t>(note->desc, 0);
    } else if (note->desc.size() == 8) {
        entry = read_le_unchecked<uint64_t>(note->desc, 0);
    } else {
        return fail("Xen PHYS32_ENTRY note has a {}-byte descriptor (expected 4 or 8)", note->desc.size());
    }
    if (entry > UINT32_MAX) return fail("Xen PHYS32_ENTRY {:#x} is not a 32-bit address", entry);
    return std::optional<uint64_t>{entry};
}

Result<BootSetup> load_pvh(const ElfFile& elf, uint64_t entry, std::span<const uint8_t> image,
                           const LoadRequest& request, Placement& placement) {
    const memory::GuestMemory& mem = placement.mem();
    // Boot structures first, so that a kernel segment on top of them is reported as the culprit.
    TRY_VOID(placement.claim_boot_area(request.cmdline, arch::kCmdlineMax, true, request.rsdp_addr != 0));
    TRY_VOID(placement.claim(arch::kBootInfoAddr, arch::kPageSize, "PVH start info"));
    TRY_VOID(load_elf_segments(elf, image, placement, request.kernel_reader));
    TRY_VOID(check_entry_loaded(elf, entry));
    // The whole start-of-day set lives below 4 GiB (start_info.h: "Xen on x86 will always try to
    // place all the data below the 4GiB boundary"); the entry runs with paging off.
    InitrdLocation initrd = TRY(place_initrd(placement, request, arch::kIdentityMapEnd));

    TRY_VOID(arch::write_boot_gdt(mem));
    TRY_VOID(mem.write_obj(kStartInfoAddr, std::array<uint8_t, arch::kPageSize>{}));
    std::vector<arch::E820Entry> map = arch::build_e820(mem);
    TRY_VOID(write_memmap(mem, map));

    hvm_start_info info{};
    info.magic = XEN_HVM_START_MAGIC_VALUE;
    info.version = 1;
    info.cmdline_paddr = arch::kCmdlineAddr;
    info.memmap_paddr = kMemmapAddr;
    info.memmap_entries = static_cast<uint32_t>(map.size());
    info.rsdp_paddr = request.rsdp_addr;
    if (initrd.size != 0) {
        hvm_modlist_entry module{};
        module.paddr = initrd.addr;
        module.size = initrd.size;
        TRY_VOID(mem.write_obj(kModlistAddr, module));
        info.nr_modules = 1;
        info.modlist_paddr = kModlistAddr;
    }
    TRY_VOID(mem.write_obj(kStartInfoAddr, info));

    BootSetup setup{KernelFormat::Pvh, arch::protected_mode_flat_state(entry), ApStart::WaitForSipi};
    setup.bsp.gpr[hv::RBX] = kStartInfoAddr;
    setup.bsp.gpr[hv::RSP] = arch::kBootStackTop;
    return setup;
}

}  // namespace popek::loader
