#include "server/http/content_encoding.h"

#include <zlib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace arginator::server {
namespace {

constexpr size_t kChunkBytes = 64 << 10;

// gzip and zlib streams (window bits 15, +32: detect the header), one after another as RFC 1952
// allows several gzip members.
absl::StatusOr<std::string> Inflate(std::string_view in, size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return absl::InternalError("zlib: inflateInit2 failed");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (z.avail_in > 0 || rc != Z_STREAM_END) {
    if (rc == Z_STREAM_END) inflateReset(&z);  // another gzip member follows
    const size_t before = out.size();
    out.resize(before + kChunkBytes);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = kChunkBytes;
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(before + kChunkBytes - z.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&z);
      return absl::ResourceExhaustedError(
          absl::StrCat("the decompressed body exceeds its limit of ", max_bytes, " bytes"));
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // input ended inside a stream
    if (rc != Z_OK && rc != Z_STREAM_END) break;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        absl::StrCat("the compressed body is corrupt or truncated (zlib: ",
                     z.msg != nullptr ? z.msg : "incomplete stream", ")"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> DecodeContent(const std::string& encoding, std::string body,
                                          size_t max_bytes) {
  const std::string e = absl::AsciiStrToLower(std::string(absl::StripAsciiWhitespace(encoding)));
  if (e.empty() || e == "identity") return body;
  if (e == "gzip" || e == "x-gzip" || e == "deflate") return Inflate(body, max_bytes);
  return absl::UnimplementedError(
      absl::StrCat("Content-Encoding '", e.substr(0, 64), "' is not supported (gzip, deflate)"));
}

}  // namespace arginator::server
