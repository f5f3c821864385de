#include "server/model/torchscript_model.h"

#include <torch/script.h>

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

// Issue 11, item 10: a TorchScript model may answer some inputs with another output width (a
// data-dependent branch). Every forward is checked, and the error is marked as the model's
// (IsOutputContractError), which takes the version out of service.
TEST(TorchScriptModelTest, AWrongOutputWidthOnSomeInputsIsAnOutputContractError) {
  testing::TempDir dir;
  const std::string path = dir.Join("model.pt");
  torch::jit::Module module("WideOnLargeInputs");
  module.define(R"(
def forward(self, x):
    if bool(x[0, 0] > 100.0):
        return torch.zeros([x.size(0), 5])
    return torch.softmax(x[:, 0:2], 1)
)");
  module.save(path);
  auto model = LoadTorchScriptModel(path, 4, {});
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<float> in = {0.5f, 0.f, 0.f, 0.f}, out(2);
  EXPECT_TRUE((*model)->Forward(RowsView(in.data(), 1, 4), MutableRowsView(out.data(), 1, 2)).ok());
  in[0] = 1000.f;
  absl::Status wide =
      (*model)->Forward(RowsView(in.data(), 1, 4), MutableRowsView(out.data(), 1, 2));
  EXPECT_EQ(wide.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(wide.message(), HasSubstr("outputs 5 columns per row, expected 2"));
  EXPECT_TRUE(IsOutputContractError(wide));
}

}  // namespace
}  // namespace arginator::server
