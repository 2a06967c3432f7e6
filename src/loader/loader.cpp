#include "loader/loader.h"

namespace popek::loader {

Result<BootSetup> load_kernel(const memory::GuestMemory&, const LoadRequest&) {
    return fail("loader: not implemented yet");
}
hv::CpuState ap_entry_state(const BootSetup& setup, int, int) { return setup.bsp; }
std::string_view format_name(KernelFormat f) {
    switch (f) {
        case KernelFormat::Pvh: return "pvh";
        case KernelFormat::BzImage: return "bzimage";
        case KernelFormat::Elf64: return "elf64";
    }
    return "?";
}

}  // namespace popek::loader
