#include "common/hdf5_embeddings.h"

#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/embeddings.h"
#include "tests/testing/temp_dir.h"

namespace arginator {
namespace {

using ::testing::HasSubstr;
using testing::MakeMatrix;
using testing::TempDir;

// Writes one dataset with an arbitrary shape and values, as a foreign tool might.
void WriteRawDataset(const std::string& path, const std::string& name, std::vector<hsize_t> dims,
                     const std::vector<float>& values) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dset =
      H5Dcreate2(file, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(dset);
  H5Sclose(space);
  H5Fclose(file);
}

TEST(Hdf5EmbeddingsTest, WriteThenReadRoundTripsIdsValuesAndAttributes) {
  TempDir dir;
  EmbeddingMatrix m = MakeMatrix("P", 5);
  ASSERT_TRUE(WriteEmbeddingsH5(dir.Join("a.h5"), m, {{"synthetic", "true"}}).ok());
  auto read = ReadEmbeddingsH5(dir.Join("a.h5"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->ids, m.ids);
  EXPECT_EQ(read->values, m.values);
  auto attrs = ReadRootAttributesH5(dir.Join("a.h5"));
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(attrs->at("synthetic"), "true");
}

TEST(Hdf5EmbeddingsTest, AcceptsRowShapedDatasets) {
  TempDir dir;
  WriteRawDataset(dir.Join("a.h5"), "P1", {1, 1024}, std::vector<float>(1024, 0.5f));
  auto read = ReadEmbeddingsH5(dir.Join("a.h5"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows(), 1u);
}

TEST(Hdf5EmbeddingsTest, WrongDimensionNamesFileAndDataset) {
  TempDir dir;
  WriteRawDataset(dir.Join("bad.h5"), "short_protein", {512}, std::vector<float>(512, 0.1f));
  auto read = ReadEmbeddingsH5(dir.Join("bad.h5"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("bad.h5"));
  EXPECT_THAT(read.status().message(), HasSubstr("short_protein"));
  EXPECT_THAT(read.status().message(), HasSubstr("[512]"));
}

TEST(Hdf5EmbeddingsTest, NanAndInfAreRejectedWithPosition) {
  TempDir dir;
  std::vector<float> v(1024, 0.1f);
  v[17] = NAN;
  WriteRawDataset(dir.Join("nan.h5"), "P_nan", {1024}, v);
  auto read = ReadEmbeddingsH5(dir.Join("nan.h5"));
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("P_nan"));
  EXPECT_THAT(read.status().message(), HasSubstr("NaN at position 17"));

  v[17] = INFINITY;
  WriteRawDataset(dir.Join("inf.h5"), "P_inf", {1024}, v);
  read = ReadEmbeddingsH5(dir.Join("inf.h5"));
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("Inf"));
}

TEST(Hdf5EmbeddingsTest, EmptyFileIsAnError) {
  TempDir dir;
  H5Fclose(H5Fcreate(dir.Join("empty.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  auto read = ReadEmbeddingsH5(dir.Join("empty.h5"));
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("no embeddings"));
}

TEST(Hdf5EmbeddingsTest, NonHdf5AndMissingFilesAreErrors) {
  TempDir dir;
  std::ofstream(dir.Join("text.h5")) << "not hdf5";
  auto read = ReadEmbeddingsH5(dir.Join("text.h5"));
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("not an HDF5 file"));
  EXPECT_EQ(ReadEmbeddingsH5(dir.Join("missing.h5")).status().code(), absl::StatusCode::kNotFound);
}

TEST(Hdf5EmbeddingsTest, GroupInsteadOfDatasetIsAnError) {
  TempDir dir;
  hid_t file = H5Fcreate(dir.Join("g.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(H5Gcreate2(file, "nested", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Fclose(file);
  auto read = ReadEmbeddingsH5(dir.Join("g.h5"));
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("'nested' is not a dataset"));
}

// Found by tests/fuzz/embedding_h5_fuzz.cc: the reader accepted any float type, and libhdf5 sizes
// H5Dread's conversion buffer by the file's element size (a 2 KB file made it allocate 2 GB).
TEST(Hdf5EmbeddingsTest, OversizedFloatTypeIsAnError) {
  TempDir dir;
  const std::string path = dir.Join("wide.h5");
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_IEEE_F64LE);
  ASSERT_GE(H5Tset_size(type, 64), 0);  // a 64-byte float whose value sits in its first 8 bytes
  const hsize_t dim = 4;
  hid_t space = H5Screate_simple(1, &dim, nullptr);
  hid_t dset = H5Dcreate2(file, "P1", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const std::vector<double> values = {1, 2, 3, 4};
  ASSERT_GE(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(dset);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(file);

  auto read = ReadEmbeddingsH5(path, 4);
  ASSERT_FALSE(read.ok()) << "a 64-byte float type was read";
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("dataset 'P1' has 64-byte floats; at most 16"));
}

// Found while fuzzing ReadRootAttributesH5 (tests/fuzz/embedding_h5_fuzz.cc): an attribute holding
// an array of strings was read whole into a buffer for one string, a heap overflow (ASan: WRITE of
// size 60 into 21 bytes); without ASan the first string came back as if it were the value.
TEST(Hdf5EmbeddingsTest, RootAttributesSkipArraysOfStrings) {
  TempDir dir;
  const std::string path = dir.Join("a.h5");
  ASSERT_TRUE(WriteEmbeddingsH5(path, MakeMatrix("P", 1), {{"synthetic", "true"}}).ok());
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 20);
  const hsize_t count = 3;
  hid_t space = H5Screate_simple(1, &count, nullptr);
  hid_t attr = H5Acreate2(file, "generator", type, space, H5P_DEFAULT, H5P_DEFAULT);
  const std::string values = std::string(20, 'a') + std::string(20, 'b') + std::string(20, 'c');
  ASSERT_GE(H5Awrite(attr, type, values.data()), 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(file);

  auto attrs = ReadRootAttributesH5(path);
  ASSERT_TRUE(attrs.ok()) << attrs.status();
  EXPECT_EQ(attrs->count("generator"), 0u);
  EXPECT_EQ(attrs->at("synthetic"), "true");
}

}  // namespace
}  // namespace arginator

namespace arginator {
namespace {

// Issue 25: ProtTrans and bio_embeddings write per-residue arrays [L, 1024]; they were refused
// with a shape error that did not mention pooling. They are mean-pooled (double sum in residue
// order, rounded once), and refused by name when pooling is off.
TEST(Hdf5EmbeddingsTest, PerResidueArraysAreMeanPooledOverResidues) {
  TempDir dir;
  const std::string path = dir.Join("residues.h5");
  const std::vector<float> values = {0.1f, 1, 2, 3, 0.2f, 5, 6, 7, 0.4f, 9, 10, 11.5f};
  WriteRawDataset(path, "P1", {3, 4}, values);
  EmbeddingReadOptions options;
  options.dim = 4;
  EmbeddingSource source;
  auto read = ReadEmbeddingsH5(path, options, &source);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->rows(), 1u);
  for (int j = 0; j < 4; ++j) {
    const double sum = double{values[j]} + values[4 + j] + values[8 + j];
    EXPECT_EQ(read->row(0)[j], static_cast<float>(sum / 3)) << j;
  }
  EXPECT_EQ(source.pooled, 1);
  EXPECT_EQ(source.precision, "float32");
  options.pool_residues = false;
  EXPECT_THAT(ReadEmbeddingsH5(path, options, nullptr).status().message(),
              HasSubstr("dataset 'P1' has shape [3, 4]: per-residue embeddings"));
  WriteRawDataset(path, "P1", {2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THAT(ReadEmbeddingsH5(path, 4).status().message(),
              HasSubstr("has shape [2, 3], expected [4] (per protein) or [L, 4] (per residue, "
                        "mean-pooled)"));
  WriteRawDataset(path, "P1", {2, 4}, {1, 2, 3, 4, 5, NAN, 7, 8});
  EXPECT_THAT(ReadEmbeddingsH5(path, 4).status().message(),
              HasSubstr("dataset 'P1' has NaN at residue 1, position 1"));
}

// Issue 25: bio_embeddings keys each protein by the md5 of its sequence and keeps the FASTA id
// in the dataset attribute `original_id` (h5py writes a variable-length string); the ids in
// every result were digests.
TEST(Hdf5EmbeddingsTest, OriginalIdAttributesGiveTheIds) {
  TempDir dir;
  const std::string path = dir.Join("reduced_embeddings_file.h5");
  WriteRawDataset(path, "78f24a5d046064dc4f4b7bf0b4386891", {4}, {1, 2, 3, 4});
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t dset = H5Dopen2(file, "78f24a5d046064dc4f4b7bf0b4386891", H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(dset, "original_id", type, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* id = "WP_000027057.1";
  ASSERT_GE(H5Awrite(attr, type, &id), 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(dset);
  H5Fclose(file);
  EmbeddingReadOptions options;
  options.dim = 4;
  EmbeddingSource source;
  auto read = ReadEmbeddingsH5(path, options, &source);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->ids, std::vector<std::string>{"WP_000027057.1"});
  EXPECT_EQ(source.layout, "bio_embeddings reduced embeddings");
  EXPECT_EQ(source.ids, "original_id attributes");
}

TEST(Hdf5EmbeddingsTest, AMappingFileBesideOrAboveGivesTheIdsAndAPartialOneIsAnError) {
  TempDir dir;
  std::filesystem::create_directories(dir.Join("reduce"));
  const std::string path = dir.Join("reduce/reduced_embeddings_file.h5");
  WriteRawDataset(path, "78f24a5d046064dc4f4b7bf0b4386891", {4}, {1, 2, 3, 4});
  EmbeddingReadOptions options;
  options.dim = 4;
  EmbeddingSource source;
  auto digests = ReadEmbeddingsH5(path, options, &source);
  ASSERT_TRUE(digests.ok()) << digests.status();
  EXPECT_THAT(source.ids, HasSubstr("md5 digests of the sequences"));
  std::ofstream(dir.Join("mapping_file.csv"))
      << ",original_id,sequence_length\n78f24a5d046064dc4f4b7bf0b4386891,\"WP_1.1, TEM\",5\n";
  auto read = ReadEmbeddingsH5(path, options, &source);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->ids, std::vector<std::string>{"WP_1.1, TEM"});
  EXPECT_EQ(source.ids, "mapping_file.csv (" + dir.Join("mapping_file.csv") + ")");
  std::ofstream(dir.Join("reduce/mapping_file.csv"))
      << ",original_id,sequence_length\n00000000000000000000000000000000,x,5\n";
  EXPECT_TRUE(ReadEmbeddingsH5(path, options, &source).ok()) << "an unrelated mapping is ignored";
  EXPECT_EQ(source.ids.substr(0, 13), "dataset names");
  WriteRawDataset(path, "00000000000000000000000000000000", {4}, {1, 2, 3, 4});
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hsize_t dim = 4;
  hid_t space = H5Screate_simple(1, &dim, nullptr);
  H5Dclose(H5Dcreate2(file, "11111111111111111111111111111111", H5T_IEEE_F32LE, space, H5P_DEFAULT,
                      H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(space);
  H5Fclose(file);
  EXPECT_THAT(ReadEmbeddingsH5(path, options, nullptr).status().message(),
              HasSubstr("lists 1 of the 2 datasets"));
}

}  // namespace
}  // namespace arginator
