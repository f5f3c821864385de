#pragma once
// A fixture for integration tests: synthetic data and both models published once per suite by the
// real arginator-train, a private copy of the repository per test, and the real arginator-server
// on free ports.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "arginator/v1/classifier.grpc.pb.h"
#include "common/file_io.h"
#include "common/model_card.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/server_process.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace arginator::testing {

namespace fs = std::filesystem;

inline const std::string kTrain = ARGINATOR_TRAIN_BIN;
inline const std::string kServer = ARGINATOR_SERVER_BIN;
inline const std::string kSource = ARGINATOR_SOURCE_DIR;
inline constexpr char kBinary[] = "betalactamase-binary";
inline constexpr char kClass[] = "betalactamase-class";

class ServedModelsTest : public ::testing::Test {
 protected:
  // No ASSERT here: gtest reports every test of a suite whose SetUpTestSuite failed as SKIPPED,
  // which ctest counts as passing, so a trainer that could not publish turned the whole suite
  // green. The failure is kept and each test's SetUp fails with it.
  static void SetUpTestSuite() {
    shared_ = new TempDir;
    auto gen = RunCommand(kTrain + " gen-data --out " + shared_->Join("data") + " --scale 0.02");
    if (gen.exit_code != 0) {
      suite_error_ = "arginator-train gen-data failed:\n" + gen.output;
      return;
    }
    for (const char* config : {"binary", "multiclass"}) {
      auto fit = Fit(shared_->Join("models"), std::string("configs/train/") + config + ".yaml");
      if (fit.exit_code != 0) {
        suite_error_ = std::string("arginator-train fit (") + config + ") failed:\n" + fit.output;
        return;
      }
    }
  }
  static void TearDownTestSuite() { delete shared_; }

  // One epoch on a small set: these tests serve models, they need not be good ones, so the
  // publish gate (trainer/publish_gate.h) is opened.
  static testing::CommandResult Fit(const std::string& repo, const std::string& config) {
    return RunCommand(kTrain + " fit --config " + kSource + "/" + config +
                      " experiment.epochs=1 publish.min_macro_f1=0 publish.tolerance=1 data.dir=" +
                      shared_->Join("data") + " output.repository=" + repo +
                      " output.report_dir=" + repo + "/../reports");
  }

  // A private copy of the published models, so tests may change their repository.
  void SetUp() override {
    ASSERT_EQ(suite_error_, "");
    fs::copy(shared_->Join("models"), work_.Join("models"), fs::copy_options::recursive);
  }

  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--model-repository",
                                     work_.Join("models"),
                                     "--port",
                                     "0",
                                     "--metrics-port",
                                     "0",
                                     "--host",
                                     "127.0.0.1",
                                     "--set",
                                     "models.poll_interval_s=0.2"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string log;
    server_ = ServerProcess::Start(kServer, args, work_.Join("server.log"), &log);
    ASSERT_NE(server_, nullptr) << log;
    channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
    stub_ = v1::Classifier::NewStub(channel_);
    ASSERT_TRUE(WaitFor([&] {
      return Health("") == grpc::health::v1::HealthCheckResponse::SERVING;
    })) << server_->Log();
  }

  static bool WaitFor(const std::function<bool()>& condition, int seconds = 30) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = health->Check(&ctx, req, &resp);
    return s.ok() ? resp.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  }

  ModelCard Card(const std::string& name, int version) {
    return *ReadModelCard(
        work_.Join("models/" + name + "/" + std::to_string(version) + "/model.json"));
  }

  static v1::ClassifyRequest GoldenRequest(const ModelCard& card) {
    v1::ClassifyRequest req;
    req.mutable_model()->set_name(card.name);
    req.set_return_probabilities(true);
    for (const auto& g : card.golden) {
      v1::Embedding* e = req.add_embeddings();
      e->set_id(g.id);
      e->mutable_values()->Add(g.input.begin(), g.input.end());
    }
    return req;
  }

  // ModelAdmin calls with the bearer token the admin tests start the server with.
  static constexpr char kAdminToken[] = "s3cret";
  grpc::Status AdminLoadVersion(const std::string& name, int64_t version) {
    v1::LoadVersionRequest load;
    load.set_name(name);
    load.set_version(version);
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    v1::AdminResponse resp;
    return v1::ModelAdmin::NewStub(channel_)->LoadVersion(&ctx, load, &resp);
  }
  grpc::Status AdminSetLabel(const std::string& name, const std::string& label, int64_t version) {
    v1::SetVersionLabelRequest request;
    request.set_name(name);
    request.set_label(label);
    request.set_version(version);
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kAdminToken);
    v1::AdminResponse resp;
    return v1::ModelAdmin::NewStub(channel_)->SetVersionLabel(&ctx, request, &resp);
  }

  grpc::Status Classify(const v1::ClassifyRequest& req, v1::ClassifyResponse* resp,
                        int deadline_ms = 5000) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    return stub_->Classify(&ctx, req, resp);
  }

  // Clients classifying `request` in a loop on `threads` threads, against the server as it
  // changes under them (a version published, a drain): what a hot swap must not disturb.
  class ClassifyLoad {
   public:
    ClassifyLoad(ServedModelsTest* test, v1::ClassifyRequest request, int threads)
        : request_(std::move(request)) {
      for (int t = 0; t < threads; ++t) {
        clients_.emplace_back([this, test] {
          while (!stop_) {
            v1::ClassifyResponse resp;
            grpc::Status s = test->Classify(request_, &resp);
            if (s.ok()) {
              ++ok_;
              if (resp.model_version() == 2) ++by_version_2_;
            } else {
              ++failed_;
              std::lock_guard<std::mutex> lock(error_mu_);
              if (first_error_.empty()) first_error_ = s.error_message();
            }
          }
        });
      }
    }
    ~ClassifyLoad() { Stop(); }
    void Stop() {
      stop_ = true;
      for (auto& c : clients_) {
        if (c.joinable()) c.join();
      }
    }
    int ok() const { return ok_; }
    int failed() const { return failed_; }
    int by_version_2() const { return by_version_2_; }
    std::string first_error() {
      std::lock_guard<std::mutex> lock(error_mu_);
      return first_error_;
    }

   private:
    const v1::ClassifyRequest request_;
    std::atomic<bool> stop_{false};
    std::atomic<int> ok_{0}, failed_{0}, by_version_2_{0};
    std::mutex error_mu_;
    std::string first_error_;
    std::vector<std::thread> clients_;
  };

  // Publishes a copy of version `from` as `to` after `edit` changes its files, the way the
  // trainer does: in a hidden directory, then one rename.
  void PublishEdited(
      const std::string& name, int from, int to,
      const std::function<void(const std::string& dir, nlohmann::json& card)>& edit) {
    const std::string tmp = work_.Join("models/" + name + "/.tmp-test");
    fs::copy(work_.Join("models/" + name + "/" + std::to_string(from)), tmp);
    nlohmann::json card = nlohmann::json::parse(*ReadFileToString(tmp + "/model.json"));
    card["version"] = to;
    edit(tmp, card);
    ASSERT_TRUE(WriteFileDurably(tmp + "/model.json", card.dump()).ok());
    fs::rename(tmp, work_.Join("models/" + name + "/" + std::to_string(to)));
  }

  v1::VersionStatus VersionState(const std::string& name, int version) {
    v1::ListModelsResponse resp;
    grpc::ClientContext ctx;
    stub_->ListModels(&ctx, v1::ListModelsRequest(), &resp);
    for (const auto& m : resp.models()) {
      if (m.name() != name) continue;
      for (const auto& v : m.versions()) {
        if (v.version() == version) return v;
      }
    }
    return v1::VersionStatus();
  }

  static inline TempDir* shared_ = nullptr;
  static inline std::string suite_error_;  // why SetUpTestSuite could not publish the models
  TempDir work_;
  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Classifier::Stub> stub_;
};

}  // namespace arginator::testing
