#pragma once
/// Kernel loaders: pick the format of a kernel image, place it in guest RAM with its boot
/// information, and describe the vCPU state it must be entered with.
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "hv/cpu_state.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::loader {

enum class KernelFormat { Pvh, BzImage, Elf64, Multiboot };

/// How application processors start.
enum class ApStart {
    WaitForSipi,  ///< PC way: APs wait for INIT/SIPI from the BSP (Linux)
    AtEntry,      ///< popek own-guest ABI: every vCPU starts at the entry (docs/guest-abi.md)
};

/// Reads `out.size()` bytes of a file from `offset` straight into `out` (guest RAM).
using RangeReader = std::function<Result<void>(uint64_t offset, std::span<uint8_t> out)>;

struct LoadRequest {
    std::span<const uint8_t> kernel;
    std::span<const uint8_t> initrd;   ///< empty: none
    std::string cmdline;
    int vcpus = 1;
    /// ACPI RSDP handed to PVH and bzImage kernels (0: no ACPI tables). The loader then reserves
    /// the BIOS area 0xE0000-0xFFFFF for the tables, which the caller writes (acpi/acpi_tables.h).
    uint64_t rsdp_addr = 0;
    /// The kernel's and the initrd's file names as the user gave them: a multiboot kernel's
    /// command line starts with its own name, and its module carries the initrd's name (as GRUB
    /// and QEMU pass them). Other protocols ignore them.
    std::string kernel_name = {};
    std::string initrd_name = {};
    /// Large files read on demand (vmm/input_file.h), so that guest RAM holds their only copy:
    /// with kernel_reader set, `kernel` holds just the ELF's metadata (fetch_elf_metadata) and
    /// PT_LOAD contents come through the reader; with initrd_reader set, `initrd` is empty and
    /// its initrd_reader_size bytes come through that reader.
    RangeReader kernel_reader = {};
    RangeReader initrd_reader = {};
    uint64_t initrd_reader_size = 0;

    uint64_t initrd_size() const { return initrd_reader ? initrd_reader_size : initrd.size(); }
    /// Fills `out` (initrd_size() bytes of guest RAM) with the initrd.
    Result<void> copy_initrd(std::span<uint8_t> out) const;
};

struct BootSetup {
    KernelFormat format;
    hv::CpuState bsp;
    ApStart ap_start = ApStart::WaitForSipi;
};

/// Detects the format (PVH note, multiboot header, bzImage header, plain ELF64) and loads it. Every field of the
/// image is validated; a malformed image is an error naming the reason, never an out-of-bounds read.
Result<BootSetup> load_kernel(const memory::GuestMemory& mem, const LoadRequest& request);

/// State of vCPU `index` for ApStart::AtEntry (rdi = index, rsi = count, own stack).
/// For other setups it returns the BSP state unchanged.
hv::CpuState ap_entry_state(const BootSetup& setup, int index, int count);

std::string_view format_name(KernelFormat f);

}  // namespace popek::loader
