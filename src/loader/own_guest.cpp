#include "loader/own_guest.h"

#include "arch/x86_64/boot_cpu.h"
#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/page_tables.h"
#include "arch/x86_64/segments.h"
#include "loader/elf_segments.h"
#include "loader/initrd.h"

namespace popek::loader {

Result<BootSetup> load_own_guest(const ElfFile& elf, std::span<const uint8_t> image, const LoadRequest& request,
                                 Placement& placement) {
    if (request.vcpus < 1 || request.vcpus > arch::kMaxOwnGuestVcpus)
        return fail("the own-guest ABI supports 1..{} vCPUs (one 16 KiB stack each below 640 KiB), {} requested",
                    arch::kMaxOwnGuestVcpus, request.vcpus);
    const memory::GuestMemory& mem = placement.mem();
    // The own ABI has no ACPI: the BIOS area stays free for the guest.
    TRY_VOID(placement.claim_boot_area(request.cmdline, arch::kCmdlineMax, false, false));
    TRY_VOID(placement.claim(arch::kPageTablesAddr, arch::kPageTablesSize, "boot page tables"));
    TRY_VOID(placement.claim(arch::kStacksAddr, arch::kStackSize * static_cast<uint64_t>(request.vcpus),
                             "vCPU stacks"));
    LoadedImage loaded = TRY(load_elf_segments(elf, image, placement, request.kernel_reader));
    if (loaded.end > arch::kIdentityMapEnd)
        return fail("ELF segments end at {:#x}, above the identity-mapped low 4 GiB", loaded.end);
    TRY_VOID(check_entry_loaded(elf, elf.entry));
    InitrdLocation initrd = TRY(place_initrd(placement, request, arch::kIdentityMapEnd));

    TRY_VOID(arch::write_boot_gdt(mem));
    uint64_t cr3 = TRY(arch::write_identity_map(mem));
    // SCE so test guests can use SYSCALL/SYSRET for their ring-3 parts without touching EFER.
    BootSetup setup{KernelFormat::Elf64, arch::long_mode_state(elf.entry, cr3, hv::kEferSce), ApStart::AtEntry};
    auto& gpr = setup.bsp.gpr;
    gpr[hv::RDX] = request.cmdline.empty() ? 0 : arch::kCmdlineAddr;
    gpr[hv::RCX] = initrd.addr;
    gpr[hv::R8] = initrd.size;
    setup.bsp = own_guest_vcpu_state(setup.bsp, 0, request.vcpus);
    return setup;
}

hv::CpuState own_guest_vcpu_state(const hv::CpuState& bsp, int index, int count) {
    hv::CpuState st = bsp;
    st.gpr[hv::RDI] = static_cast<uint64_t>(index);
    st.gpr[hv::RSI] = static_cast<uint64_t>(count);
    st.gpr[hv::RSP] = arch::kStacksAddr + arch::kStackSize * (static_cast<uint64_t>(index) + 1);
    return st;
}

}  // namespace popek::loader
