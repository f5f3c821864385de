#include "common/embedding_files.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/allocator.h"
#include "common/csv_fields.h"
#include "common/file_io.h"
#include "common/hdf5_embeddings.h"
#include "common/id_map.h"
#include "common/status_macros.h"

namespace arginator {
namespace {

std::string Extension(const std::string& path) {
  return absl::AsciiStrToLower(std::filesystem::path(path).extension().string());
}

// Whether line 1's fields (id, then `dim` values) are a header rather than a protein: no value is
// a number (column names), or the values are exactly the column numbers 0..dim-1 or 1..dim, which
// is what pandas' `DataFrame.to_csv()` writes above a matrix without column names (",0,1,...").
// A data row with a typo among numbers stays a data row, so its error is reported.
bool IsHeaderRow(const std::vector<absl::string_view>& fields) {
  bool any_number = false, from_zero = true, from_one = true;
  for (size_t j = 1; j < fields.size(); ++j) {
    float v;
    if (!absl::SimpleAtof(fields[j], &v)) continue;
    any_number = true;
    int64_t n;
    const bool integer = absl::SimpleAtoi(fields[j], &n);
    from_zero = from_zero && integer && n == static_cast<int64_t>(j) - 1;
    from_one = from_one && integer && n == static_cast<int64_t>(j);
  }
  return !any_number || from_zero || from_one;
}

// CSV/TSV, a line at a time: memory holds one chunk.
class CsvStream final : public EmbeddingStream {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddingStream>> Open(const std::string& path, int dim) {
    auto stream = std::unique_ptr<CsvStream>(new CsvStream(path, dim));
    if (!stream->in_) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    stream->source_ = {stream->sep_ == '\t' ? "TSV" : "CSV", "first column", "text", 0};
    return std::unique_ptr<EmbeddingStream>(std::move(stream));
  }

  int64_t total_rows() const override { return -1; }

  absl::StatusOr<bool> Next(size_t max_rows, EmbeddingMatrix& chunk) override {
    chunk.dim = dim_;
    chunk.ids.clear();
    chunk.values.clear();
    std::string line;
    while (chunk.rows() < max_rows && std::getline(in_, line)) {
      const int64_t line_no = ++line_no_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      if (line_no == 1 && absl::StartsWithIgnoreCase(line, "id")) continue;  // header
      std::vector<absl::string_view> fields;
      const bool has_quotes = line.find('"') != std::string::npos;
      if (has_quotes) {
        if (absl::Status s = SplitCsvFields(line, sep_, &quoted_); !s.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path_, ": line ", line_no, ": ", s.message()));
        }
        fields.assign(quoted_.begin(), quoted_.end());
      } else {
        fields = absl::StrSplit(line, sep_);
      }
      if (line_no == 1 && static_cast<int>(fields.size()) == dim_ + 1 && IsHeaderRow(fields)) {
        continue;
      }
      if (static_cast<int>(fields.size()) != dim_ + 1) {
        return absl::InvalidArgumentError(absl::StrCat(path_, ": line ", line_no, " has ",
                                                       fields.size() - 1,
                                                       " values after the id, expected ", dim_));
      }
      // A quoted id is kept exactly; an unquoted one loses surrounding whitespace.
      const bool id_quoted = has_quotes && line[0] == '"';
      const std::string id(id_quoted ? fields[0] : absl::StripAsciiWhitespace(fields[0]));
      for (int j = 0; j < dim_; ++j) {
        float v;
        if (!absl::SimpleAtof(fields[j + 1], &v)) {
          return absl::InvalidArgumentError(absl::StrCat(path_, ": line ", line_no, " ('", id,
                                                         "'), value ", j + 1, " is not a number: '",
                                                         fields[j + 1], "'"));
        }
        if (!std::isfinite(v)) {
          return absl::InvalidArgumentError(absl::StrCat(path_, ": line ", line_no, " ('", id,
                                                         "') has ", std::isnan(v) ? "NaN" : "Inf",
                                                         " at value ", j + 1));
        }
        chunk.values.push_back(v);
      }
      chunk.ids.push_back(id);
    }
    rows_read_ += static_cast<int64_t>(chunk.rows());
    if (chunk.rows() > 0) return true;
    if (rows_read_ == 0) return absl::InvalidArgumentError(absl::StrCat(path_, ": no embeddings"));
    return false;
  }

 private:
  CsvStream(const std::string& path, int dim)
      : path_(path), dim_(dim), sep_(Extension(path) == ".tsv" ? '\t' : ','), in_(path) {}

  const std::string path_;
  const int dim_;
  const char sep_;
  std::ifstream in_;
  int64_t line_no_ = 0, rows_read_ = 0;
  std::vector<std::string> quoted_;  // the fields of a line with quotes (RFC 4180)
};

// An IEEE 754 binary16 value (as ProtTrans' embedder and `np.float16` store embeddings) as
// float32, exactly: normal, subnormal, zero, Inf and NaN alike.
float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // Inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {        // subnormal: mantissa x 2^-24, normalised for float32
    uint32_t shifts = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shifts;
    }
    bits = sign | ((113 - shifts) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// NPY format 1.0/2.0: magic, version, header length, a Python dict literal, then the data, read
// a chunk of rows at a time straight into the chunk (float32) or through one buffer (float16,
// float64), checked for NaN/Inf a row at a time through its norm, so a large file reads at disk
// speed. The ids file, when there is one, is counted when the stream opens (a count that does not
// match the rows fails before any row is read) and read along with the rows.
class NpyStream final : public EmbeddingStream {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddingStream>> Open(const std::string& path, int dim) {
    auto stream = std::unique_ptr<NpyStream>(new NpyStream(path, dim));
    ARG_RETURN_IF_ERROR(stream->ReadHeader());
    return std::unique_ptr<EmbeddingStream>(std::move(stream));
  }

  int64_t total_rows() const override { return rows_; }

  absl::StatusOr<bool> Next(size_t max_rows, EmbeddingMatrix& chunk) override {
    const auto n = static_cast<int64_t>(
        std::min<uint64_t>(max_rows, static_cast<uint64_t>(rows_ - next_row_)));
    chunk.dim = dim_;
    chunk.ids.clear();
    if (n == 0) {
      chunk.values.clear();
      return false;
    }
    const size_t count = static_cast<size_t>(n) * dim_;
    ResizeLargeBuffer(chunk.values, count);
    if (word_ != 4) stored_.resize(count * word_);
    char* into = word_ == 4 ? reinterpret_cast<char*>(chunk.values.data()) : stored_.data();
    in_.read(into, static_cast<std::streamsize>(count * word_));
    if (!in_) return absl::DataLossError(absl::StrCat(path_, ": could not read the array"));
    for (size_t i = 0; word_ != 4 && i < count; ++i) {
      if (word_ == 2) {
        uint16_t h;
        std::memcpy(&h, stored_.data() + i * 2, 2);
        chunk.values[i] = HalfToFloat(h);
      } else {
        double d;
        std::memcpy(&d, stored_.data() + i * 8, 8);
        chunk.values[i] = static_cast<float>(d);
      }
    }
    for (int64_t r = 0; r < n; ++r) {
      if (std::isfinite(RowL2Norm(chunk.row(r), dim_))) continue;
      for (int j = 0; j < dim_; ++j) {
        const float v = chunk.row(r)[j];
        if (!std::isfinite(v)) {
          return Bad(absl::StrCat("row ", next_row_ + r, " has ", std::isnan(v) ? "NaN" : "Inf",
                                  " at column ", j));
        }
      }
    }
    chunk.ids.reserve(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      if (!ids_.is_open()) {
        chunk.ids.push_back(absl::StrCat(next_row_ + r));
        continue;
      }
      std::string id;
      while (std::getline(ids_, id) && id.empty()) {
      }
      if (id.empty()) {  // the file changed since it was counted
        return absl::DataLossError(absl::StrCat(ids_path_, ": ended before row ", next_row_ + r));
      }
      chunk.ids.push_back(std::move(id));
    }
    next_row_ += n;
    return true;
  }

 private:
  NpyStream(const std::string& path, int dim)
      : path_(path), ids_path_(path + ".ids"), dim_(dim), in_(path, std::ios::binary) {}

  absl::Status Bad(const std::string& why) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", why));
  }

  absl::Status ReadHeader() {
    if (!in_) return absl::NotFoundError(absl::StrCat(path_, ": cannot open"));
    in_.seekg(0, std::ios::end);
    const uint64_t file_size = static_cast<uint64_t>(in_.tellg());
    in_.seekg(0);
    char prefix[12] = {};
    in_.read(prefix, static_cast<std::streamsize>(std::min<uint64_t>(file_size, sizeof(prefix))));
    if (file_size < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0) return Bad("not an NPY file");
    const int major = static_cast<unsigned char>(prefix[6]);
    uint64_t header_len, offset;
    if (major == 1) {
      header_len =
          static_cast<unsigned char>(prefix[8]) | (static_cast<unsigned char>(prefix[9]) << 8);
      offset = 10;
    } else {
      if (file_size < 12) return Bad("truncated NPY header");
      uint32_t len;
      std::memcpy(&len, prefix + 8, 4);
      header_len = len;
      offset = 12;
    }
    if (offset + header_len > file_size) return Bad("truncated NPY header");
    std::string header(header_len, '\0');
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(header.data(), static_cast<std::streamsize>(header_len));
    if (header.find("'fortran_order': True") != std::string::npos) {
      return Bad("Fortran-ordered arrays are not supported; save with C order");
    }
    if (header.find("'<f4'") != std::string::npos) {
      word_ = 4;
    } else if (header.find("'<f8'") != std::string::npos) {
      word_ = 8;
    } else if (header.find("'<f2'") != std::string::npos) {
      word_ = 2;
    } else {
      // The header ends in padding and a newline: the message stays one line.
      return Bad(absl::StrCat("dtype must be little-endian float16, float32 or float64; header: ",
                              absl::StripAsciiWhitespace(header)));
    }
    auto shape_at = header.find("'shape': (");
    if (shape_at == std::string::npos) return Bad("NPY header has no shape");
    std::string shape = header.substr(shape_at + 10, header.find(')', shape_at) - shape_at - 10);
    std::vector<std::string> dims = absl::StrSplit(shape, ',', absl::SkipWhitespace());
    int64_t cols = 0;
    if (dims.size() != 2 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(dims[0]), &rows_) ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(dims[1]), &cols)) {
      return Bad(absl::StrCat("shape (", shape, ") is not 2-D [N, ", dim_, "]"));
    }
    if (cols != dim_ || cols <= 0)
      return Bad(absl::StrCat("shape (", shape, ") has ", cols, " columns, expected ", dim_));
    if (rows_ < 0) return Bad(absl::StrCat("shape (", shape, ") has a negative row count"));
    const uint64_t data_at = offset + header_len;
    // Divides, not multiplies: rows * cols * word wrapped for a shape like (2^60 + 1, 4), passed
    // this check with 16 bytes of data, and the reader then allocated for 2^62 floats.
    const uint64_t row_bytes = static_cast<uint64_t>(cols) * word_;
    if (static_cast<uint64_t>(rows_) > (file_size - data_at) / row_bytes) {
      return Bad(absl::StrCat("holds fewer bytes than its shape (", shape, ") needs"));
    }
    if (std::filesystem::exists(ids_path_)) {
      std::ifstream ids(ids_path_);
      std::string id;
      int64_t count = 0;
      while (std::getline(ids, id)) count += !id.empty();
      if (count != rows_) {
        return absl::InvalidArgumentError(
            absl::StrCat(ids_path_, ": has ", count, " ids for ", rows_, " rows"));
      }
      ids_.open(ids_path_);
    }
    if (rows_ == 0) return Bad("no embeddings");
    source_ = {"NPY", ids_.is_open() ? ids_path_ : "row index",
               word_ == 2   ? "float16"
               : word_ == 4 ? "float32"
                            : "float64",
               0};
    return absl::OkStatus();
  }

  const std::string path_, ids_path_;
  const int dim_;
  std::ifstream in_, ids_;
  size_t word_ = 4;
  int64_t rows_ = 0, next_row_ = 0;
  std::vector<char> stored_;  // float16 / float64 as stored
};

// A file read whole (one whose ids go through an id map), handed out in chunks.
class MatrixStream final : public EmbeddingStream {
 public:
  MatrixStream(EmbeddingMatrix matrix, EmbeddingSource source) : matrix_(std::move(matrix)) {
    source_ = std::move(source);
  }
  int64_t total_rows() const override { return static_cast<int64_t>(matrix_.rows()); }
  absl::StatusOr<bool> Next(size_t max_rows, EmbeddingMatrix& chunk) override {
    const size_t n = std::min(max_rows, matrix_.rows() - next_row_);
    chunk.dim = matrix_.dim;
    if (n == matrix_.rows()) {  // the whole file in one chunk: no copy
      chunk = std::move(matrix_);
      matrix_ = EmbeddingMatrix();
      next_row_ = 0;
      return n > 0;
    }
    chunk.ids.assign(matrix_.ids.begin() + static_cast<std::ptrdiff_t>(next_row_),
                     matrix_.ids.begin() + static_cast<std::ptrdiff_t>(next_row_ + n));
    chunk.values.assign(matrix_.row(next_row_), matrix_.row(next_row_) + n * matrix_.dim);
    next_row_ += n;
    return n > 0;
  }

 private:
  EmbeddingMatrix matrix_;
  size_t next_row_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddingStream>> EmbeddingStream::Open(
    const std::string& path, const EmbeddingReadOptions& options) {
  const std::string ext = Extension(path);
  if (options.id_map == nullptr && (ext == ".csv" || ext == ".tsv")) {
    return CsvStream::Open(path, options.dim);
  }
  if (options.id_map == nullptr && ext == ".npy") return NpyStream::Open(path, options.dim);
  if (options.id_map == nullptr && (ext == ".h5" || ext == ".hdf5")) {
    return OpenEmbeddingsH5Stream(path, options);
  }
  EmbeddingSource source;
  ARG_ASSIGN_OR_RETURN(EmbeddingMatrix matrix, ReadEmbeddingFile(path, options, &source));
  return std::unique_ptr<EmbeddingStream>(new MatrixStream(std::move(matrix), std::move(source)));
}

absl::StatusOr<EmbeddingMatrix> ReadEmbeddingFile(const std::string& path,
                                                  const EmbeddingReadOptions& options,
                                                  EmbeddingSource* source) {
  EmbeddingSource found;
  absl::StatusOr<EmbeddingMatrix> read;
  const std::string ext = Extension(path);
  if (ext == ".h5" || ext == ".hdf5") {
    read = ReadEmbeddingsH5(path, options, &found);
  } else if (ext == ".csv" || ext == ".tsv" || ext == ".npy") {
    // The whole file as one chunk.
    absl::StatusOr<std::unique_ptr<EmbeddingStream>> stream =
        ext == ".npy" ? NpyStream::Open(path, options.dim) : CsvStream::Open(path, options.dim);
    if (!stream.ok()) return stream.status();
    EmbeddingMatrix m;
    absl::StatusOr<bool> more = (*stream)->Next(std::numeric_limits<size_t>::max(), m);
    if (!more.ok()) return more.status();
    found = (*stream)->source();
    read = std::move(m);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unknown format '", ext, "' (use .h5, .hdf5, .csv, .tsv or .npy)"));
  }
  if (read.ok() && options.id_map != nullptr) {
    ARG_RETURN_IF_ERROR(options.id_map->Apply(path, *read, &found));
  }
  if (read.ok() && source != nullptr) *source = std::move(found);
  return read;
}

absl::StatusOr<EmbeddingMatrix> ReadEmbeddingFile(const std::string& path, int dim) {
  EmbeddingReadOptions options;
  options.dim = dim;
  return ReadEmbeddingFile(path, options, nullptr);
}

std::string DescribeRead(const std::string& path, size_t rows, const EmbeddingSource& source) {
  std::string line = absl::StrCat("read ", rows, " embeddings from ", path, ": ", source.layout,
                                  "; ids from ", source.ids);
  if (source.pooled > 0) {
    absl::StrAppend(&line, "; ", source.pooled, " per-residue arrays mean-pooled");
  }
  return line;
}

absl::Status WriteEmbeddingsCsv(const std::string& path, const EmbeddingMatrix& m) {
  std::string out = "id";
  for (int j = 0; j < m.dim; ++j) absl::StrAppend(&out, ",v", j);
  out += "\n";
  char buf[32];
  for (size_t i = 0; i < m.rows(); ++i) {
    out += m.ids[i];
    for (int j = 0; j < m.dim; ++j) {
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), m.row(i)[j]);
      out += ',';
      out.append(buf, end);
    }
    out += "\n";
  }
  return WriteFileDurably(path, out);
}

absl::Status WriteEmbeddingsNpy(const std::string& path, const EmbeddingMatrix& m) {
  std::string header = absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", m.rows(),
                                    ", ", m.dim, "), }");
  // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(m.values.data()), m.values.size() * sizeof(float));
  ARG_RETURN_IF_ERROR(WriteFileDurably(path, out));
  std::string ids;
  for (const auto& id : m.ids) absl::StrAppend(&ids, id, "\n");
  return WriteFileDurably(path + ".ids", ids);
}

}  // namespace arginator
