/// util/huge_mapping.h: guest RAM and kernel-file buffers are 2 MiB-aligned anonymous memory
/// (so the host can use transparent huge pages), zero-filled, and sizes are checked.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "util/huge_mapping.h"

namespace popek {
namespace {

TEST(HugeMapping, AlignedZeroFilledAndWritable) {
    auto m = map_huge_anonymous((8u << 20) + 100, "test buffer", true);
    ASSERT_TRUE(m.has_value()) << m.error().message;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m->get()) % (2u << 20), 0u);
    EXPECT_EQ(m->size(), (8u << 20) + 4096u);   // rounded up to whole pages
    auto* p = static_cast<uint8_t*>(m->get());
    for (size_t off : {size_t{0}, size_t{4096}, size_t{5} << 20, m->size() - 1}) EXPECT_EQ(p[off], 0) << off;
    std::memset(p, 0xa5, m->size());
    EXPECT_EQ(p[m->size() - 1], 0xa5);
}

TEST(HugeMapping, RefusesEmptyAndImpossibleSizes) {
    EXPECT_FALSE(map_huge_anonymous(0, "nothing", false).has_value());
    auto huge = map_huge_anonymous(SIZE_MAX - 4096, "too much", false);
    ASSERT_FALSE(huge.has_value());
    EXPECT_NE(huge.error().message.find("too much"), std::string::npos);
}

}  // namespace
}  // namespace popek
