// Issue 27: releases without traps, against the real server and arginator-client admin. Two
// versions under continuous load on all three protocols: publishing v2 does not move default
// traffic off `stable`; shadowing changes no answer and reports the agreement this test computes
// itself; a 20% canary takes its share and a request id always lands on the same version,
// whatever the protocol; promote and rollback under load fail no request and load nothing; the
// audit log names who did each step; a hand edit of labels.json / release.json does what the API
// does.
#include <httplib.h>

#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/integration/served_models_fixture.h"

namespace arginator::testing {
namespace {

using ::testing::HasSubstr;

const std::string kClient = ARGINATOR_CLIENT_BIN;

class ReleaseTest : public ServedModelsTest {
 protected:
  void StartWithAdmin() {
    ASSERT_TRUE(WriteFileDurably(work_.Join("alice.token"), "alice-token-1\n").ok());
    ASSERT_TRUE(WriteFileDurably(work_.Join("bob.token"), "bob-token-2\n").ok());
    StartServer({"--rest-port", "0", "--set", "admin.enabled=true", "--set",
                 "admin.tokens={alice: " + work_.Join("alice.token") +
                     ", bob: " + work_.Join("bob.token") + "}",
                 "--set", "admin.audit_log=" + work_.Join("audit.jsonl")});
    golden_ = GoldenRequest(Card(kBinary, 1));
    golden_.set_return_probabilities(true);
  }

  // `arginator-client admin ARGS` for the binary model as `who`.
  CommandResult Admin(const std::string& who, const std::string& args) {
    return RunCommand(kClient + " admin " + args + " --target " + server_->target() + " --model " +
                      kBinary + " --token-file " + work_.Join(who + ".token"));
  }
  nlohmann::json Status() {
    CommandResult r = Admin("alice", "status --json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
    return j.is_object() && j.contains("status") ? j["status"][0] : nlohmann::json();
  }

  // Publishes version 2 of the binary model the way a lab does: arginator-train fit, another seed.
  void PublishVersion2() {
    CommandResult fit = RunCommand(
        kTrain + " fit --config " + kSource +
        "/configs/train/binary.yaml experiment.epochs=1 experiment.seed=7 publish.min_macro_f1=0 "
        "publish.tolerance=1 data.dir=" +
        shared_->Join("data") + " output.repository=" + work_.Join("models") +
        " output.report_dir=" + work_.Join("reports"));
    ASSERT_EQ(fit.exit_code, 0) << fit.output;
    ASSERT_TRUE(WaitFor([&] {
      return VersionState(kBinary, 2).state() == v1::VersionStatus::READY;
    })) << server_->Log();
  }

  // The golden rows classified by an exact version: each row's call.
  std::vector<std::string> CallsOf(int64_t version) {
    v1::ClassifyRequest request = golden_;
    request.mutable_model()->set_version(version);
    v1::ClassifyResponse response;
    EXPECT_TRUE(Classify(request, &response).ok());
    std::vector<std::string> calls;
    for (const auto& p : response.predictions()) calls.push_back(p.call());
    return calls;
  }

  // One default request over `protocol` (0 v1, 1 v2 gRPC, 2 REST) with `id`: the version that
  // answered, or -1 on failure; `calls` gets each row's call (v1 only).
  int64_t Send(int protocol, const std::string& id, std::vector<std::string>* calls = nullptr) {
    if (protocol == 0) {
      v1::ClassifyRequest request = golden_;
      request.set_request_id(id);
      v1::ClassifyResponse response;
      if (!Classify(request, &response, 20000).ok()) return -1;
      if (calls != nullptr) {
        calls->clear();
        for (const auto& p : response.predictions()) calls->push_back(p.call());
      }
      return response.model_version();
    }
    std::string raw;
    for (const auto& e : golden_.embeddings()) {
      raw.append(reinterpret_cast<const char*>(e.values().data()),
                 static_cast<size_t>(e.values_size()) * sizeof(float));
    }
    const int64_t rows = golden_.embeddings_size();
    if (protocol == 1) {
      inference::ModelInferRequest request;
      request.set_model_name(kBinary);
      request.set_id(id);
      auto* input = request.add_inputs();
      input->set_name("embedding");
      input->set_datatype("FP32");
      input->add_shape(rows);
      input->add_shape(1024);
      request.add_raw_input_contents(raw);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      inference::ModelInferResponse response;
      grpc::Status s =
          inference::GRPCInferenceService::NewStub(channel_)->ModelInfer(&ctx, request, &response);
      return s.ok() ? std::stoll(response.model_version()) : -1;
    }
    nlohmann::json header = {{"id", id},
                             {"inputs",
                              {{{"name", "embedding"},
                                {"datatype", "FP32"},
                                {"shape", {rows, 1024}},
                                {"parameters", {{"binary_data_size", raw.size()}}}}}}};
    const std::string json = header.dump();
    httplib::Client client("127.0.0.1", server_->rest_port());
    client.set_read_timeout(20, 0);
    httplib::Headers headers = {{"Inference-Header-Content-Length", std::to_string(json.size())}};
    auto res = client.Post(std::string("/v2/models/") + kBinary + "/infer", headers, json + raw,
                           "application/octet-stream");
    if (!res || res->status != 200) return -1;
    const nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
    if (!body.is_object() || !body.contains("model_version")) return -1;
    return std::stoll(body["model_version"].get<std::string>());
  }

  // Default requests on every protocol from 3 threads until Stop: answers by version, failures.
  class Load {
   public:
    explicit Load(ReleaseTest* test) {
      for (int protocol = 0; protocol < 3; ++protocol) {
        threads_.emplace_back([this, test, protocol] {
          int n = 0;
          while (!stop_) {
            const int64_t v = test->Send(protocol, "", nullptr);
            std::lock_guard<std::mutex> lock(mu_);
            ++by_version_[v];
            ++n;
          }
        });
      }
    }
    ~Load() { Stop(); }
    std::map<int64_t, int> Stop() {
      stop_ = true;
      for (auto& t : threads_) {
        if (t.joinable()) t.join();
      }
      std::lock_guard<std::mutex> lock(mu_);
      return by_version_;
    }
    std::map<int64_t, int> Snapshot() {
      std::lock_guard<std::mutex> lock(mu_);
      return by_version_;
    }

   private:
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::map<int64_t, int> by_version_;  // -1: failed
    std::vector<std::thread> threads_;
  };

  std::vector<nlohmann::json> AuditLines() {
    std::vector<nlohmann::json> lines;
    std::ifstream in(work_.Join("audit.jsonl"));
    for (std::string line; std::getline(in, line);) {
      lines.push_back(nlohmann::json::parse(line, nullptr, false));
    }
    return lines;
  }

  v1::ClassifyRequest golden_;
};

TEST_F(ReleaseTest, PublishShadowCanaryPromoteRollbackUnderLoadWithAnAuditTrail) {
  StartWithAdmin();
  CommandResult r = Admin("alice", "label set --label stable --version 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  Load load(this);
  PublishVersion2();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::map<int64_t, int> seen = load.Snapshot();
  EXPECT_EQ(seen.count(2), 0u) << "publishing moved default traffic off stable";
  EXPECT_EQ(seen.count(-1), 0u);

  // Shadow: every default request runs again on version 2; no answer changes.
  const std::vector<std::string> v1_calls = CallsOf(1), v2_calls = CallsOf(2);
  r = Admin("bob", "shadow set --version 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 0; i < 20; ++i) {
    std::vector<std::string> calls;
    ASSERT_EQ(Send(0, "", &calls), 1);
    EXPECT_EQ(calls, v1_calls) << "shadowing changed an answer";
  }
  // Every shadowed request carries the same golden rows, so the report's agreement is a whole
  // number of copies of what this test computes itself.
  int agree = 0;
  std::map<std::pair<std::string, std::string>, int> flips;
  for (size_t i = 0; i < v1_calls.size(); ++i) {
    if (v1_calls[i] == v2_calls[i]) {
      ++agree;
    } else {
      ++flips[{v1_calls[i], v2_calls[i]}];
    }
  }
  ASSERT_TRUE(WaitFor([&] {
    CommandResult report = Admin("alice", "shadow report --json");
    nlohmann::json s = nlohmann::json::parse(report.output, nullptr, false);
    return s.is_object() && s["status"][0]["shadow"]["rows"].get<std::string>() != "0";
  }));
  load.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the last shadows finish
  const nlohmann::json shadow = Status()["shadow"];
  const int64_t rows = std::stoll(shadow["rows"].get<std::string>());
  const int64_t agreements = std::stoll(shadow["agreements"].get<std::string>());
  const auto golden_rows = static_cast<int64_t>(v1_calls.size());
  ASSERT_GT(rows, 0);
  EXPECT_EQ(rows % golden_rows, 0) << shadow.dump();
  const int64_t copies = rows / golden_rows;
  EXPECT_EQ(agreements, copies * agree) << shadow.dump();
  for (const auto& f : shadow["flips"]) {
    const std::pair<std::string, std::string> flip(f["from"], f["to"]);
    EXPECT_EQ(std::stoll(f["count"].get<std::string>()), copies * flips[flip]) << shadow.dump();
  }
  EXPECT_EQ(shadow["primary_version"], "1");
  EXPECT_EQ(shadow["shadow_version"], "2");
  r = Admin("bob", "shadow clear");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Canary at 20%, then promote and roll back, all under load.
  Load release_load(this);
  r = Admin("bob", "canary set --version 2 --weight 20");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("takes 20% of default requests"));
  int canary = 0;
  constexpr int kIds = 600;
  std::map<std::string, int64_t> landed;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = "sample-" + std::to_string(i);
    const int64_t v = Send(i % 3, id);
    ASSERT_GT(v, 0);
    landed[id] = v;
    canary += v == 2;
  }
  EXPECT_NEAR(canary, kIds / 5, kIds / 20) << "the canary's share of default requests";
  for (int i = 0; i < kIds; i += 7) {  // a retry, on another protocol, lands where it did
    const std::string id = "sample-" + std::to_string(i);
    EXPECT_EQ(Send((i + 1) % 3, id), landed[id]) << id;
  }
  const auto loads = [&] {
    const std::string log = server_->Log();
    size_t n = 0;
    for (size_t at = log.find("loaded "); at != std::string::npos; at = log.find("loaded ", at + 1))
      ++n;
    return n;
  };
  const size_t loads_before = loads();
  r = Admin("alice", "promote");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("1 -> 2"));
  EXPECT_THAT(r.output, HasSubstr("previous=1"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Send(i % 3, ""), 2);
  r = Admin("bob", "rollback");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("2 -> 1 (rolled back)"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Send(i % 3, ""), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::map<int64_t, int> during = release_load.Stop();
  EXPECT_EQ(during.count(-1), 0u) << "requests failed during canary, promote or rollback";
  EXPECT_GT(during.count(2) ? during.at(2) : 0, 0);
  EXPECT_EQ(loads(), loads_before) << "promote and rollback loaded a version";

  // The audit trail: each step, who asked, and the labels it left.
  std::vector<std::pair<std::string, std::string>> steps;
  for (const nlohmann::json& line : AuditLines()) {
    ASSERT_TRUE(line.is_object());
    steps.emplace_back(line["action"], line["identity"]);
    EXPECT_EQ(line["result"], "OK") << line.dump();
    EXPECT_EQ(line["model"], kBinary);
    if (line["action"] == "promote") {
      EXPECT_EQ(line["before"]["labels"], (nlohmann::json{{"canary", 2}, {"stable", 1}}));
      EXPECT_EQ(line["after"]["labels"], (nlohmann::json{{"previous", 1}, {"stable", 2}}));
    }
  }
  EXPECT_EQ(steps, (std::vector<std::pair<std::string, std::string>>{{"label_set", "alice"},
                                                                     {"shadow_set", "bob"},
                                                                     {"shadow_set", "bob"},
                                                                     {"canary_set", "bob"},
                                                                     {"promote", "alice"},
                                                                     {"rollback", "bob"}}));
  EXPECT_THAT(server_->Log(), HasSubstr("audit {"));
}

TEST_F(ReleaseTest, AHandEditOfTheReleaseFilesDoesWhatTheApiDoes) {
  StartWithAdmin();
  ASSERT_EQ(Admin("alice", "label set --label stable --version 1").exit_code, 0);
  PublishVersion2();
  ASSERT_EQ(Admin("alice", "canary set --version 2 --weight 20").exit_code, 0);
  const nlohmann::json by_api = Status();
  ASSERT_EQ(Admin("alice", "rollback").exit_code, 0);
  ASSERT_EQ(Status()["labels"], (nlohmann::json{{"stable", "1"}}));

  const std::string dir = work_.Join(std::string("models/") + kBinary);
  ASSERT_TRUE(WriteFileDurably(dir + "/release.json.new", "{\"canary_percent\": 20}\n").ok());
  fs::rename(dir + "/release.json.new", dir + "/release.json");
  ASSERT_TRUE(WriteFileDurably(dir + "/labels.json.new", "{\"stable\": 1, \"canary\": 2}\n").ok());
  fs::rename(dir + "/labels.json.new", dir + "/labels.json");
  ASSERT_TRUE(WaitFor([&] { return Status()["labels"] == by_api["labels"]; })) << Status().dump();
  const nlohmann::json by_file = Status();
  EXPECT_EQ(by_file["canary_percent"], by_api["canary_percent"]);
  EXPECT_EQ(by_file["default_version"], by_api["default_version"]);
  bool audited = false;
  for (const nlohmann::json& line : AuditLines()) {
    audited = audited || (line["action"] == "labels_file" && line["identity"] == "labels.json" &&
                          line["after"]["labels"] == nlohmann::json{{"canary", 2}, {"stable", 1}});
  }
  EXPECT_TRUE(audited) << "a hand edit is audited as one";
  // A broken file is refused and changes nothing.
  ASSERT_TRUE(WriteFileDurably(dir + "/release.json", "{\"canary_percent\": 250}").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(Status()["canary_percent"], 20);
  EXPECT_THAT(server_->Log(), HasSubstr("canary_percent must be a number from 0 to 100"));
}

TEST_F(ReleaseTest, AdminCallsNeedAKnownTokenAndRefusalsAreAudited) {
  StartWithAdmin();
  ASSERT_TRUE(WriteFileDurably(work_.Join("mallory.token"), "guess\n").ok());
  CommandResult r = Admin("mallory", "promote");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrong bearer token"));
  r = RunCommand("env -u ARGINATOR_ADMIN_TOKEN " + kClient + " admin status --target " +
                 server_->target());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--token-file FILE or $ARGINATOR_ADMIN_TOKEN"));
  r = RunCommand("ARGINATOR_ADMIN_TOKEN=bob-token-2 " + kClient + " admin status --target " +
                 server_->target());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("default requests follow 'stable'"));
  const std::vector<nlohmann::json> lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["result"], "UNAUTHENTICATED");
  EXPECT_THAT(lines[0]["identity"].get<std::string>(), HasSubstr("unauthenticated peer"));
}

}  // namespace
}  // namespace arginator::testing
