#include "server/serving/serving_path.h"

#include <future>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_loader.h"
#include "tests/testing/fake_model.h"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;
constexpr int kDim = 4;

// A model that answers inputs whose first value is above 100 with five columns instead of two,
// as a TorchScript model with a data-dependent branch can.
class WideOnLargeInputs : public testing::FakeModel {
 public:
  WideOnLargeInputs() : FakeModel(kDim) {}
  absl::Status Forward(RowsView input, MutableRowsView output) override {
    for (int64_t i = 0; i < input.rows; ++i) {
      if (input.row(i)[0] > 100) {
        return OutputContractError(
            absl::StrCat("model outputs 5 columns per row, expected ", output.cols));
      }
    }
    return FakeModel::Forward(input, output);
  }
};

// One request of one row on the path, its answer kept.
class RecordingCall : public ServingCall {
 public:
  absl::Status Run(ServingPath& path, float first_value,
                   absl::Time deadline = absl::InfiniteFuture()) {
    row_.assign(kDim, 0.f);
    row_[0] = first_value;
    model().name = "m";
    done_ = std::promise<absl::Status>();
    path.Serve(this, RequestMethod::kClassify, deadline);
    return done_.get_future().get();
  }
  std::string label;

 private:
  absl::Status DecodeRows(const ModelCard& card, RequestRows& rows) override {
    rows.count = 1;
    rows.block = row_.data();
    rows.width = static_cast<int64_t>(row_.size());
    return absl::OkStatus();
  }
  absl::Status Encode(const ServingAnswer& answer) override {
    label = answer.card.labels[answer.verdicts.rows[0].class_index];
    return absl::OkStatus();
  }
  void Finish(const absl::Status& status) override { done_.set_value(status); }

  std::vector<float> row_;
  std::promise<absl::Status> done_;
};

// Issue 11, item 10: a forward answering with the wrong width failed its batch with INTERNAL,
// but the version kept serving. It is now taken out of service: FAILED with the reason, health
// is told, and later requests get UNAVAILABLE naming why.
TEST(ServingPathTest, AForwardThatBreaksTheOutputContractTakesItsVersionOutOfService) {
  testing::ModelLoader loader(std::make_shared<WideOnLargeInputs>(), kDim);
  // Health (HealthReporter) learns of it as a RegistryObserver.
  struct Told : RegistryObserver {
    void OnFailedWhileServing(const std::string&, int64_t, const absl::Status&) override {
      ++count;
    }
    int count = 0;
  } told;
  ModelRegistry registry(testing::RegistryOptions(), &loader, &told);
  registry.Reconcile("m", {{1, VersionOnDisk("/repo/m/1")}});
  ServerMetrics metrics;
  ServingPath path(&registry, &metrics, {100});
  RecordingCall job;
  EXPECT_TRUE(job.Run(path, 0.5f).ok());
  EXPECT_TRUE(registry.AllReady({"m"}));

  absl::Status broken = job.Run(path, 1000.f);
  EXPECT_EQ(broken.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(broken.message(), HasSubstr("outputs 5 columns per row"));
  EXPECT_EQ(told.count, 1);
  EXPECT_FALSE(registry.AllReady({"m"}));
  const std::vector<ModelView> views = registry.Snapshot();
  ASSERT_EQ(views.size(), 1u);
  ASSERT_EQ(views[0].versions.size(), 1u);
  EXPECT_EQ(views[0].versions[0].state, VersionState::kFailed);
  EXPECT_THAT(views[0].versions[0].reason, HasSubstr("failed while serving: model outputs 5"));

  absl::Status after = job.Run(path, 0.5f);
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(after.message(), HasSubstr("version 1 is failed: failed while serving"));
  EXPECT_EQ(told.count, 1);
  registry.Clear();
}

}  // namespace
}  // namespace arginator::server
