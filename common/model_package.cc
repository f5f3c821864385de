#include "common/model_package.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace arginator {

std::string ModelCardPath(const std::string& version_dir) {
  return (std::filesystem::path(version_dir) / kModelCardFile).string();
}

std::string ModelFilePath(const std::string& version_dir) {
  return (std::filesystem::path(version_dir) / kModelFile).string();
}

absl::Status VerifyModelFile(const std::string& version_dir, const ModelCard& card) {
  const std::string path = ModelFilePath(version_dir);
  ARG_ASSIGN_OR_RETURN(const std::string sha, Sha256File(path));
  if (sha == card.model_sha256) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      path, ": sha256 ", sha.substr(0, 16), "... does not match ", kModelCardFile, "'s ",
      card.model_sha256.substr(0, 16), "... (changed after it was published?)"));
}

absl::StatusOr<ModelCard> ReadVerifiedPackage(const std::string& version_dir) {
  ARG_ASSIGN_OR_RETURN(ModelCard card, ReadModelCard(ModelCardPath(version_dir)));
  ARG_RETURN_IF_ERROR(VerifyModelFile(version_dir, card));
  return card;
}

}  // namespace arginator
