#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "server/component_options.h"
#include "server/registry/model_registry.h"
#include "server/registry/servable.h"
#include "tests/testing/batching.h"
#include "tests/testing/fake_model.h"

namespace arginator::testing {

// Registry options with `policy` ("latest" keeps 1) and the model -> default label map; the rest
// at the server's defaults, except that labels live in memory only.
inline server::ModelRegistry::Options RegistryOptions(
    const std::string& policy = "latest", std::map<std::string, std::string> default_labels = {}) {
  server::ModelRegistry::Options options = server::RegistryOptions(server::DefaultServerConfig());
  options.persist_labels = nullptr;
  options.load_threads = 0;  // Reconcile returns after its loads
  options.policy = *server::VersionPolicy::Parse(policy, 1, {});
  options.default_labels = std::move(default_labels);
  return options;
}

// A VersionLoader without files or LibTorch: loads any version instantly with a FakeModel,
// except the versions told to fail.
class FakeLoader : public server::VersionLoader {
 public:
  absl::StatusOr<std::shared_ptr<server::ServableVersion>> Load(const std::string& name,
                                                                int64_t version,
                                                                const std::string& dir) override {
    ++loads;
    if (failing.count(version)) return absl::DataLossError("golden mismatch");
    auto s = std::make_shared<server::ServableVersion>();
    s->card.name = name;
    s->card.version = version;
    s->card.labels = {"a", "b"};
    s->dir = dir;
    s->model = std::make_shared<FakeModel>();
    s->observer = std::make_shared<server::VersionObserver>();
    s->batcher = std::make_unique<server::DynamicBatcher>(s->model, Batching());
    return s;
  }
  std::set<int64_t> failing;
  int loads = 0;
};

// A VersionLoader that serves every version with one given model (shared, so a test can hold it
// at its gate or make it misbehave) and a card of `dim` inputs and two labels.
class ModelLoader : public server::VersionLoader {
 public:
  ModelLoader(std::shared_ptr<server::Model> model, int dim)
      : model_(std::move(model)), dim_(dim) {}
  absl::StatusOr<std::shared_ptr<server::ServableVersion>> Load(const std::string& name,
                                                                int64_t version,
                                                                const std::string& dir) override {
    auto s = std::make_shared<server::ServableVersion>();
    s->card.name = name;
    s->card.version = version;
    s->card.input_dim = dim_;
    s->card.labels = {"non_betalactamase", "betalactamase"};
    s->dir = dir;
    s->model = model_;
    s->observer = std::make_shared<server::VersionObserver>();
    s->batcher = std::make_unique<server::DynamicBatcher>(s->model, Batching());
    return s;
  }

 private:
  const std::shared_ptr<server::Model> model_;
  const int dim_;
};

}  // namespace arginator::testing
