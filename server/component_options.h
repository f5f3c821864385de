#pragma once

#include "server/registry/directory_version_loader.h"
#include "server/registry/model_registry.h"
#include "server/server_config.h"

namespace arginator::server {

// The serving core's options as the config sets them: the one translation from ServerConfig,
// used by arginator-server and by tests (from DefaultServerConfig()).

// models.* (limits, timeout, warm-up, links) and batching.*.
DirectoryVersionLoader::Options VersionLoaderOptions(const ServerConfig& config);
// models.* (policies, default labels, retry backoff; labels persisted to
// <repository>/<model>/labels.json unless models.persist_labels is false).
ModelRegistry::Options RegistryOptions(const ServerConfig& config);

}  // namespace arginator::server
