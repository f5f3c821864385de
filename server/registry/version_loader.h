#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/registry/servable.h"

namespace arginator::server {

// Loads and validates one version directory into a servable. The registry calls it; the server's
// is DirectoryVersionLoader (directory_version_loader.h), tests inject fakes that need no
// LibTorch or files.
class VersionLoader {
 public:
  virtual ~VersionLoader() = default;
  virtual absl::StatusOr<std::shared_ptr<ServableVersion>> Load(const std::string& name,
                                                                int64_t version,
                                                                const std::string& dir) = 0;
};

}  // namespace arginator::server
