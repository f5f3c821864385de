#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model_card.h"

namespace arginator {

// The trainer-to-server contract on disk, in one place for the trainer (fit, eval, compress)
// and the server (loader, watcher, labels): a model repository holds
//   <repository>/<model>/labels.json            version labels (common/version_labels.h)
//   <repository>/<model>/<version>/model.json   the model card (common/model_card.h)
//   <repository>/<model>/<version>/model.pt     the TorchScript module; its sha256 is in the card
inline constexpr char kModelCardFile[] = "model.json";
inline constexpr char kModelFile[] = "model.pt";
inline constexpr char kVersionLabelsFile[] = "labels.json";

std::string ModelCardPath(const std::string& version_dir);
std::string ModelFilePath(const std::string& version_dir);

// model.pt's sha256 against the one `card` records: DATA_LOSS "<dir>/model.pt: sha256 <hex>...
// does not match model.json's <hex>... (changed after it was published?)"; the file's read errors
// as Sha256File gives them.
absl::Status VerifyModelFile(const std::string& version_dir, const ModelCard& card);

// The card of the version in `version_dir`, with model.pt verified against it.
absl::StatusOr<ModelCard> ReadVerifiedPackage(const std::string& version_dir);

}  // namespace arginator
