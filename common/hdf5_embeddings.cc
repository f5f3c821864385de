#include "common/hdf5_embeddings.h"

#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace arginator {
namespace {

// Owns one HDF5 identifier and closes it with the matching close function.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  Closer closer_;
};

// The widest float type read (long double); real files hold 2, 4 or 8-byte floats.
constexpr size_t kMaxFloatBytes = 16;
// Longer string attributes are skipped rather than read: the size comes from the file.
constexpr size_t kMaxAttributeBytes = size_t{1} << 16;

// HDF5 prints its error stack to stderr by default; we report errors as absl::Status instead.
void SilenceHdf5Errors() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

struct ReadState {
  const std::string* path;
  int dim;
  EmbeddingMatrix* out;
  absl::Status status;
};

absl::Status ReadOneDataset(hid_t file, const std::string& name, ReadState& state) {
  const std::string& path = *state.path;
  H5Handle dset(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dset.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": object '", name,
                                                   "' is not a dataset (expected one ", state.dim,
                                                   "-float dataset per protein at the root)"));
  }
  H5Handle type(H5Dget_type(dset.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": dataset '", name, "' is not floating point"));
  }
  // libhdf5 sizes H5Dread's conversion buffer by the file's element size: a 2 KB file declaring
  // 488 MB floats made it allocate 2 GB (found by tests/fuzz/embedding_h5_fuzz.cc).
  const size_t type_size = H5Tget_size(type.get());
  if (type_size == 0 || type_size > kMaxFloatBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": dataset '", name, "' has ", type_size,
                                                   "-byte floats; at most ", kMaxFloatBytes));
  }
  H5Handle space(H5Dget_space(dset.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  hsize_t dims[2] = {0, 0};
  if (rank < 1 || rank > 2) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": dataset '", name, "' has rank ", rank,
                                                   ", expected [", state.dim, "] or [1, ",
                                                   state.dim, "]"));
  }
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  hsize_t width = rank == 1 ? dims[0] : dims[1];
  if ((rank == 2 && dims[0] != 1) || width != static_cast<hsize_t>(state.dim)) {
    std::string shape = rank == 1 ? absl::StrCat("[", dims[0], "]")
                                  : absl::StrCat("[", dims[0], ", ", dims[1], "]");
    return absl::InvalidArgumentError(absl::StrCat(path, ": dataset '", name, "' has shape ", shape,
                                                   ", expected [", state.dim, "]"));
  }
  EmbeddingMatrix& out = *state.out;
  size_t offset = out.values.size();
  out.values.resize(offset + state.dim);
  if (H5Dread(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
              out.values.data() + offset) < 0) {
    out.values.resize(offset);
    return absl::DataLossError(absl::StrCat(path, ": could not read dataset '", name, "'"));
  }
  for (int j = 0; j < state.dim; ++j) {
    float v = out.values[offset + j];
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": dataset '", name, "' has ", std::isnan(v) ? "NaN" : "Inf", " at position ", j));
    }
  }
  out.ids.push_back(name);
  return absl::OkStatus();
}

herr_t VisitLink(hid_t group, const char* name, const H5L_info_t*, void* data) {
  auto& state = *static_cast<ReadState*>(data);
  state.status = ReadOneDataset(group, name, state);
  return state.status.ok() ? 0 : 1;  // non-zero stops the iteration
}

}  // namespace

absl::StatusOr<EmbeddingMatrix> ReadEmbeddingsH5(const std::string& path, int dim) {
  SilenceHdf5Errors();
  if (access(path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such readable file"));
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an HDF5 file"));
  }
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open HDF5 file"));

  EmbeddingMatrix out;
  out.dim = dim;
  ReadState state{&path, dim, &out, absl::OkStatus()};
  hsize_t index = 0;
  herr_t rc = H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_INC, &index, VisitLink, &state);
  if (!state.status.ok()) return state.status;
  if (rc < 0) return absl::DataLossError(absl::StrCat(path, ": cannot list the root group"));
  if (out.rows() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": file contains no embeddings"));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ReadRootAttributesH5(const std::string& path) {
  SilenceHdf5Errors();
  H5Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open HDF5 file"));
  std::map<std::string, std::string> attrs;
  H5O_info_t info;
  if (H5Oget_info2(file.get(), &info, H5O_INFO_NUM_ATTRS) < 0) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read root attributes"));
  }
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    H5Handle attr(
        H5Aopen_by_idx(file.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
        H5Aclose);
    if (!attr.ok()) continue;
    char name[256] = {0};
    H5Aget_name(attr.get(), sizeof(name) - 1, name);
    H5Handle type(H5Aget_type(attr.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) continue;
    // H5Aread writes every element: an array of strings into a one-string buffer overflowed it.
    H5Handle space(H5Aget_space(attr.get()), H5Sclose);
    const size_t size = H5Tget_size(type.get());
    if (H5Sget_simple_extent_npoints(space.get()) != 1 || size == 0 || size > kMaxAttributeBytes) {
      continue;
    }
    std::string value(size, '\0');
    if (H5Aread(attr.get(), type.get(), value.data()) < 0) continue;
    value.resize(value.find('\0') == std::string::npos ? value.size() : value.find('\0'));
    attrs[name] = value;
  }
  return attrs;
}

absl::Status WriteEmbeddingsH5(const std::string& path, const EmbeddingMatrix& matrix,
                               const std::map<std::string, std::string>& attributes) {
  SilenceHdf5Errors();
  const std::string tmp = absl::StrCat(path, ".tmp-", getpid());
  {
    H5Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot create file"));
    for (const auto& [key, value] : attributes) {
      H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
      H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
      H5Handle attr(
          H5Acreate2(file.get(), key.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
          H5Aclose);
      if (!attr.ok() || H5Awrite(attr.get(), type.get(), value.c_str()) < 0) {
        return absl::InternalError(absl::StrCat(tmp, ": cannot write attribute '", key, "'"));
      }
    }
    hsize_t dims[1] = {static_cast<hsize_t>(matrix.dim)};
    H5Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
    for (size_t i = 0; i < matrix.rows(); ++i) {
      H5Handle dset(H5Dcreate2(file.get(), matrix.ids[i].c_str(), H5T_IEEE_F32LE, space.get(),
                               H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    H5Dclose);
      if (!dset.ok() || H5Dwrite(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                 matrix.row(i)) < 0) {
        std::remove(tmp.c_str());
        return absl::InternalError(
            absl::StrCat(tmp, ": cannot write dataset '", matrix.ids[i], "'"));
      }
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace arginator
