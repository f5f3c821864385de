#include "server/grpc/protobuf_log.h"

#include "gtest/gtest.h"

namespace arginator::server {
namespace {

TEST(LogLimiterTest, PassesABurstPerWindowAndSaysHowManyItDropped) {
  LogLimiter limiter(3, absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  int64_t dropped = -1;
  int passed = 0;
  for (int i = 0; i < 100; ++i) {
    passed += limiter.Allow(t0 + absl::Milliseconds(i), &dropped);
    EXPECT_EQ(dropped, 0);
  }
  EXPECT_EQ(passed, 3);
  EXPECT_TRUE(limiter.Allow(t0 + absl::Minutes(1), &dropped));  // a new window
  EXPECT_EQ(dropped, 97);
  EXPECT_TRUE(limiter.Allow(t0 + absl::Minutes(1), &dropped));
  EXPECT_EQ(dropped, 0);
}

}  // namespace
}  // namespace arginator::server
