#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "arginator/v1/classifier.pb.h"
#include "client/hamronization.h"
#include "common/csv_fields.h"

namespace arginator::client {

// Writes classification results as CSV (id, label, score, out_of_distribution, call, confidence,
// call_probability, ood_score, model, version, input_file, then one prob_<label> column per class
// when the rows carry probabilities; the prototype's results file had id, predicted class,
// confidence and prob_betalactamase) or JSON Lines with the same fields, and keeps the per-label,
// uncertain and out-of-distribution counts for the summary. Every row names the model version
// that answered it and the file it came from, so merged results keep both.
// Result files quote fields by RFC 4180 (common/csv_fields.h): protein ids from FASTA headers
// often hold commas and pipes.
using ::arginator::CsvField;

class ResultsWriter {
 public:
  // kHamronization: hAMRonization 1.x TSV; kHamronizationJson: the same rows as a JSON array
  // (client/hamronization.h), empty values null.
  enum class Format { kCsv, kJsonl, kHamronization, kHamronizationJson };

  // What the hAMRonization formats need beside each response: the report's shared fields, and
  // the reference_database_version of a model version (the client asks the server once per
  // version it sees).
  using DatabaseVersionLookup =
      std::function<std::string(const std::string& model, int64_t version)>;
  void SetHamronization(HamronizationContext context, DatabaseVersionLookup lookup) {
    hamronization_ = std::move(context);
    database_version_ = std::move(lookup);
  }

  // `path` "-" writes to standard output; `input_file` is the input's path, of which each row
  // records the file name.
  static absl::StatusOr<ResultsWriter> Open(const std::string& path, Format format,
                                            const std::string& input_file = "");

  // Appends one response's predictions (written in order).
  absl::Status Write(const v1::ClassifyResponse& response);
  absl::Status Close();

  const std::map<std::string, int64_t>& label_counts() const { return label_counts_; }
  int64_t out_of_distribution() const { return out_of_distribution_; }
  int64_t uncertain() const { return uncertain_; }
  int64_t written() const { return written_; }

 private:
  ResultsWriter(std::string path, Format format) : path_(std::move(path)), format_(format) {}
  std::ostream& out() { return path_ == "-" ? std::cout : file_; }
  absl::Status WriteHamronization(const v1::ClassifyResponse& response);
  std::string JsonLine(const v1::Prediction& p, const v1::ClassifyResponse& response) const;

  std::string path_;
  Format format_;
  std::string input_file_;  // the input's file name
  HamronizationContext hamronization_;
  DatabaseVersionLookup database_version_;
  std::map<std::pair<std::string, int64_t>, std::string> database_versions_;
  int64_t reported_ = 0;  // hAMRonization rows written
  std::ofstream file_;
  bool header_written_ = false;
  bool with_evidence_ = false;  // the CSV has the nearest reference's columns
  std::vector<std::string> labels_;
  std::string text_;  // a response's rows, formatted (reused from response to response)
  std::map<std::string, int64_t> label_counts_;
  int64_t out_of_distribution_ = 0;
  int64_t uncertain_ = 0;
  int64_t written_ = 0;
};

}  // namespace arginator::client
