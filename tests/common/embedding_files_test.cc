#include "common/embedding_files.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/hdf5_embeddings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/embeddings.h"
#include "tests/testing/temp_dir.h"

namespace arginator {
namespace {

using ::testing::HasSubstr;
using testing::MakeMatrix;
using testing::TempDir;

TEST(EmbeddingFilesTest, EveryFormatRoundTrips) {
  TempDir dir;
  EmbeddingMatrix m = MakeMatrix("P", 4);
  ASSERT_TRUE(WriteEmbeddingsCsv(dir.Join("e.csv"), m).ok());
  ASSERT_TRUE(WriteEmbeddingsNpy(dir.Join("e.npy"), m).ok());
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("e.h5"), m).ok());
  for (const char* name : {"e.csv", "e.npy", "e.h5"}) {
    auto read = ReadEmbeddingFile(dir.Join(name));
    ASSERT_TRUE(read.ok()) << name << ": " << read.status();
    EXPECT_EQ(read->ids, m.ids) << name;
    EXPECT_EQ(read->values, m.values) << name;  // shortest round-trip formatting in CSV
  }
}

TEST(EmbeddingFilesTest, NpyWithoutIdsUsesRowIndexAndFloat64Works) {
  TempDir dir;
  // A float64 [2, 1024] array as numpy.save writes it, without an .ids file.
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1024), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size());
  bytes += '\0';
  bytes += header;
  for (int i = 0; i < 2 * 1024; ++i) {
    double v = i * 0.001;
    bytes.append(reinterpret_cast<const char*>(&v), 8);
  }
  std::ofstream(dir.Join("x.npy"), std::ios::binary) << bytes;
  auto read = ReadEmbeddingFile(dir.Join("x.npy"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->ids, (std::vector<std::string>{"0", "1"}));
  EXPECT_FLOAT_EQ(read->row(1)[0], 1.024f);
}

// Issue 25: pandas' `df.to_csv()` writes a header of column numbers (",0,1,...,1023", or
// "protein,0,1,..." with a named index); it was read as a protein and classified. A header of
// column names is skipped too; a first row of numbers with a typo is still an error (below).
TEST(EmbeddingFilesTest, AHeaderRowIsRecognisedNotReadAsAProtein) {
  TempDir dir;
  std::string row = "P1";
  for (int j = 0; j < 1024; ++j) row += ",0.25";
  std::string from_zero, from_one = "protein", names = "name";
  for (int j = 0; j < 1024; ++j) {
    from_zero += "," + std::to_string(j);
    from_one += "," + std::to_string(j + 1);
    names += ",f" + std::to_string(j);
  }
  for (const std::string& header : {from_zero, from_one, names}) {
    std::ofstream(dir.Join("h.csv")) << header << "\n" << row << "\n";
    auto read = ReadEmbeddingFile(dir.Join("h.csv"));
    ASSERT_TRUE(read.ok()) << header.substr(0, 20) << ": " << read.status();
    EXPECT_EQ(read->ids, std::vector<std::string>{"P1"}) << header.substr(0, 20);
  }
  // Column numbers anywhere but the first line are data (and a protein may be named "0").
  std::ofstream(dir.Join("later.csv")) << row << "\n" << from_zero << "\n";
  auto later = ReadEmbeddingFile(dir.Join("later.csv"));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->rows(), 2);
}

TEST(EmbeddingFilesTest, BadCsvNamesTheFileAndLine) {
  TempDir dir;
  std::string good_row = "P1";
  for (int j = 0; j < 1024; ++j) good_row += ",0.5";
  std::ofstream(dir.Join("short.csv")) << "id,v0\n" << good_row << "\nP2,1,2,3\n";
  auto r = ReadEmbeddingFile(dir.Join("short.csv"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("short.csv: line 3 has 3 values"));

  std::string bad = good_row;
  bad.replace(bad.find(",0.5"), 4, ",abc");
  std::ofstream(dir.Join("text.csv")) << bad << "\n";
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("text.csv")).status().message(),
              HasSubstr("line 1 ('P1'), value 1 is not a number: 'abc'"));

  std::string nan = good_row;
  nan.replace(nan.rfind(",0.5"), 4, ",nan");
  std::ofstream(dir.Join("nan.csv")) << nan << "\n";
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("nan.csv")).status().message(), HasSubstr("NaN"));
}

TEST(EmbeddingFilesTest, BadNpyAndUnknownFormatsAreErrors) {
  TempDir dir;
  std::ofstream(dir.Join("junk.npy")) << "not numpy";
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("junk.npy")).status().message(),
              HasSubstr("not an NPY file"));
  EmbeddingMatrix narrow = MakeMatrix("P", 2, 8);
  ASSERT_TRUE(WriteEmbeddingsNpy(dir.Join("narrow.npy"), narrow).ok());
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("narrow.npy")).status().message(),
              HasSubstr("8 columns, expected 1024"));
  EmbeddingMatrix m = MakeMatrix("P", 3);
  ASSERT_TRUE(WriteEmbeddingsNpy(dir.Join("ids.npy"), m).ok());
  std::ofstream(dir.Join("ids.npy.ids")) << "only-one\n";
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("ids.npy")).status().message(),
              HasSubstr("has 1 ids for 3 rows"));
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("e.parquet")).status().message(),
              HasSubstr("unknown format"));
}

// NPY format 1.0 bytes: a header declaring `descr` and `shape` (e.g. "(2, 4)"), then `payload`.
std::string NpyBytes(const std::string& descr, const std::string& shape,
                     const std::string& payload) {
  const std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }\n";
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + payload;
}

// Issue 25: float16 `.npy` (np.float16; the precision ProtTrans' embedder writes) was refused
// while float16 HDF5 was read. Values are converted exactly, subnormals and NaN included.
TEST(EmbeddingFilesTest, Float16NpyIsReadExactly) {
  TempDir dir;
  auto write = [&](const std::string& name, const std::vector<uint16_t>& first) {
    std::vector<uint16_t> halves(1024, 0x3C00);  // 1.0
    std::copy(first.begin(), first.end(), halves.begin());
    std::ofstream(dir.Join(name), std::ios::binary)
        << NpyBytes("<f2", "(1, 1024)",
                    std::string(reinterpret_cast<const char*>(halves.data()), halves.size() * 2));
  };
  // 0.5, -2, the smallest subnormal 2^-24, the largest subnormal, the largest normal, -0.
  write("half.npy", {0x3800, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0x8000});
  auto read = ReadEmbeddingFile(dir.Join("half.npy"));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->rows(), 1);
  EXPECT_EQ(read->values[0], 0.5f);
  EXPECT_EQ(read->values[1], -2.0f);
  EXPECT_EQ(read->values[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(read->values[3], std::ldexp(1023.0f, -24));
  EXPECT_EQ(read->values[4], 65504.0f);
  EXPECT_EQ(read->values[5], 0.0f);
  EXPECT_TRUE(std::signbit(read->values[5]));
  EXPECT_EQ(read->values[6], 1.0f);
  write("nan.npy", {0x3800, 0x7E00});
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("nan.npy")).status().message(), HasSubstr("NaN"));
}

// An NPY file whose header declares `shape` over the float32 values `data`.
std::string NpyWithShape(const std::string& shape, const std::vector<float>& data) {
  return NpyBytes("<f4", shape,
                  std::string(reinterpret_cast<const char*>(data.data()), data.size() * 4));
}

// rows * cols * 4 wrapped to 16 for 2^60 + 1 rows of 4, so 16 bytes of data passed the size check
// and the reader sized its matrix for 2^62 + 4 floats (std::length_error, or an allocation of
// 16 EiB); 2^62 rows overflowed int64 first. Negative rows are named as such.
TEST(EmbeddingFilesTest, NpyShapeBeyondItsDataIsAnErrorNotAnAllocation) {
  TempDir dir;
  const std::vector<float> four = {1, 2, 3, 4};
  for (const char* shape : {"(1152921504606846977, 4)", "(4611686018427387904, 4)",
                            "(9223372036854775807, 4)", "(2, 4)"}) {
    std::ofstream(dir.Join("big.npy"), std::ios::binary) << NpyWithShape(shape, four);
    auto read = ReadEmbeddingFile(dir.Join("big.npy"), 4);
    ASSERT_FALSE(read.ok()) << shape;
    EXPECT_THAT(read.status().message(), HasSubstr("holds fewer bytes than its shape")) << shape;
  }
  std::ofstream(dir.Join("neg.npy"), std::ios::binary) << NpyWithShape("(-1, 4)", four);
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("neg.npy"), 4).status().message(),
              HasSubstr("negative row count"));
  std::ofstream(dir.Join("one.npy"), std::ios::binary) << NpyWithShape("(1, 4)", four);
  auto one = ReadEmbeddingFile(dir.Join("one.npy"), 4);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->values, four);
}

}  // namespace
}  // namespace arginator

namespace arginator {
namespace {

// Issue 25: a quoted id holding a comma (RFC 4180, as the clients' own result files quote) was
// refused as a row with one value too many.
TEST(EmbeddingFilesTest, AQuotedCsvIdMayHoldTheSeparator) {
  testing::TempDir dir;
  std::ofstream(dir.Join("q.csv")) << "\"WP_1.1, TEM-1 \"\"blaTEM\"\"\",1,2,3.5\n  P2 ,\"4\",5,6\n";
  EmbeddingReadOptions options;
  options.dim = 3;
  EmbeddingSource source;
  auto read = ReadEmbeddingFile(dir.Join("q.csv"), options, &source);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->ids, (std::vector<std::string>{"WP_1.1, TEM-1 \"blaTEM\"", "P2"}));
  EXPECT_EQ(read->values, (std::vector<float>{1, 2, 3.5, 4, 5, 6}));
  EXPECT_EQ(source.layout, "CSV");
  std::ofstream(dir.Join("open.csv")) << "\"P1,1,2,3\n";
  EXPECT_THAT(ReadEmbeddingFile(dir.Join("open.csv"), 3).status().message(),
              HasSubstr("open.csv: line 1: field 1 has an unclosed quote"));
}

}  // namespace
}  // namespace arginator

namespace arginator {
namespace {

// Reads `path` through an EmbeddingStream in chunks of `chunk_rows`.
absl::StatusOr<EmbeddingMatrix> ReadInChunks(const std::string& path, size_t chunk_rows,
                                             int* chunks = nullptr) {
  auto stream = EmbeddingStream::Open(path, EmbeddingReadOptions());
  if (!stream.ok()) return stream.status();
  EmbeddingMatrix all, chunk;
  for (;;) {
    absl::StatusOr<bool> more = (*stream)->Next(chunk_rows, chunk);
    if (!more.ok()) return more.status();
    if (!*more) break;
    EXPECT_LE(chunk.rows(), chunk_rows);
    EXPECT_EQ(chunk.values.size(), chunk.rows() * chunk.dim);
    all.dim = chunk.dim;
    all.Append(chunk);
    if (chunks != nullptr) ++*chunks;
  }
  EXPECT_EQ(chunk.rows(), 0u) << "the end leaves the chunk empty";
  return all;
}

// Issue 29: a file larger than memory classifies, because the clients read it a request's rows at
// a time; every format gives the same rows, ids and values chunk by chunk as read whole.
TEST(EmbeddingStreamTest, EveryFormatReadInChunksGivesTheWholeFilesRows) {
  testing::TempDir dir;
  EmbeddingMatrix m = testing::MakeMatrix("P", 11);
  ASSERT_TRUE(WriteEmbeddingsCsv(dir.Join("e.csv"), m).ok());
  ASSERT_TRUE(WriteEmbeddingsNpy(dir.Join("e.npy"), m).ok());
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("e.h5"), m).ok());
  ASSERT_TRUE(WriteEmbeddingsNpy(dir.Join("plain.npy"), m).ok());
  std::filesystem::remove(dir.Join("plain.npy.ids"));
  for (const char* name : {"e.csv", "e.npy", "e.h5", "plain.npy"}) {
    auto whole = ReadEmbeddingFile(dir.Join(name));
    ASSERT_TRUE(whole.ok()) << name << ": " << whole.status();
    for (size_t chunk_rows : {1, 4, 11, 100}) {
      int chunks = 0;
      auto chunked = ReadInChunks(dir.Join(name), chunk_rows, &chunks);
      ASSERT_TRUE(chunked.ok()) << name << ": " << chunked.status();
      EXPECT_EQ(chunked->ids, whole->ids) << name << " in chunks of " << chunk_rows;
      EXPECT_EQ(chunked->values, whole->values) << name << " in chunks of " << chunk_rows;
      EXPECT_EQ(chunks, static_cast<int>((11 + chunk_rows - 1) / chunk_rows));
    }
    auto stream = EmbeddingStream::Open(dir.Join(name), EmbeddingReadOptions());
    ASSERT_TRUE(stream.ok());
    EXPECT_EQ((*stream)->total_rows(), std::string(name) == "e.csv" ? -1 : 11) << name;
  }
}

TEST(EmbeddingStreamTest, AnErrorPartWayIsTheWholeReadsErrorAtTheChunkThatReachesIt) {
  testing::TempDir dir;
  EmbeddingMatrix m = testing::MakeMatrix("P", 9);
  m.row(7)[3] = std::nanf("");
  ASSERT_TRUE(WriteEmbeddingsNpy(dir.Join("nan.npy"), m).ok());
  std::string csv = "id";
  for (int j = 0; j < m.dim; ++j) csv += ",v" + std::to_string(j);
  csv += "\n";
  for (size_t i = 0; i < 9; ++i) {
    csv += m.ids[i];
    for (int j = 0; j < m.dim; ++j) csv += i == 6 && j == 5 ? ",x" : ",0.5";
    csv += "\n";
  }
  std::ofstream(dir.Join("bad.csv")) << csv;
  for (const char* name : {"nan.npy", "bad.csv"}) {
    auto whole = ReadEmbeddingFile(dir.Join(name));
    ASSERT_FALSE(whole.ok()) << name;
    auto stream = EmbeddingStream::Open(dir.Join(name), EmbeddingReadOptions());
    ASSERT_TRUE(stream.ok()) << name << ": the bad row is not read yet";
    EmbeddingMatrix chunk;
    for (int i = 0; i < 2; ++i) {  // rows 0-5 (CSV lines 2-7 hold rows 0-5)
      auto more = (*stream)->Next(3, chunk);
      ASSERT_TRUE(more.ok() && *more) << name << " chunk " << i << ": " << more.status();
    }
    auto bad = (*stream)->Next(3, chunk);
    EXPECT_EQ(bad.status(), whole.status()) << name;
  }
  EXPECT_THAT(std::string(ReadEmbeddingFile(dir.Join("bad.csv")).status().message()),
              HasSubstr("line 8"));
  // An ids file that does not match the rows fails when the stream opens, before any row.
  EmbeddingMatrix ok = testing::MakeMatrix("Q", 3);
  ASSERT_TRUE(WriteEmbeddingsNpy(dir.Join("q.npy"), ok).ok());
  std::ofstream(dir.Join("q.npy.ids")) << "a\nb\n";
  auto opened = EmbeddingStream::Open(dir.Join("q.npy"), EmbeddingReadOptions());
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("has 2 ids for 3 rows"));
}

}  // namespace
}  // namespace arginator

namespace arginator {
namespace {

// The per-protein HDF5 layouts read in chunks give the whole read's ids and source: bio_embeddings
// with original_id attributes, with only a mapping file, plain names; a duplicate original_id is
// the whole read's error.
TEST(EmbeddingStreamTest, PerProteinHdf5InChunksResolvesIdsAsTheWholeRead) {
  testing::TempDir dir;
  EmbeddingMatrix m = testing::MakeMatrix("k", 7);
  std::vector<std::string> originals;
  for (int i = 0; i < 7; ++i) originals.push_back("sp|P" + std::to_string(i) + "|BLA");
  std::filesystem::create_directories(dir.Join("attrs"));
  std::filesystem::create_directories(dir.Join("mapped"));
  std::filesystem::create_directories(dir.Join("dup"));
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("attrs/e.h5"), m, {}, &originals).ok());
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("mapped/e.h5"), m).ok());
  std::string mapping = ",original_id,sequence_length\n";
  for (int i = 0; i < 7; ++i) mapping += m.ids[i] + "," + originals[i] + ",286\n";
  std::ofstream(dir.Join("mapped/mapping_file.csv")) << mapping;
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("plain.h5"), m).ok());
  std::vector<std::string> dups = originals;
  dups[5] = dups[1];
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("dup/e.h5"), m, {}, &dups).ok());
  for (const char* name : {"attrs/e.h5", "mapped/e.h5", "plain.h5"}) {
    EmbeddingSource whole_source;
    auto whole = ReadEmbeddingFile(dir.Join(name), EmbeddingReadOptions(), &whole_source);
    ASSERT_TRUE(whole.ok()) << name << ": " << whole.status();
    auto stream = EmbeddingStream::Open(dir.Join(name), EmbeddingReadOptions());
    ASSERT_TRUE(stream.ok()) << name << ": " << stream.status();
    EXPECT_EQ((*stream)->total_rows(), 7);
    EmbeddingMatrix all, chunk;
    for (;;) {
      auto more = (*stream)->Next(3, chunk);
      ASSERT_TRUE(more.ok()) << name << ": " << more.status();
      if (!*more) break;
      all.Append(chunk);
    }
    EXPECT_EQ(all.ids, whole->ids) << name;
    EXPECT_EQ(all.values, whole->values) << name;
    EXPECT_EQ((*stream)->source().layout, whole_source.layout) << name;
    EXPECT_EQ((*stream)->source().ids, whole_source.ids) << name;
    EXPECT_EQ((*stream)->source().precision, whole_source.precision) << name;
  }
  auto whole = ReadEmbeddingFile(dir.Join("dup/e.h5"));
  ASSERT_FALSE(whole.ok());
  auto stream = EmbeddingStream::Open(dir.Join("dup/e.h5"), EmbeddingReadOptions());
  ASSERT_TRUE(stream.ok());
  EmbeddingMatrix chunk;
  ASSERT_TRUE((*stream)->Next(3, chunk).ok());
  EXPECT_EQ((*stream)->Next(3, chunk).status(), whole.status());
}

}  // namespace
}  // namespace arginator
