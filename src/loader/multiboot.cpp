#include "loader/multiboot.h"

#include <cstddef>
#include <string>
#include <vector>

#include "arch/x86_64/boot_cpu.h"
#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/segments.h"
#include "loader/byte_reader.h"
#include "loader/elf_segments.h"

namespace popek::loader {
namespace {

// Header flags (spec 3.1.2). Bits 0-15 are requirements a boot loader must refuse when it cannot
// meet them; bits 16-31 are optional.
constexpr uint32_t kFlagPageAlignModules = 1u << 0;
constexpr uint32_t kFlagMemoryInfo = 1u << 1;
constexpr uint32_t kFlagVideoMode = 1u << 2;
constexpr uint32_t kRequirementMask = 0xffff;
constexpr uint32_t kFlagAddressFields = 1u << 16;

// Information flags (spec 3.3): which fields of the block are valid.
constexpr uint32_t kInfoMemory = 1u << 0;
constexpr uint32_t kInfoCmdline = 1u << 2;
constexpr uint32_t kInfoModules = 1u << 3;
constexpr uint32_t kInfoMemoryMap = 1u << 6;
constexpr uint32_t kInfoBootLoaderName = 1u << 9;

/// The multiboot information block (spec 3.3 "Boot information format"), up to the VBE fields.
struct MultibootInfo {
    uint32_t flags;
    uint32_t mem_lower;          ///< KiB of RAM from 0 (at most 640)
    uint32_t mem_upper;          ///< KiB of RAM from 1 MiB up to the first hole
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;        ///< bytes of memory map
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
    uint32_t vbe_control_info;
    uint32_t vbe_mode_info;
    uint16_t vbe_mode;
    uint16_t vbe_interface_seg;
    uint16_t vbe_interface_off;
    uint16_t vbe_interface_len;
};
static_assert(sizeof(MultibootInfo) == 88);
static_assert(offsetof(MultibootInfo, mmap_length) == 44 && offsetof(MultibootInfo, boot_loader_name) == 64);

/// One module (spec 3.3, "mods_addr"): [mod_start, mod_end) and its string.
struct MultibootModule {
    uint32_t mod_start;
    uint32_t mod_end;
    uint32_t string;
    uint32_t reserved;
};
static_assert(sizeof(MultibootModule) == 16);

/// One memory map entry (spec 3.3, "mmap_addr"); `size` counts the bytes after itself.
struct [[gnu::packed]] MultibootMmapEntry {
    uint32_t size;
    uint64_t base_addr;
    uint64_t length;
    uint32_t type;   ///< 1 RAM, 3 ACPI, 4 NVS, 5 bad, anything else reserved: the E820 values
};
static_assert(sizeof(MultibootMmapEntry) == 24);

constexpr char kBootLoaderName[] = "popek";

/// Where each piece of the boot data goes, as offsets into one block placed high in low RAM.
struct BootDataLayout {
    static constexpr uint64_t kInfo = 0;
    static constexpr uint64_t kModule = 0x60;
    static constexpr uint64_t kGdt = 0x80;
    static constexpr uint64_t kLoaderName = 0xb0;
    static constexpr uint64_t kMmap = 0xc0;
    uint64_t cmdline = 0;
    uint64_t module_string = 0;
    uint64_t size = 0;

    BootDataLayout(size_t mmap_entries, size_t cmdline_len, size_t module_string_len) {
        cmdline = kMmap + mmap_entries * sizeof(MultibootMmapEntry);
        module_string = cmdline + cmdline_len + 1;
        size = module_string + module_string_len + 1;
    }
};
static_assert(BootDataLayout::kModule >= sizeof(MultibootInfo));
static_assert(BootDataLayout::kGdt >= BootDataLayout::kModule + sizeof(MultibootModule));
static_assert(BootDataLayout::kLoaderName >= BootDataLayout::kGdt + 6 * 8);
static_assert(BootDataLayout::kMmap >= BootDataLayout::kLoaderName + sizeof(kBootLoaderName));

Result<void> check_flags(uint32_t flags) {
    if (flags & kFlagVideoMode)
        return fail("multiboot header requires a video mode (flags bit 2): popek has no framebuffer");
    uint32_t unknown = flags & kRequirementMask & ~(kFlagPageAlignModules | kFlagMemoryInfo);
    if (unknown != 0)
        return fail("multiboot header has requirement flags {:#x} popek does not know, so it must refuse the image",
                    unknown);
    if (flags & kFlagAddressFields)
        return fail("multiboot header flags bit 16 (load by the header's address fields) is not supported: "
                    "popek loads the ELF program headers");
    return {};
}

/// e_entry is a virtual address; the CPU starts with paging off, so it is translated through the
/// PT_LOAD that holds it (as GRUB does for kernels linked above their load address).
Result<uint64_t> physical_entry(const ElfFile& elf) {
    for (const ElfSegment& s : elf.segments)
        if (s.type == kPtLoad && elf.entry >= s.vaddr && elf.entry - s.vaddr < s.filesz)
            return s.paddr + (elf.entry - s.vaddr);
    return fail("multiboot entry point {:#x} is not inside a loaded ELF segment", elf.entry);
}

/// The command line the kernel sees: QEMU and GRUB put the kernel's own name first.
Result<std::string> kernel_cmdline(const LoadRequest& request) {
    std::string line = request.kernel_name;
    if (!request.cmdline.empty()) line += (line.empty() ? "" : " ") + request.cmdline;
    if (line.size() > arch::kCmdlineMax)
        return fail("command line (with the kernel name) is {} bytes, the limit is {}", line.size(), arch::kCmdlineMax);
    if (line.find('\0') != std::string::npos) return fail("command line contains a NUL byte");
    return line;
}

Result<void> write_string(const memory::GuestMemory& mem, uint64_t gpa, std::string_view s) {
    std::vector<uint8_t> bytes(s.begin(), s.end());
    bytes.push_back(0);
    return mem.write(gpa, bytes);
}

/// mem_lower / mem_upper from the map: RAM at 0 (capped at 640 KiB) and RAM from 1 MiB.
void fill_memory_sizes(MultibootInfo& info, const std::vector<arch::E820Entry>& map) {
    for (const arch::E820Entry& e : map) {
        if (e.type != arch::E820Type::Ram) continue;
        if (e.addr == 0) info.mem_lower = static_cast<uint32_t>(std::min<uint64_t>(e.size, 640 * 1024) / 1024);
        if (e.addr == arch::kOneMiB)
            info.mem_upper = static_cast<uint32_t>(std::min<uint64_t>(e.size / 1024, UINT32_MAX));
    }
}

}  // namespace

std::optional<MultibootHeader> find_multiboot_header(std::span<const uint8_t> image) {
    const uint64_t end = std::min<uint64_t>(image.size(), kMultibootSearchLimit);
    for (uint64_t off = 0; off + 12 <= end; off += 4) {
        if (read_le_unchecked<uint32_t>(image, off) != kMultibootHeaderMagic) continue;
        uint32_t flags = read_le_unchecked<uint32_t>(image, off + 4);
        uint32_t checksum = read_le_unchecked<uint32_t>(image, off + 8);
        if (static_cast<uint32_t>(kMultibootHeaderMagic + flags + checksum) == 0) return MultibootHeader{off, flags};
    }
    return std::nullopt;
}

Result<BootSetup> load_multiboot(const ElfFile& elf, const MultibootHeader& header, std::span<const uint8_t> image,
                                 const LoadRequest& request, Placement& placement) {
    if (elf.is_64 || elf.machine != kEmX86)
        return fail("multiboot kernel is ELF{} machine {}: multiboot v1 boots ELF32 i386 (EM_386) images",
                    elf.is_64 ? 64 : 32, elf.machine);
    TRY_VOID(check_flags(header.flags));
    const memory::GuestMemory& mem = placement.mem();
    if (request.rsdp_addr != 0)
        TRY_VOID(placement.claim(arch::kBiosAreaStart, arch::kOneMiB - arch::kBiosAreaStart, "ACPI tables"));
    TRY_VOID(load_elf_segments(elf, image, placement, request.kernel_reader));
    uint64_t entry = TRY(physical_entry(elf));

    // The boot data and the module go as high as possible below 4 GiB, above the image: out of
    // the way of a kernel that takes [its end, mem_upper) as its heap, as kvm-unit-tests does.
    const std::vector<arch::E820Entry> map = arch::build_e820(mem);
    const std::string cmdline = TRY(kernel_cmdline(request));
    const std::string module_string = request.initrd_name.substr(0, arch::kCmdlineMax);
    const BootDataLayout layout(map.size(), cmdline.size(), module_string.size());
    const uint64_t floor = placement.highest_end_below(arch::kIdentityMapEnd);
    const uint64_t block = TRY(placement.claim_highest(*align_up(layout.size, arch::kPageSize), arch::kPageSize, floor,
                                                       arch::kIdentityMapEnd, "multiboot information"));
    MultibootInfo info{};
    info.flags = kInfoMemory | kInfoCmdline | kInfoModules | kInfoMemoryMap | kInfoBootLoaderName;
    fill_memory_sizes(info, map);
    info.cmdline = static_cast<uint32_t>(block + layout.cmdline);
    info.boot_loader_name = static_cast<uint32_t>(block + BootDataLayout::kLoaderName);
    info.mmap_addr = static_cast<uint32_t>(block + BootDataLayout::kMmap);
    info.mmap_length = static_cast<uint32_t>(map.size() * sizeof(MultibootMmapEntry));
    if (const uint64_t size = request.initrd_size(); size != 0) {
        uint64_t addr = TRY(placement.claim_highest(size, arch::kPageSize, floor, arch::kIdentityMapEnd,
                                                    "initrd (multiboot module)"));
        const std::span<uint8_t> ram = TRY(mem.slice(addr, size));
        TRY_VOID(request.copy_initrd(ram));
        MultibootModule module{static_cast<uint32_t>(addr), static_cast<uint32_t>(addr + size),
                               static_cast<uint32_t>(block + layout.module_string), 0};
        TRY_VOID(mem.write_obj(block + BootDataLayout::kModule, module));
        info.mods_count = 1;
        info.mods_addr = static_cast<uint32_t>(block + BootDataLayout::kModule);
    }
    for (size_t i = 0; i < map.size(); ++i) {
        MultibootMmapEntry e{sizeof(MultibootMmapEntry) - sizeof(uint32_t), map[i].addr, map[i].size,
                             static_cast<uint32_t>(map[i].type)};
        TRY_VOID(mem.write_obj(block + BootDataLayout::kMmap + i * sizeof(e), e));
    }
    TRY_VOID(mem.write_obj(block + BootDataLayout::kInfo, info));
    TRY_VOID(mem.write_obj(block + BootDataLayout::kGdt, arch::boot_gdt_entries()));
    TRY_VOID(write_string(mem, block + BootDataLayout::kLoaderName, kBootLoaderName));
    TRY_VOID(write_string(mem, block + layout.cmdline, cmdline));
    TRY_VOID(write_string(mem, block + layout.module_string, module_string));

    // Spec 3.2: CS/DS/ES/FS/GS/SS flat 4 GiB, PE set and PG clear, IF and VM clear; the GDTR is
    // the guest's business (popek's copy of its boot GDT makes the selectors it holds valid).
    BootSetup setup{KernelFormat::Multiboot, arch::protected_mode_flat_state(entry), ApStart::WaitForSipi};
    setup.bsp.gdt.base = block + BootDataLayout::kGdt;
    setup.bsp.gpr[hv::RAX] = kMultibootBootMagic;
    setup.bsp.gpr[hv::RBX] = block + BootDataLayout::kInfo;
    return setup;
}

}  // namespace popek::loader
