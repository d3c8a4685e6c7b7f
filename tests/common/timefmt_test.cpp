#include "common/timefmt.hpp"

#include <gtest/gtest.h>

namespace anteroom {
namespace {

TEST(Rfc3339, ParsesUtcOffsetsAndFractions) {
    EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_rfc3339("2026-11-30T14:00:00Z"), 1796047200000);
    EXPECT_EQ(parse_rfc3339("2026-11-30T15:00:00+01:00"), 1796047200000);
    EXPECT_EQ(parse_rfc3339("2026-11-30T13:30:00-00:30"), 1796047200000);
    EXPECT_EQ(parse_rfc3339("2026-11-30T14:00:00.250Z"), 1796047200250);
    EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800000);
}

TEST(Rfc3339, RejectsWhatIsNotATimestamp) {
    for (const char* bad : {"", "2026-11-30", "2026-11-30T14:00:00", "2026-11-30 14:00:00Z", "2026-13-01T00:00:00Z",
                            "2025-02-29T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T14:00:00+0100",
                            "2026-11-30T14:00:00.Z", "2026-11-30T14:00:00Zjunk", "20x6-11-30T14:00:00Z"}) {
        EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
    }
}

TEST(Rfc3339, FormatsUtcSeconds) {
    EXPECT_EQ(format_rfc3339(1796047200999), "2026-11-30T14:00:00Z");
    EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(parse_rfc3339(format_rfc3339(1709164800000)), 1709164800000);
}

}  // namespace
}  // namespace anteroom
