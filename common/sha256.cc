#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace arginator {
namespace {

struct DigestContext {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  explicit DigestContext(const EVP_MD* md = EVP_sha256()) {
    EVP_DigestInit_ex(ctx.get(), md, nullptr);
  }
  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx.get(), data, n); }
  std::string FinalHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(static_cast<size_t>(len) * 2);
    for (unsigned int i = 0; i < len; ++i) {
      hex.push_back(kHex[digest[i] >> 4]);
      hex.push_back(kHex[digest[i] & 0xf]);
    }
    return hex;
  }
};

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  DigestContext digest;
  digest.Update(bytes.data(), bytes.size());
  return digest.FinalHex();
}

std::string Md5Hex(std::string_view bytes) {
  DigestContext digest(EVP_md5());
  digest.Update(bytes.data(), bytes.size());
  return digest.FinalHex();
}

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  std::unique_ptr<FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open for hashing"));
  DigestContext digest;
  std::vector<char> buffer(1 << 20);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    digest.Update(buffer.data(), n);
  }
  if (std::ferror(file.get())) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return digest.FinalHex();
}

}  // namespace arginator
