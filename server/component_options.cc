#include "server/component_options.h"

#include <filesystem>

#include "common/model_package.h"
#include "common/version_labels.h"

namespace arginator::server {

DirectoryVersionLoader::Options VersionLoaderOptions(const ServerConfig& c) {
  DirectoryVersionLoader::Options o;
  o.batching = c.batching;
  o.warmup_batches = c.warmup_batches;
  o.max_card_bytes = static_cast<uintmax_t>(c.max_card_bytes);
  o.max_model_bytes = static_cast<uintmax_t>(c.max_model_bytes);
  o.load_timeout = c.load_timeout;
  o.repository = c.repository;
  o.links_outside_repository = c.links_outside_repository;
  o.max_input_dim = c.max_input_dim;
  return o;
}

ModelRegistry::Options RegistryOptions(const ServerConfig& c) {
  ModelRegistry::Options o;
  o.policy = c.policy;
  o.default_labels = c.default_labels;
  o.model_policies = c.model_policies;
  o.retry_backoff = c.retry_backoff;
  o.max_retry_backoff = c.max_retry_backoff;
  o.load_threads = c.load_threads;
  o.max_label_bytes = static_cast<size_t>(c.max_name_bytes);
  o.previous_grace = c.previous_grace;
  if (c.persist_labels) {
    o.persist_release = [repository = c.repository](const std::string& name,
                                                    const ReleaseSettings& release) {
      return WriteReleaseSettings(
          (std::filesystem::path(repository) / name / kReleaseFile).string(), release);
    };
    o.persist_labels = [repository = c.repository](const std::string& name,
                                                   const std::map<std::string, int64_t>& labels) {
      return WriteVersionLabels(
          (std::filesystem::path(repository) / name / kVersionLabelsFile).string(), labels);
    };
  }
  return o;
}

}  // namespace arginator::server
