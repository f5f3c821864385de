#include "common/embedding_files.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

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

absl::StatusOr<EmbeddingMatrix> ReadCsv(const std::string& path, int dim, EmbeddingSource* source) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  const bool tsv = Extension(path) == ".tsv";
  const char sep = tsv ? '\t' : ',';
  EmbeddingMatrix m;
  m.dim = dim;
  std::string line;
  std::vector<std::string> quoted;  // the fields of a line with quotes (RFC 4180)
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (line_no == 1 && absl::StartsWithIgnoreCase(line, "id")) continue;  // header
    std::vector<absl::string_view> fields;
    const bool has_quotes = line.find('"') != std::string::npos;
    if (has_quotes) {
      if (absl::Status s = SplitCsvFields(line, sep, &quoted); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": line ", line_no, ": ", s.message()));
      }
      fields.assign(quoted.begin(), quoted.end());
    } else {
      fields = absl::StrSplit(line, sep);
    }
    if (line_no == 1 && static_cast<int>(fields.size()) == dim + 1 && IsHeaderRow(fields)) continue;
    if (static_cast<int>(fields.size()) != dim + 1) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", line_no, " has ",
                                                     fields.size() - 1,
                                                     " values after the id, expected ", dim));
    }
    // A quoted id is kept exactly; an unquoted one loses surrounding whitespace.
    const bool id_quoted = has_quotes && line[0] == '"';
    const std::string id(id_quoted ? fields[0] : absl::StripAsciiWhitespace(fields[0]));
    for (int j = 0; j < dim; ++j) {
      float v;
      if (!absl::SimpleAtof(fields[j + 1], &v)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": line ", line_no, " ('", id,
                                                       "'), value ", j + 1, " is not a number: '",
                                                       fields[j + 1], "'"));
      }
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": line ", line_no, " ('", id,
                                                       "') has ", std::isnan(v) ? "NaN" : "Inf",
                                                       " at value ", j + 1));
      }
      m.values.push_back(v);
    }
    m.ids.push_back(id);
  }
  if (m.rows() == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": no embeddings"));
  *source = {tsv ? "TSV" : "CSV", "first column", "text", 0};
  return m;
}

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

// NPY format 1.0/2.0: magic, version, header length, a Python dict literal, then the data. The
// data is read straight into the matrix (float32) or through one buffer (float16, float64), and
// checked for NaN/Inf a row at a time through its norm, so a large file reads at disk speed.
absl::StatusOr<EmbeddingMatrix> ReadNpy(const std::string& path, int dim, EmbeddingSource* source) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
  };
  char prefix[12] = {};
  in.read(prefix, std::min<uint64_t>(file_size, sizeof(prefix)));
  if (file_size < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0) return bad("not an NPY file");
  const int major = static_cast<unsigned char>(prefix[6]);
  uint64_t header_len, offset;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(prefix[8]) | (static_cast<unsigned char>(prefix[9]) << 8);
    offset = 10;
  } else {
    if (file_size < 12) return bad("truncated NPY header");
    uint32_t len;
    std::memcpy(&len, prefix + 8, 4);
    header_len = len;
    offset = 12;
  }
  if (offset + header_len > file_size) return bad("truncated NPY header");
  std::string header(header_len, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  size_t word;
  if (header.find("'fortran_order': True") != std::string::npos) {
    return bad("Fortran-ordered arrays are not supported; save with C order");
  }
  if (header.find("'<f4'") != std::string::npos) {
    word = 4;
  } else if (header.find("'<f8'") != std::string::npos) {
    word = 8;
  } else if (header.find("'<f2'") != std::string::npos) {
    word = 2;
  } else {
    // The header ends in padding and a newline: the message stays one line.
    return bad(absl::StrCat("dtype must be little-endian float16, float32 or float64; header: ",
                            absl::StripAsciiWhitespace(header)));
  }
  auto shape_at = header.find("'shape': (");
  if (shape_at == std::string::npos) return bad("NPY header has no shape");
  std::string shape = header.substr(shape_at + 10, header.find(')', shape_at) - shape_at - 10);
  std::vector<std::string> dims = absl::StrSplit(shape, ',', absl::SkipWhitespace());
  int64_t rows = 0, cols = 0;
  if (dims.size() != 2 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(dims[0]), &rows) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(dims[1]), &cols)) {
    return bad(absl::StrCat("shape (", shape, ") is not 2-D [N, ", dim, "]"));
  }
  if (cols != dim || cols <= 0)
    return bad(absl::StrCat("shape (", shape, ") has ", cols, " columns, expected ", dim));
  if (rows < 0) return bad(absl::StrCat("shape (", shape, ") has a negative row count"));
  const uint64_t data_at = offset + header_len;
  // Divides, not multiplies: rows * cols * word wrapped for a shape like (2^60 + 1, 4), passed
  // this check with 16 bytes of data, and the reader then allocated for 2^62 floats.
  const uint64_t row_bytes = static_cast<uint64_t>(cols) * word;
  if (static_cast<uint64_t>(rows) > (file_size - data_at) / row_bytes) {
    return bad(absl::StrCat("holds fewer bytes than its shape (", shape, ") needs"));
  }
  EmbeddingMatrix m;
  m.dim = dim;
  const size_t count = static_cast<size_t>(rows) * cols;
  ResizeLargeBuffer(m.values, count);
  std::vector<char> stored(word == 4 ? 0 : count * word);
  char* into = word == 4 ? reinterpret_cast<char*>(m.values.data()) : stored.data();
  in.read(into, static_cast<std::streamsize>(count * word));
  if (!in) return absl::DataLossError(absl::StrCat(path, ": could not read the array"));
  for (size_t i = 0; word != 4 && i < count; ++i) {
    if (word == 2) {
      uint16_t h;
      std::memcpy(&h, stored.data() + i * 2, 2);
      m.values[i] = HalfToFloat(h);
    } else {
      double d;
      std::memcpy(&d, stored.data() + i * 8, 8);
      m.values[i] = static_cast<float>(d);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (std::isfinite(RowL2Norm(m.row(r), dim))) continue;
    for (int j = 0; j < dim; ++j) {
      const float v = m.row(r)[j];
      if (!std::isfinite(v)) {
        return bad(
            absl::StrCat("row ", r, " has ", std::isnan(v) ? "NaN" : "Inf", " at column ", j));
      }
    }
  }
  const std::string ids_path = path + ".ids";
  if (std::filesystem::exists(ids_path)) {
    std::ifstream ids(ids_path);
    std::string id;
    while (std::getline(ids, id)) {
      if (!id.empty()) m.ids.push_back(id);
    }
    if (static_cast<int64_t>(m.ids.size()) != rows) {
      return absl::InvalidArgumentError(
          absl::StrCat(ids_path, ": has ", m.ids.size(), " ids for ", rows, " rows"));
    }
  } else {
    for (int64_t i = 0; i < rows; ++i) m.ids.push_back(absl::StrCat(i));
  }
  if (rows == 0) return bad("no embeddings");
  *source = {"NPY", std::filesystem::exists(ids_path) ? ids_path : "row index",
             word == 2   ? "float16"
             : word == 4 ? "float32"
                         : "float64",
             0};
  return m;
}

}  // namespace

absl::StatusOr<EmbeddingMatrix> ReadEmbeddingFile(const std::string& path,
                                                  const EmbeddingReadOptions& options,
                                                  EmbeddingSource* source) {
  EmbeddingSource found;
  absl::StatusOr<EmbeddingMatrix> read;
  const std::string ext = Extension(path);
  if (ext == ".h5" || ext == ".hdf5") {
    read = ReadEmbeddingsH5(path, options, &found);
  } else if (ext == ".csv" || ext == ".tsv") {
    read = ReadCsv(path, options.dim, &found);
  } else if (ext == ".npy") {
    read = ReadNpy(path, options.dim, &found);
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
