#pragma once

#include <string>
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

// UniProt's accession format (https://www.uniprot.org/help/accession_numbers).
bool IsUniProtAccession(const std::string& key);

}  // namespace arginator
