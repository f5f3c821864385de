#include "common/hdf5_embeddings.h"

#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/embedding_layouts.h"
#include "common/status_macros.h"

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

// The longest protein is ~35,000 residues (titin); a per-residue array beyond this is refused
// before it is read, so a small hostile file cannot make the reader allocate gigabytes.
constexpr hsize_t kMaxResidues = 100000;

struct ReadState {
  const std::string* path;
  const EmbeddingReadOptions* options;
  EmbeddingMatrix* out;
  std::vector<std::string> names;
  std::vector<std::string> original_ids;  // "" where the dataset has none
  size_t widest_float = 0;
  int64_t pooled = 0;
  absl::Status status;
};

// A scalar string attribute (fixed or variable length, as h5py writes a str) or "" when `object`
// has no such attribute or it is not a readable string of at most kMaxAttributeBytes.
std::string StringAttribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return "";
  H5Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return "";
  H5Handle type(H5Aget_type(attr.get()), H5Tclose);
  H5Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Sget_simple_extent_npoints(space.get()) != 1) {
    return "";
  }
  std::string value;
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memtype.get(), H5T_VARIABLE);
    H5Tset_cset(memtype.get(), H5Tget_cset(type.get()));
    char* text = nullptr;
    if (H5Aread(attr.get(), memtype.get(), &text) < 0 || text == nullptr) return "";
    value = text;
    H5free_memory(text);
  } else {
    const size_t size = H5Tget_size(type.get());
    if (size == 0 || size > kMaxAttributeBytes) return "";
    value.assign(size, '\0');
    if (H5Aread(attr.get(), type.get(), value.data()) < 0) return "";
    value.resize(std::min(value.size(), value.find('\0')));
  }
  return value.size() <= kMaxAttributeBytes ? value : "";
}

std::string ShapeText(int rank, const hsize_t* dims) {
  std::string text = "[";
  for (int i = 0; i < rank; ++i) absl::StrAppend(&text, i ? ", " : "", dims[i]);
  return text + "]";
}

// The first NaN/Inf among `n` floats, or -1.
int64_t FirstNonFinite(const float* values, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) return i;
  }
  return -1;
}

absl::Status ReadOneDataset(hid_t file, const std::string& name, ReadState& state) {
  const std::string& path = *state.path;
  const int dim = state.options->dim;
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": dataset '", name, "' ", why));
  };
  H5Handle dset(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dset.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": object '", name,
                                                   "' is not a dataset (expected one ", dim,
                                                   "-float dataset per protein at the root)"));
  }
  H5Handle type(H5Dget_type(dset.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) return bad("is not floating point");
  // libhdf5 sizes H5Dread's conversion buffer by the file's element size: a 2 KB file declaring
  // 488 MB floats made it allocate 2 GB (found by tests/fuzz/embedding_h5_fuzz.cc).
  const size_t type_size = H5Tget_size(type.get());
  if (type_size == 0 || type_size > kMaxFloatBytes) {
    return bad(absl::StrCat("has ", type_size, "-byte floats; at most ", kMaxFloatBytes));
  }
  const std::string expected = absl::StrCat("expected [", dim, "] (per protein) or [L, ", dim,
                                            "] (per residue, mean-pooled)");
  H5Handle space(H5Dget_space(dset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > 2) return bad(absl::StrCat("has rank ", rank, ", ", expected));
  hsize_t dims[2] = {1, 0};
  H5Sget_simple_extent_dims(space.get(), rank == 1 ? dims + 1 : dims, nullptr);
  const hsize_t residues = dims[0];
  if (dims[1] != static_cast<hsize_t>(dim)) {
    return bad(
        absl::StrCat("has shape ", ShapeText(rank, rank == 1 ? dims + 1 : dims), ", ", expected));
  }
  if (residues == 0) return bad(absl::StrCat("has shape [0, ", dim, "]: no residues"));
  if (residues > 1 && !state.options->pool_residues) {
    return bad(absl::StrCat("has shape [", residues, ", ", dim,
                            "]: per-residue embeddings (one row per residue); mean-pool them over "
                            "residues (the default) or give per-protein embeddings"));
  }
  if (residues > kMaxResidues) {
    return bad(absl::StrCat("has ", residues, " residues; at most ", kMaxResidues));
  }
  std::vector<float> read(residues * dim);
  if (H5Dread(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, read.data()) < 0) {
    return absl::DataLossError(absl::StrCat(path, ": could not read dataset '", name, "'"));
  }
  if (const int64_t at = FirstNonFinite(read.data(), read.size()); at >= 0) {
    const char* kind = std::isnan(read[at]) ? "NaN" : "Inf";
    return residues == 1
               ? bad(absl::StrCat("has ", kind, " at position ", at))
               : bad(absl::StrCat("has ", kind, " at residue ", at / dim, ", position ", at % dim));
  }
  EmbeddingMatrix& out = *state.out;
  if (residues == 1) {
    out.values.insert(out.values.end(), read.begin(), read.end());
  } else {
    // The mean over residues: summed in double in residue order, then rounded once to float, so
    // the Python client's `v.astype(np.float64).sum(axis=0) / L` gives the same bits.
    std::vector<double> sum(dim, 0.0);
    for (hsize_t r = 0; r < residues; ++r) {
      for (int j = 0; j < dim; ++j) sum[j] += read[r * dim + j];
    }
    for (int j = 0; j < dim; ++j) {
      out.values.push_back(static_cast<float>(sum[j] / static_cast<double>(residues)));
    }
    ++state.pooled;
  }
  state.widest_float = std::max(state.widest_float, type_size);
  state.names.push_back(name);
  state.original_ids.push_back(StringAttribute(dset.get(), "original_id"));
  return absl::OkStatus();
}

herr_t VisitLink(hid_t group, const char* name, const H5L_info_t*, void* data) {
  auto& state = *static_cast<ReadState*>(data);
  state.status = ReadOneDataset(group, name, state);
  return state.status.ok() ? 0 : 1;  // non-zero stops the iteration
}

std::string PrecisionName(size_t bytes) {
  switch (bytes) {
    case 2:
      return "float16";
    case 4:
      return "float32";
    case 8:
      return "float64";
    default:
      return absl::StrCat("float", bytes * 8);
  }
}

// An embeddings file opened read-only for the whole read and the stream alike; the caller
// closes the identifier.
absl::StatusOr<hid_t> OpenEmbeddingsFile(const std::string& path) {
  SilenceHdf5Errors();
  if (access(path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such readable file"));
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an HDF5 file"));
  }
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open HDF5 file"));
  return file;
}

}  // namespace

absl::StatusOr<EmbeddingMatrix> ReadEmbeddingsH5(const std::string& path,
                                                 const EmbeddingReadOptions& options,
                                                 EmbeddingSource* source) {
  ARG_ASSIGN_OR_RETURN(const hid_t opened, OpenEmbeddingsFile(path));
  H5Handle file(opened, H5Fclose);

  EmbeddingMatrix out;
  out.dim = options.dim;
  ReadState state{&path, &options, &out, {}, {}, 0, 0, absl::OkStatus()};
  hsize_t index = 0;
  herr_t rc = H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_INC, &index, VisitLink, &state);
  if (!state.status.ok()) return state.status;
  if (rc < 0) return absl::DataLossError(absl::StrCat(path, ": cannot list the root group"));
  if (state.names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": file contains no embeddings"));
  }
  EmbeddingSource found;
  ARG_ASSIGN_OR_RETURN(out.ids, ResolveHdf5Ids(path, state.names, state.original_ids, &found));
  found.precision = PrecisionName(state.widest_float);
  found.pooled = state.pooled;
  if (source != nullptr) *source = std::move(found);
  return out;
}

namespace {

herr_t CollectName(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

class H5Stream final : public EmbeddingStream {
 public:
  H5Stream(std::string path, const EmbeddingReadOptions& options, hid_t file)
      : path_(std::move(path)), options_(options), file_(file, H5Fclose) {}
  void Start(std::vector<std::string> names, Hdf5IdResolver resolver) {
    names_ = std::move(names);
    resolver_ = std::move(resolver);
  }

  int64_t total_rows() const override { return static_cast<int64_t>(names_.size()); }

  absl::StatusOr<bool> Next(size_t max_rows, EmbeddingMatrix& chunk) override {
    chunk.dim = options_.dim;
    chunk.ids.clear();
    chunk.values.clear();
    const size_t end = next_ + std::min(max_rows, names_.size() - next_);
    if (next_ == end) return false;
    ReadState state{&path_, &options_, &chunk, {}, {}, widest_float_, pooled_, absl::OkStatus()};
    chunk.values.reserve((end - next_) * static_cast<size_t>(options_.dim));
    for (size_t i = next_; i < end; ++i) {
      ARG_RETURN_IF_ERROR(ReadOneDataset(file_.get(), names_[i], state));
    }
    ARG_ASSIGN_OR_RETURN(chunk.ids, resolver_.Resolve(state.names, state.original_ids));
    widest_float_ = state.widest_float;
    pooled_ = state.pooled;
    next_ = end;
    if (next_ == names_.size()) {  // the end: what was found is known
      resolver_.Describe(&source_);
      source_.precision = PrecisionName(widest_float_);
      source_.pooled = pooled_;
    }
    return true;
  }

 private:
  const std::string path_;
  const EmbeddingReadOptions options_;
  H5Handle file_;
  std::vector<std::string> names_;
  Hdf5IdResolver resolver_;
  size_t next_ = 0;
  size_t widest_float_ = 0;
  int64_t pooled_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddingStream>> OpenEmbeddingsH5Stream(
    const std::string& path, const EmbeddingReadOptions& options) {
  ARG_ASSIGN_OR_RETURN(const hid_t file, OpenEmbeddingsFile(path));
  // The stream owns the file from here (it closes it, on an error below too).
  auto stream = std::make_unique<H5Stream>(path, options, file);
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &index, CollectName, &names) < 0) {
    return absl::DataLossError(absl::StrCat(path, ": cannot list the root group"));
  }
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": file contains no embeddings"));
  }
  ARG_ASSIGN_OR_RETURN(Hdf5IdResolver resolver, Hdf5IdResolver::Create(path, names));
  stream->Start(std::move(names), std::move(resolver));
  return std::unique_ptr<EmbeddingStream>(std::move(stream));
}

absl::StatusOr<EmbeddingMatrix> ReadEmbeddingsH5(const std::string& path, int dim) {
  EmbeddingReadOptions options;
  options.dim = dim;
  return ReadEmbeddingsH5(path, options, nullptr);
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
    char name[256] = {0};
    if (H5Aget_name_by_idx(file.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof(name) - 1,
                           H5P_DEFAULT) < 0) {
      continue;
    }
    std::string value = StringAttribute(file.get(), name);
    if (!value.empty()) attrs[name] = std::move(value);
  }
  return attrs;
}

absl::Status WriteEmbeddingsH5(const std::string& path, const EmbeddingMatrix& matrix,
                               const std::map<std::string, std::string>& attributes,
                               const std::vector<std::string>* original_ids) {
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
      if (original_ids != nullptr) {
        H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.get(), H5T_VARIABLE);
        H5Tset_cset(type.get(), H5T_CSET_UTF8);
        H5Handle scalar(H5Screate(H5S_SCALAR), H5Sclose);
        H5Handle attr(H5Acreate2(dset.get(), "original_id", type.get(), scalar.get(), H5P_DEFAULT,
                                 H5P_DEFAULT),
                      H5Aclose);
        const char* text = (*original_ids)[i].c_str();
        if (!attr.ok() || H5Awrite(attr.get(), type.get(), &text) < 0) {
          std::remove(tmp.c_str());
          return absl::InternalError(
              absl::StrCat(tmp, ": cannot write original_id of '", matrix.ids[i], "'"));
        }
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
