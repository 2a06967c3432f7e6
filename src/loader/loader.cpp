#include "loader/loader.h"

#include "loader/bzimage.h"
#include "loader/elf.h"
#include "loader/multiboot.h"
#include "loader/own_guest.h"
#include "loader/placement.h"
#include "loader/pvh.h"

namespace popek::loader {
namespace {

Result<BootSetup> load_elf(const memory::GuestMemory& mem, const LoadRequest& request) {
    ElfFile elf = TRY(ElfFile::parse(request.kernel));
    Placement placement(mem);
    if (auto entry = TRY(pvh_entry(elf))) return load_pvh(elf, *entry, request.kernel, request, placement);
    if (!elf.is_64) {
        if (auto header = find_multiboot_header(request.kernel))
            return load_multiboot(elf, *header, request.kernel, request, placement);
        return fail("32-bit ELF with neither a Xen PVH entry note nor a multiboot header: popek cannot boot it");
    }
    return load_own_guest(elf, request.kernel, request, placement);
}

}  // namespace

Result<BootSetup> load_kernel(const memory::GuestMemory& mem, const LoadRequest& request) {
    if (request.vcpus < 1) return fail("{} vCPUs requested", request.vcpus);
    if (is_elf(request.kernel)) return load_elf(mem, request);
    if (is_bzimage(request.kernel)) {
        Placement placement(mem);
        return load_bzimage(request.kernel, request, placement);
    }
    return fail("not an ELF or bzImage ({} bytes, no ELF magic, no \"HdrS\" at 0x202)", request.kernel.size());
}

hv::CpuState ap_entry_state(const BootSetup& setup, int index, int count) {
    if (setup.ap_start != ApStart::AtEntry) return setup.bsp;
    return own_guest_vcpu_state(setup.bsp, index, count);
}

std::string_view format_name(KernelFormat f) {
    switch (f) {
        case KernelFormat::Pvh: return "pvh";
        case KernelFormat::BzImage: return "bzimage";
        case KernelFormat::Elf64: return "elf64";
        case KernelFormat::Multiboot: return "multiboot";
    }
    return "?";
}

}  // namespace popek::loader
