// `--share DIR[,ro]` with --xen: the popekfs back end (pv::ShareDevice) driven by a front end written
// against include/popek/pvabi/fsif.h (tests/guests/xen/xen_share.c). The test builds DIR with files,
// symlinks that point out of it and a FIFO, lets the guest work and attack it, and checks DIR and the
// files outside it after popek exits.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "xen_guest.h"

namespace popek::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The guest's row for one check (pv_check's format in tests/guests/xen/pv_rt.c).
std::string row(std::string_view name, long got, long want) {
    return fmt::format("{:<32} got={} want={} {}", name, got, want, got == want ? "PASS" : "FAIL");
}

void put(const fs::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

/// A temporary tree: root/share is DIR, root/outside.txt and root/outside/ are outside it.
class ShareTree {
public:
    ShareTree() {
        char tmpl[] = "/tmp/popek-share-XXXXXX";
        EXPECT_NE(::mkdtemp(tmpl), nullptr);
        m_root = tmpl;
        fs::create_directories(dir() / "sub");
        fs::create_directories(m_root / "outside");
        put(dir() / "hello.txt", "hello from the host\n");
        put(dir() / "sub" / "inner.txt", "inner\n");
        put(m_root / "outside.txt", "secret outside the share\n");
        put(m_root / "outside" / "passwd", "outside passwd\n");
        put(m_root / "x", "x outside\n");
        fs::create_symlink(m_root / "outside.txt", dir() / "escape");
        fs::create_directory_symlink(m_root / "outside", dir() / "linkdir");
        fs::create_directory_symlink("..", dir() / "sub" / "up");
        EXPECT_EQ(::mkfifo((dir() / "fifo").c_str(), 0644), 0);
    }
    ~ShareTree() {
        std::error_code ec;
        fs::remove_all(m_root, ec);
    }
    fs::path dir() const { return m_root / "share"; }
    const fs::path& root() const { return m_root; }
    /// Every path below the root (symlinks not followed), sorted.
    std::vector<std::string> listing() const {
        std::vector<std::string> out;
        for (auto& e : fs::recursive_directory_iterator(m_root)) out.push_back(e.path().lexically_relative(m_root).string());
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    fs::path m_root;
};

class XenShareTest : public XenGuestTest {};

TEST_P(XenShareTest, RoundTripsAndEscapesRefused) {
    ShareTree tree;
    RUN_XEN(r, "xen_share", {"--share", tree.dir().string()});
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("share: connected, mode w, ring 32"));
    EXPECT_THAT(r.out, HasSubstr("share: ls: big.bin/1 escape/3 fifo/3 guest.txt/1 hello.txt/1 linkdir/3 made/2 sub/2"));
    EXPECT_THAT(r.out, HasSubstr(row("escape.symlink-file", -ELOOP, -ELOOP)));

    // What the guest wrote is in DIR; what it tried to reach outside is untouched.
    EXPECT_EQ(slurp(tree.dir() / "guest.txt"), "written by the guest\n");
    std::string big = slurp(tree.dir() / "big.bin");
    ASSERT_EQ(big.size(), 20000u);
    size_t wrong = 0;
    for (uint32_t i = 0; i < big.size(); ++i) wrong += static_cast<uint8_t>(big[i]) != static_cast<uint8_t>(i * 31 + (i >> 8) + 1);
    EXPECT_EQ(wrong, 0u);
    EXPECT_TRUE(fs::is_directory(tree.dir() / "made"));
    EXPECT_FALSE(fs::exists(tree.dir() / "tmpdir"));
    EXPECT_EQ(slurp(tree.dir() / "hello.txt"), "hello from the host\n");
    EXPECT_EQ(slurp(tree.root() / "outside.txt"), "secret outside the share\n");
    EXPECT_EQ(slurp(tree.root() / "outside" / "passwd"), "outside passwd\n");
    EXPECT_EQ(slurp(tree.root() / "x"), "x outside\n");
    EXPECT_TRUE(fs::is_symlink(tree.dir() / "escape"));
    const std::vector<std::string> expected = {
        "outside", "outside.txt", "outside/passwd", "share", "share/big.bin", "share/escape", "share/fifo",
        "share/guest.txt", "share/hello.txt", "share/linkdir", "share/made", "share/sub", "share/sub/inner.txt",
        "share/sub/up", "x"};
    EXPECT_EQ(tree.listing(), expected);
}

TEST_P(XenShareTest, ReadOnlyShareRefusesWrites) {
    ShareTree tree;
    auto before = tree.listing();
    RUN_XEN(r, "xen_share", {"--share", tree.dir().string() + ",ro"});
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("share: connected, mode r"));
    EXPECT_THAT(r.out, HasSubstr(row("ro.open-write", -EROFS, -EROFS)));
    EXPECT_EQ(tree.listing(), before);
    EXPECT_EQ(slurp(tree.dir() / "hello.txt"), "hello from the host\n");
}

TEST_P(XenShareTest, MissingOrNonDirectoryIsOneClearError) {
    ShareTree tree;
    for (std::string dir : {std::string("/nonexistent/popek-share"), (tree.dir() / "hello.txt").string()}) {
        RUN_XEN(r, "xen_share", {"--share", dir});
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_THAT(r.err, HasSubstr("--share " + dir));
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
}

TEST_P(XenShareTest, NoShareMeansNoDevice) {
    RUN_XEN(r, "xen_share");
    EXPECT_THAT(r.out, HasSubstr(row("share.connect", -ENOENT, 0)));
    EXPECT_NE(r.status, 0);
}

INSTANTIATE_FOR_ENGINES(XenShareTest);

}  // namespace
}  // namespace popek::test
