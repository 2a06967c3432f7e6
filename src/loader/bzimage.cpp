#include "loader/bzimage.h"

#include <asm/bootparam.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>

#include "arch/x86_64/boot_cpu.h"
#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/page_tables.h"
#include "arch/x86_64/segments.h"
#include "loader/byte_reader.h"
#include "loader/initrd.h"

namespace popek::loader {
namespace {

// boot.rst facts. The setup header sits at the same offset in the file and in boot_params.
constexpr uint64_t kHdrOffset = offsetof(boot_params, hdr);  // 0x1f1
static_assert(kHdrOffset == 0x1f1 && sizeof(boot_params) == 4096);
constexpr uint64_t kBootFlagOffset = 0x1fe;
constexpr uint64_t kJumpOffset = 0x200;        ///< 2-byte short jump; its second byte bounds the header
constexpr uint64_t kMagicOffset = 0x202;
constexpr uint64_t kVersionOffset = 0x206;
constexpr uint32_t kHdrMagic = 0x53726448;     ///< "HdrS"
constexpr uint16_t kBootFlag = 0xaa55;
constexpr uint16_t kMinVersion = 0x020c;       ///< 2.12: xloadflags, XLF_KERNEL_64
constexpr uint64_t kHdrNeededEnd = kHdrOffset + offsetof(setup_header, init_size) + sizeof(uint32_t);
constexpr uint64_t kEntry64Offset = 0x200;     ///< 64-bit entry: load address + 0x200
constexpr uint8_t kLoaderUndefined = 0xff;     ///< type_of_loader for boot loaders without an ID

/// Field offset in the file/zero page.
constexpr uint64_t hdr_field(size_t field_offset) { return kHdrOffset + field_offset; }

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

struct KernelLayout {
    uint64_t setup_size;   ///< bytes of real-mode setup before the protected-mode kernel
    uint64_t load_addr;
    uint64_t reserve;      ///< bytes claimed at load_addr: max(init_size, payload)
};

/// Checks the header copied into `bp` and decides where the kernel goes.
Result<KernelLayout> plan_kernel(std::span<const uint8_t> image, const setup_header& hdr) {
    if (!(hdr.xloadflags & XLF_KERNEL_64))
        return fail("bzImage has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags {:#x})",
                    static_cast<unsigned>(hdr.xloadflags));
    uint64_t setup_sects = hdr.setup_sects == 0 ? 4 : hdr.setup_sects;  // 0 means 4 (boot.rst)
    uint64_t setup_size = (setup_sects + 1) * 512;
    if (setup_size >= image.size())
        return fail("bzImage setup_sects {} puts the kernel at {:#x}, past the end of the {}-byte file", setup_sects,
                    setup_size, image.size());
    uint64_t payload = image.size() - setup_size;
    uint64_t syssize_bytes = uint64_t{hdr.syssize} * 16;
    if (syssize_bytes > payload + 15)
        return fail("bzImage syssize says {} bytes of kernel, only {} follow the setup", syssize_bytes, payload);
    if (hdr.init_size == 0) return fail("bzImage init_size is 0");
    uint64_t load = hdr.pref_address != 0 ? hdr.pref_address : arch::kOneMiB;
    if (hdr.relocatable_kernel) {
        if (!is_power_of_two(hdr.kernel_alignment))
            return fail("bzImage kernel_alignment {:#x} is not a power of two", hdr.kernel_alignment);
        auto aligned = align_up(load, hdr.kernel_alignment);
        if (!aligned) return fail("bzImage pref_address {:#x} cannot be aligned", load);
        load = *aligned;
    }
    if (load < arch::kOneMiB || load >= arch::kIdentityMapEnd)
        return fail("bzImage load address {:#x} is outside [1 MiB, 4 GiB)", load);
    return KernelLayout{setup_size, load, std::max<uint64_t>(hdr.init_size, payload)};
}

Result<void> fill_e820(boot_params& bp, const memory::GuestMemory& mem) {
    std::vector<arch::E820Entry> map = arch::build_e820(mem);
    if (map.size() > E820_MAX_ENTRIES_ZEROPAGE)
        return fail("memory map has {} entries, the zero page holds {}", map.size(), E820_MAX_ENTRIES_ZEROPAGE);
    for (size_t i = 0; i < map.size(); ++i) {
        bp.e820_table[i].addr = map[i].addr;
        bp.e820_table[i].size = map[i].size;
        bp.e820_table[i].type = static_cast<uint32_t>(map[i].type);
    }
    bp.e820_entries = static_cast<uint8_t>(map.size());
    return {};
}

}  // namespace

bool is_bzimage(std::span<const uint8_t> image) { return read_le<uint32_t>(image, kMagicOffset) == kHdrMagic; }

Result<BootSetup> load_bzimage(std::span<const uint8_t> image, const LoadRequest& request, Placement& placement) {
    if (!is_bzimage(image)) return fail("not a bzImage (no \"HdrS\" at {:#x})", kMagicOffset);
    auto boot_flag = read_le<uint16_t>(image, kBootFlagOffset);
    if (boot_flag != kBootFlag) return fail("bzImage boot_flag is {:#x}, not 0xaa55", boot_flag.value_or(0));
    auto version = read_le<uint16_t>(image, kVersionOffset);
    if (!version) return fail("bzImage truncated before its protocol version");
    if (*version < kMinVersion)
        return fail("bzImage boot protocol {}.{:02} is too old (64-bit entry needs 2.12)", *version >> 8, *version & 0xff);
    // The header runs up to 0x202 + the jump's displacement byte (boot.rst "The Real-Mode Kernel Header").
    uint64_t hdr_end = std::min<uint64_t>(kJumpOffset + 2 + image[kJumpOffset + 1], kHdrOffset + sizeof(setup_header));
    if (hdr_end < kHdrNeededEnd)
        return fail("bzImage setup header ends at {:#x}, protocol 2.12 needs up to {:#x}", hdr_end, kHdrNeededEnd);
    if (hdr_end > image.size()) return fail("bzImage setup header extends past end of file");

    auto bp = std::make_unique<boot_params>();
    std::memset(bp.get(), 0, sizeof(boot_params));
    std::memcpy(reinterpret_cast<uint8_t*>(bp.get()) + kHdrOffset, image.data() + kHdrOffset, hdr_end - kHdrOffset);
    setup_header& hdr = bp->hdr;
    KernelLayout layout = TRY(plan_kernel(image, hdr));
    uint64_t cmdline_max = std::min<uint64_t>(arch::kCmdlineMax, hdr.cmdline_size);

    const memory::GuestMemory& mem = placement.mem();
    TRY_VOID(placement.claim_boot_area(request.cmdline, cmdline_max, true, request.rsdp_addr != 0));
    TRY_VOID(placement.claim(arch::kPageTablesAddr, arch::kPageTablesSize, "boot page tables"));
    TRY_VOID(placement.claim(arch::kBootInfoAddr, arch::kPageSize, "boot_params"));
    TRY_VOID(placement.claim(layout.load_addr, layout.reserve, "kernel (init_size)"));
    TRY_VOID(mem.write(layout.load_addr, image.subspan(layout.setup_size)));
    // initrd_addr_max is the highest address the initrd's last byte may occupy.
    uint64_t initrd_limit = std::min<uint64_t>(uint64_t{hdr.initrd_addr_max} + 1, arch::kIdentityMapEnd);
    // A limit below the kernel's own end cannot be helped by more RAM: say which header field it is.
    const uint64_t initrd_floor = placement.highest_end_below(initrd_limit);
    if (request.initrd_size() != 0 &&
        (initrd_limit <= initrd_floor || initrd_limit - initrd_floor < request.initrd_size()))
        return fail("initrd ({} bytes) does not fit below the bzImage's initrd_addr_max {:#x} (the kernel and boot "
                    "data end at {:#x})", request.initrd_size(), uint32_t{hdr.initrd_addr_max}, initrd_floor);
    InitrdLocation initrd = TRY(place_initrd(placement, request, initrd_limit));

    hdr.type_of_loader = kLoaderUndefined;
    hdr.vid_mode = 0xffff;  // "normal" text mode
    hdr.code32_start = static_cast<uint32_t>(layout.load_addr);
    hdr.cmd_line_ptr = static_cast<uint32_t>(arch::kCmdlineAddr);
    hdr.ramdisk_image = static_cast<uint32_t>(initrd.addr);
    hdr.ramdisk_size = static_cast<uint32_t>(initrd.size);
    hdr.setup_data = 0;
    bp->acpi_rsdp_addr = request.rsdp_addr;
    TRY_VOID(fill_e820(*bp, mem));
    TRY_VOID(mem.write_obj(arch::kBootInfoAddr, *bp));

    TRY_VOID(arch::write_boot_gdt(mem));
    uint64_t cr3 = TRY(arch::write_identity_map(mem));
    BootSetup setup{KernelFormat::BzImage, arch::long_mode_state(layout.load_addr + kEntry64Offset, cr3, 0),
                    ApStart::WaitForSipi};
    setup.bsp.gpr[hv::RSI] = arch::kBootInfoAddr;
    setup.bsp.gpr[hv::RSP] = arch::kBootStackTop;
    return setup;
}

}  // namespace popek::loader
