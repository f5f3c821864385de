#include "common/status_code_names.h"

#include "gtest/gtest.h"

namespace arginator {
namespace {

TEST(StatusCodeNamesTest, CanonicalNamesAsGrpcSpellsThem) {
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kOk), "OK");
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kCancelled), "CANCELLED");
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<absl::StatusCode>(42)), "CODE_42");
  // Every code's name is absl's own description, upper-cased with underscores.
  for (int c = 0; c <= 16; ++c) {
    std::string expected = absl::StatusCodeToString(static_cast<absl::StatusCode>(c));
    for (char& ch : expected) ch = ch == ' ' ? '_' : static_cast<char>(std::toupper(ch));
    EXPECT_EQ(StatusCodeName(static_cast<absl::StatusCode>(c)), expected) << c;
  }
}

TEST(StatusCodeNamesTest, GoNamesAsGhzReportsThem) {
  EXPECT_EQ(GoStatusCodeName(0), "OK");
  EXPECT_EQ(GoStatusCodeName(1), "Canceled");
  EXPECT_EQ(GoStatusCodeName(3), "InvalidArgument");
  EXPECT_EQ(GoStatusCodeName(4), "DeadlineExceeded");
  EXPECT_EQ(GoStatusCodeName(9), "FailedPrecondition");
  EXPECT_EQ(GoStatusCodeName(14), "Unavailable");
  EXPECT_EQ(GoStatusCodeName(15), "DataLoss");
  EXPECT_EQ(GoStatusCodeName(16), "Unauthenticated");
  EXPECT_EQ(GoStatusCodeName(17), "Code(17)");
  EXPECT_EQ(GoStatusCodeName(-1), "Code(-1)");
}

}  // namespace
}  // namespace arginator
