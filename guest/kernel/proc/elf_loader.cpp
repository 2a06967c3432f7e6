#include "proc/elf_loader.h"

#include "common/string.h"
#include "fs/file_service.h"
#include "mm/address_space.h"
#include "mm/pmm.h"
#include "popek_os/abi.h"

namespace pos {
namespace {

// ELF64 header and program header (System V gABI, ch. 4 and 5).
struct Elf64Header {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Elf64Phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
static_assert(sizeof(Elf64Header) == 64 && sizeof(Elf64Phdr) == 56);
constexpr uint32_t kPtLoad = 1, kPfW = 2;
constexpr uint16_t kEtExec = 2, kEmX8664 = 62;
constexpr int kMaxPhdrs = 16;

int load_segment(const FileService& fs, int file, AddressSpace& space, const Elf64Phdr& ph) {
    uint64_t start = ph.vaddr & ~(kPageSize - 1);
    uint64_t end = (ph.vaddr + ph.memsz + kPageSize - 1) & ~(kPageSize - 1);
    for (uint64_t page = start; page < end; page += kPageSize) {
        uint64_t phys = space.map_new_page(page, (ph.flags & kPfW) != 0);
        if (phys == 0) return -POS_ENOMEM;
        // The part of [vaddr, vaddr+filesz) inside this page comes from the file; the rest is zero.
        uint64_t lo = page > ph.vaddr ? page : ph.vaddr;
        uint64_t hi = page + kPageSize < ph.vaddr + ph.filesz ? page + kPageSize : ph.vaddr + ph.filesz;
        if (lo < hi) {
            long got = fs.read(file, ph.offset + (lo - ph.vaddr), phys_to_virt<uint8_t>(phys) + (lo - page), hi - lo);
            if (got != static_cast<long>(hi - lo)) return -POS_ENOEXEC;
        }
    }
    return 0;
}

}  // namespace

int elf_load(const FileService& fs, int file, AddressSpace& space, uint64_t* entry) {
    Elf64Header eh;
    if (fs.read(file, 0, &eh, sizeof eh) != static_cast<long>(sizeof eh)) return -POS_ENOEXEC;
    if (memcmp(eh.ident, "\x7f" "ELF", 4) != 0 || eh.ident[4] != 2 || eh.ident[5] != 1 || eh.type != kEtExec ||
        eh.machine != kEmX8664 || eh.phentsize != sizeof(Elf64Phdr) || eh.phnum == 0 || eh.phnum > kMaxPhdrs)
        return -POS_ENOEXEC;
    bool entry_loaded = false;
    for (uint16_t i = 0; i < eh.phnum; ++i) {
        Elf64Phdr ph;
        if (fs.read(file, eh.phoff + i * sizeof ph, &ph, sizeof ph) != static_cast<long>(sizeof ph)) return -POS_ENOEXEC;
        if (ph.type != kPtLoad || ph.memsz == 0) continue;
        // Keep segments inside [kUserMin, stack area) and make the arithmetic overflow-free.
        uint64_t limit = POS_USER_TLS_BASE;   // below the TLS block and the stack
        if (ph.filesz > ph.memsz || ph.vaddr < kUserMin || ph.vaddr >= limit || ph.memsz > limit - ph.vaddr ||
            ph.offset > (uint64_t{1} << 40) || ph.filesz > (uint64_t{1} << 40))
            return -POS_ENOEXEC;
        if (int err = load_segment(fs, file, space, ph); err != 0) return err;
        if (eh.entry >= ph.vaddr && eh.entry < ph.vaddr + ph.memsz) entry_loaded = true;
    }
    if (!entry_loaded) return -POS_ENOEXEC;
    *entry = eh.entry;
    return 0;
}

}  // namespace pos
