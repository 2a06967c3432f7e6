#include "boot_info.h"

#include <xen/arch-x86/hvm/start_info.h>

#include "arch/x86.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/pmm.h"

extern "C" char __kernel_phys_start[], __kernel_end[];

namespace pos {
namespace {

bool mapped(uint64_t phys, uint64_t size) { return phys < kDirectMapLimit && size <= kDirectMapLimit - phys; }

uint8_t cmos_read(uint8_t reg) {
    x86::outb(0x70, reg);
    return x86::inb(0x71);
}

}  // namespace

BootInfo boot_info_init(uint64_t start_info_phys) {
    BootInfo out{};
    out.cmdline = "";
    if (!mapped(start_info_phys, sizeof(hvm_start_info))) return out;
    const auto* si = phys_to_virt<const hvm_start_info>(start_info_phys);
    if (si->magic != XEN_HVM_START_MAGIC_VALUE) return out;
    out.valid = true;
    out.version = si->version;
    out.rsdp = si->rsdp_paddr;

    pmm::reserve(reinterpret_cast<uint64_t>(__kernel_phys_start),
                 reinterpret_cast<uint64_t>(__kernel_end) - kKernelBase - reinterpret_cast<uint64_t>(__kernel_phys_start));
    pmm::reserve(start_info_phys, sizeof(hvm_start_info));
    if (si->cmdline_paddr != 0 && mapped(si->cmdline_paddr, 1)) {
        out.cmdline = phys_to_virt<const char>(si->cmdline_paddr);
        pmm::reserve(si->cmdline_paddr, strnlen(out.cmdline, 4096) + 1);
    }
    if (si->nr_modules > 0 && si->nr_modules < 64 &&
        mapped(si->modlist_paddr, si->nr_modules * sizeof(hvm_modlist_entry))) {
        pmm::reserve(si->modlist_paddr, si->nr_modules * sizeof(hvm_modlist_entry));
        const auto* mods = phys_to_virt<const hvm_modlist_entry>(si->modlist_paddr);
        for (uint32_t i = 0; i < si->nr_modules; ++i) {
            if (!mapped(mods[i].paddr, mods[i].size)) continue;
            pmm::reserve(mods[i].paddr, mods[i].size);
            if (out.module.data == nullptr) out.module = {phys_to_virt<const uint8_t>(mods[i].paddr), mods[i].size};
        }
    }
    bool have_map = si->version >= 1 && si->memmap_entries > 0 && si->memmap_entries < 128 &&
                    mapped(si->memmap_paddr, si->memmap_entries * sizeof(hvm_memmap_table_entry));
    if (have_map) {
        pmm::reserve(si->memmap_paddr, si->memmap_entries * sizeof(hvm_memmap_table_entry));
        const auto* map = phys_to_virt<const hvm_memmap_table_entry>(si->memmap_paddr);
        for (uint32_t i = 0; i < si->memmap_entries; ++i) {
            if (map[i].type != XEN_HVM_MEMMAP_TYPE_RAM) continue;
            pmm::add_ram(map[i].addr, map[i].size);
            ++out.ram_ranges;
        }
    } else {
        // No memory map: the CMOS holds RAM above 16 MiB in 64 KiB units (registers 0x34/0x35).
        uint64_t above16 = (uint64_t{cmos_read(0x35)} << 8 | cmos_read(0x34)) * 65536;
        pmm::add_ram(0x100000, 15 * 0x100000 + above16);
        out.ram_ranges = 1;
    }
    return out;
}

}  // namespace pos
