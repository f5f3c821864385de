#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace arginator {

// Lower-case hex SHA-256 of a byte string.
std::string Sha256Hex(std::string_view bytes);

// Lower-case hex MD5 of a byte string: bio_embeddings keys each protein by the MD5 of its
// sequence (an identifier, not a security measure).
std::string Md5Hex(std::string_view bytes);

// Lower-case hex SHA-256 of a file's contents, streamed; NOT_FOUND names the file.
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace arginator
