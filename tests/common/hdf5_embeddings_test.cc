#include "common/hdf5_embeddings.h"

#include <hdf5.h>

#include <cmath>
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
