#pragma once

#include <optional>
#include <string>
#include <vector>

#include "arginator/v1/classifier.pb.h"

namespace arginator::client {

// Reports in the PHA4GE hAMRonization 1.x format, which labs use to merge the outputs of RGI,
// AMRFinderPlus and other AMR tools (hamronize summarize). Both clients write them byte for byte
// alike (client/python/arginator_client/hamronization.py); docs/clients.md describes the mapping.

// The specification's fields, in its order (the first nine are mandatory), then Arginator's one
// extra trailing column, the nearest reference's cosine similarity (empty without evidence),
// which is not a sequence identity.
const std::vector<std::string>& HamronizationColumns();
inline constexpr int kHamronizationMandatory = 9;

// What every row of one report shares.
struct HamronizationContext {
  std::string input_file;        // the input's file name
  std::string software_version;  // Arginator's
  bool include_uncertain = false;
};

// One prediction's row, a value per column ("" = empty), or none when it is not reported: rows
// are beta-lactamase calls (any call but non_betalactamase and uncertain), and uncertain calls
// with `include_uncertain`. `database_version` names the model version and its training data.
std::optional<std::vector<std::string>> HamronizationRow(const v1::Prediction& prediction,
                                                         const std::string& model_name,
                                                         const std::string& database_version,
                                                         int64_t model_version,
                                                         const HamronizationContext& context);

// reference_database_version: "<version> (data sha256:<first 16 hex digits>)", or the version
// alone when the card records no data digest.
std::string HamronizationDatabaseVersion(int64_t version, const std::string& data_sha256);

// The gene symbol a reference id carries, or "" when it carries none: the first token, splitting on
// '|', ',', ';', '=' and white space and trimming brackets and quotes, that is a beta-lactamase
// gene symbol as NCBI's reference catalogue (AMRFinderPlus) and hAMRonization's other tools write
// it: "bla" then an upper-case letter or a digit ("blaTEM-1", "blaCTX-M-15", "blaOXA-48").
// "WP_000027057.1|blaTEM-1" and "sp|P62593|BLAT_ECOLX blaTEM-1" give "blaTEM-1"; the protein name
// alone ("TEM-1") is not taken, it is not unambiguous. A row's gene_symbol is the nearest
// reference's when evidence was asked for and that reference's label agrees with the call, else
// "bla".
std::string GeneSymbolOf(const std::string& reference_id);

// The label a beta-lactamase call is reported as (gene_name): "class A beta-lactamase" for
// class_A, "beta-lactamase" for the binary label, "beta-lactamase (<label>)" for a lab's own.
std::string BetaLactamaseName(const std::string& label);

}  // namespace arginator::client
