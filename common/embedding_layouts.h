#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/embedding_source.h"

namespace arginator {

// How the field's tools key per-protein HDF5 files, and where their real ids are
// (../shared/DESIGN.md, "How the field's tools write per-protein embeddings"):
//  - bio_embeddings keys each protein by the md5 of its sequence and stores the FASTA id in the
//    dataset attribute `original_id`; its pipeline also writes mapping_file.csv (pandas' to_csv:
//    index = key, columns original_id, sequence_length) at its prefix, one folder above the stage.
//  - ProtTrans' prott5_embedder.py keys by the whole FASTA header with '/' and '.' made '_'.
//  - UniProt's per-protein.h5 keys by accession.
//
// Chooses the ids of the datasets `names` (in file order) read from `path`: each dataset's
// `original_ids` entry where one is non-empty; else mapping_file.csv beside `path` or in its
// parent when it lists every name (one that lists only some is an error: the ids would be half
// digests); else the names. Fills source->layout and source->ids with the shared strings.
absl::StatusOr<std::vector<std::string>> ResolveHdf5Ids(
    const std::string& path, const std::vector<std::string>& names,
    const std::vector<std::string>& original_ids, EmbeddingSource* source);

// ResolveHdf5Ids for a file read a chunk of datasets at a time (EmbeddingStream), from the names
// of all its datasets (listed before any is read). A dataset's id is its original_id attribute
// when it has one; else, when mapping_file.csv lists every name, the mapping's id; else its name.
// Ids are checked against every earlier one. For every file ResolveHdf5Ids accepts this gives the
// same ids, except one whose datasets only partly carry original_id and that also has a mapping
// file listing every name: ResolveHdf5Ids gives the others their names, this the mapping's ids.
class Hdf5IdResolver {
 public:
  static absl::StatusOr<Hdf5IdResolver> Create(const std::string& path,
                                               std::vector<std::string> all_names);
  // The ids of the next datasets read (`names` in file order, their attributes or "").
  absl::StatusOr<std::vector<std::string>> Resolve(const std::vector<std::string>& names,
                                                   const std::vector<std::string>& original_ids);
  // source->layout and source->ids, as ResolveHdf5Ids says them, once every dataset is resolved.
  void Describe(EmbeddingSource* source) const;

 private:
  bool MapsEveryName() const {
    return !mapping_path_.empty() && mapped_names_ == all_names_.size();
  }

  std::string path_;
  std::vector<std::string> all_names_;
  std::string mapping_path_;                              // "" when none was found
  std::unordered_map<std::string, std::string> mapping_;  // key -> original_id
  size_t mapped_names_ = 0;                               // of all_names_, how many it lists
  std::string first_unmapped_;                            // the first name it does not list
  bool attributes_seen_ = false;
  std::unordered_map<std::string, std::string> first_with_;  // id -> the dataset that had it
};

// UniProt's accession format (https://www.uniprot.org/help/accession_numbers).
bool IsUniProtAccession(const std::string& key);

}  // namespace arginator
