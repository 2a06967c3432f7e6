// Kernel and initrd files read on demand (vmm/input_file.h): a large ELF's metadata up front, its
// segments and the initrd straight into guest RAM, with the same guest RAM as a whole read.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "loader/elf.h"
#include "loader/loader.h"
#include "loader_images.h"
#include "vmm/input_file.h"

namespace popek::vmm {
namespace {

class File {
public:
    explicit File(const std::vector<uint8_t>& bytes) {
        char tmpl[] = "/tmp/popek-input-file-test-XXXXXX";
        const int fd = ::mkstemp(tmpl);
        m_path = tmpl;
        EXPECT_GE(fd, 0);
        EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
        ::close(fd);
    }
    ~File() { ::unlink(m_path.c_str()); }
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 13 + (i >> 12));
    return v;
}

/// A PVH kernel whose first segment is 256 KiB, so its bytes lie past the up-front prefix.
std::vector<uint8_t> big_kernel(bool is_64, bool notes_in_section) {
    loader::test::ElfSpec spec = loader::test::pvh_spec(is_64, 4);
    spec.segments[0].data = pattern(256 << 10, 3);
    spec.segments[0].memsz = 0x50000;
    spec.segments.push_back({0x200000, pattern(5000, 9), 0x2000});
    spec.notes_in_section = notes_in_section;
    return loader::test::build_elf(spec);
}

constexpr uint64_t kMemSize = 16ull << 20;

struct Loaded {
    std::optional<memory::GuestMemory> mem;
    Result<loader::BootSetup> setup = fail("not loaded");
};

Loaded load(std::span<const uint8_t> kernel, std::span<const uint8_t> initrd, const InputFile* kernel_file,
            const InputFile* initrd_file) {
    Loaded out;
    auto m = memory::GuestMemory::create(kMemSize);
    EXPECT_TRUE(m);
    out.mem.emplace(std::move(*m));
    loader::LoadRequest req{kernel, initrd, "console=ttyS0", 1};
    if (kernel_file && kernel_file->on_demand)
        req.kernel_reader = [kernel_file](uint64_t o, std::span<uint8_t> b) { return kernel_file->read_at(o, b); };
    if (initrd_file && initrd_file->on_demand) {
        req.initrd_reader = [initrd_file](uint64_t o, std::span<uint8_t> b) { return initrd_file->read_at(o, b); };
        req.initrd_reader_size = initrd_file->size;
    }
    out.setup = loader::load_kernel(*out.mem, req);
    return out;
}

bool same_ram(const Loaded& a, const Loaded& b) {
    auto x = a.mem->slice(0, kMemSize), y = b.mem->slice(0, kMemSize);
    return x && y && std::memcmp(x->data(), y->data(), kMemSize) == 0;
}

TEST(InputFile, LargeElfIsReadOnDemandIntoTheSameGuestRam) {
    for (bool is_64 : {false, true}) {
        for (bool in_section : {false, true}) {
            SCOPED_TRACE(testing::Message() << "is_64=" << is_64 << " notes_in_section=" << in_section);
            const std::vector<uint8_t> image = big_kernel(is_64, in_section);
            const std::vector<uint8_t> initrd = pattern(100000, 77);
            File kfile(image), ifile(initrd);
            auto kernel = read_input_file(kfile.path(), "kernel", 1 << 30, ReadMode::ElfMetadata, 0);
            auto rd = read_input_file(ifile.path(), "initrd", 1 << 30, ReadMode::OnDemand, 0);
            ASSERT_TRUE(kernel && rd);
            ASSERT_TRUE(kernel->on_demand && rd->on_demand);
            EXPECT_TRUE(rd->bytes().empty());
            // The segment's bytes past the prefix were not read up front...
            auto full_elf = loader::ElfFile::parse(image);
            ASSERT_TRUE(full_elf);
            const uint64_t tail = full_elf->segments[0].offset + (200 << 10);
            EXPECT_EQ(kernel->bytes()[tail], 0);
            EXPECT_NE(image[tail], 0);
            // ...but all that the parser reads was.
            auto sparse_elf = loader::ElfFile::parse(kernel->bytes());
            ASSERT_TRUE(sparse_elf) << sparse_elf.error().message;
            EXPECT_EQ(sparse_elf->segments.size(), full_elf->segments.size());
            EXPECT_EQ(sparse_elf->notes.size(), full_elf->notes.size());
            Loaded whole = load(image, initrd, nullptr, nullptr);
            Loaded streamed = load(kernel->bytes(), {}, &*kernel, &*rd);
            ASSERT_TRUE(whole.setup) << whole.setup.error().message;
            ASSERT_TRUE(streamed.setup) << streamed.setup.error().message;
            EXPECT_EQ(streamed.setup->bsp.rip, whole.setup->bsp.rip);
            EXPECT_EQ(streamed.setup->bsp.gpr, whole.setup->bsp.gpr);
            EXPECT_TRUE(same_ram(whole, streamed));
        }
    }
}

TEST(InputFile, SmallFilesAndOtherFormatsAreReadWhole) {
    const std::vector<uint8_t> image = big_kernel(true, false);
    File kfile(image);
    auto small = read_input_file(kfile.path(), "kernel", 1 << 30, ReadMode::ElfMetadata);   // below 4 MiB
    ASSERT_TRUE(small);
    EXPECT_FALSE(small->on_demand);
    EXPECT_TRUE(std::equal(image.begin(), image.end(), small->bytes().begin(), small->bytes().end()));
    const std::vector<uint8_t> not_elf = pattern(300000, 1);   // a bzImage, or garbage: parsed whole
    File other(not_elf);
    auto whole = read_input_file(other.path(), "kernel", 1 << 30, ReadMode::ElfMetadata, 0);
    ASSERT_TRUE(whole);
    EXPECT_FALSE(whole->on_demand);
    EXPECT_TRUE(std::equal(not_elf.begin(), not_elf.end(), whole->bytes().begin(), whole->bytes().end()));
}

TEST(InputFile, ElfWithLyingTablesIsReadWholeAndRefusedAsBefore) {
    std::vector<uint8_t> image = big_kernel(true, true);
    loader::test::put(image, 40, image.size() - 8, 8);   // e_shoff: the section table runs past the end
    File kfile(image);
    auto file = read_input_file(kfile.path(), "kernel", 1 << 30, ReadMode::ElfMetadata, 0);
    ASSERT_TRUE(file);
    EXPECT_FALSE(file->on_demand);
    auto parsed = loader::ElfFile::parse(file->bytes());
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.error().message.find("section header table"), std::string::npos) << parsed.error().message;
}

TEST(InputFile, AFileThatShrinksBeforeLoadingFailsCleanly) {
    const std::vector<uint8_t> image = big_kernel(true, false);
    File kfile(image);
    auto kernel = read_input_file(kfile.path(), "kernel", 1 << 30, ReadMode::ElfMetadata, 0);
    ASSERT_TRUE(kernel && kernel->on_demand);
    ASSERT_EQ(::truncate(kfile.path().c_str(), 100000), 0);
    Loaded streamed = load(kernel->bytes(), {}, &*kernel, nullptr);
    ASSERT_FALSE(streamed.setup);
    EXPECT_NE(streamed.setup.error().message.find("shrank while being read"), std::string::npos)
        << streamed.setup.error().message;
    std::vector<uint8_t> out(16);
    auto past = kernel->read_at(image.size() - 8, out);
    ASSERT_FALSE(past);
    EXPECT_NE(past.error().message.find("past its end"), std::string::npos) << past.error().message;
}

}  // namespace
}  // namespace popek::vmm
