#include "server/model/torchscript_model.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;

TEST(TorchScriptModelTest, ThreadSettingReachesOpenBlas) {
  // Debian's LibTorch calls OpenBLAS, whose pool torch::set_num_threads does not size.
  BlasInfo one = SetTorchThreads(1);
  ASSERT_EQ(one.name, "OpenBLAS") << "this LibTorch does not call OpenBLAS";
  EXPECT_EQ(one.threads, 1);
  EXPECT_EQ(SetTorchThreads(2).threads, 2);
  EXPECT_EQ(SetTorchThreads(0).threads, 2);  // 0 leaves the pool as it is
  SetTorchThreads(1);
}

TEST(TorchScriptModelTest, BadFilesAndDevicesAreErrorsNamingThem) {
  testing::TempDir dir;
  const std::string path = dir.Join("model.pt");
  std::ofstream(path) << "not a zip archive";
  auto model = LoadTorchScriptModel(path, 1024, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr(path));
  // Only the first line of LibTorch's message: its C++ backtrace stays out of statuses and of
  // ListModels' reason (issue 11's review found 15-line reasons).
  EXPECT_EQ(model.status().message().find('\n'), std::string::npos) << model.status().message();
  EXPECT_EQ(CheckTorchDevice("tpu").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckTorchDevice("cpu").ok());
}

}  // namespace
}  // namespace arginator::server
