// XenConsoleMerge: a line a guest writes through both CONSOLEIO_write and the console ring is
// printed once; everything else is printed as it comes.
#include <gtest/gtest.h>

#include <string>

#include "vmm/xen_console_merge.h"

namespace popek::vmm {
namespace {

using Source = XenConsoleMerge::Source;

struct Merge : ::testing::Test {
    std::string out;
    XenConsoleMerge merge{[this](std::string_view s) { out.append(s); }};
};

TEST_F(Merge, XtfPrintsEachLineThroughTheHypercallThenTheRing) {
    for (std::string line : {"--- Xen Test Framework ---\r\n", "Hello World\r\n", "Test result: SUCCESS\r\n"}) {
        merge.write(Source::Hypercall, line);
        merge.write(Source::Ring, line);
    }
    EXPECT_EQ(out, "--- Xen Test Framework ---\r\nHello World\r\nTest result: SUCCESS\r\n");
}

TEST_F(Merge, TheRepeatMayArriveInPiecesAndInEitherOrder) {
    merge.write(Source::Ring, "abcdef\n");
    merge.write(Source::Hypercall, "abc");
    merge.write(Source::Hypercall, "def\n");
    merge.write(Source::Hypercall, "x\n");
    merge.write(Source::Hypercall, "y\n");
    merge.write(Source::Ring, "x\ny\n");
    EXPECT_EQ(out, "abcdef\nx\ny\n");
}

TEST_F(Merge, DifferentTextOnEachConsoleIsAllPrinted) {
    merge.write(Source::Ring, "ring only\n");
    merge.write(Source::Ring, "more ring\n");
    merge.write(Source::Hypercall, "emergency\n");
    merge.write(Source::Ring, "emergenXY\n");   // shares a prefix only: all of it is printed
    merge.write(Source::Hypercall, "emergency\n");
    EXPECT_EQ(out, "ring only\nmore ring\nemergency\nemergenXY\nemergency\n");
}

TEST_F(Merge, AHypercallOnlyLineBeforeADoubledOneIsSkippedOver) {
    merge.write(Source::Hypercall, "xen32: hello through console_io\n");
    merge.write(Source::Hypercall, "xen32: both consoles\n");
    merge.write(Source::Ring, "xen32: ");   // the ring read while the guest is still filling it
    merge.write(Source::Ring, "both consoles\n");
    merge.write(Source::Ring, "ring only\n");
    EXPECT_EQ(out, "xen32: hello through console_io\nxen32: both consoles\nring only\n");
}

TEST_F(Merge, ARepeatLongerThanWhatIsPendingPrintsTheRest) {
    merge.write(Source::Hypercall, "abc\n");
    merge.write(Source::Ring, "abc\ndef\n");
    merge.write(Source::Hypercall, "def\n");
    EXPECT_EQ(out, "abc\ndef\n");
}

TEST_F(Merge, OneConsoleAloneIsNeverSwallowed) {
    for (int i = 0; i < 3; ++i) merge.write(Source::Ring, "same line\n");
    EXPECT_EQ(out, "same line\nsame line\nsame line\n");
}

TEST_F(Merge, PendingTextIsBounded) {
    merge.write(Source::Hypercall, std::string(XenConsoleMerge::kMaxPending, 'a') + "tail");
    out.clear();
    merge.write(Source::Ring, "aaaa");   // the oldest bytes were forgotten: "tail" leads the rest
    EXPECT_EQ(out, "");
    merge.write(Source::Ring, std::string(XenConsoleMerge::kMaxPending - 8, 'a') + "tail");
    EXPECT_EQ(out, "");
    merge.write(Source::Ring, "new\n");
    EXPECT_EQ(out, "new\n");
}

}  // namespace
}  // namespace popek::vmm
