#pragma once

#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "arginator/v1/classifier.pb.h"
#include "common/csv_fields.h"

namespace arginator::client {

// Writes classification results as CSV (id, label, score, out_of_distribution, one prob_<label>
// column per class; the prototype's results file had id, predicted class, confidence and
// prob_betalactamase) or JSON Lines, and keeps the per-label and out-of-distribution counts for
// the summary.
// Result files quote fields by RFC 4180 (common/csv_fields.h): protein ids from FASTA headers
// often hold commas and pipes.
using ::arginator::CsvField;

class ResultsWriter {
 public:
  enum class Format { kCsv, kJsonl };

  // `path` "-" writes to standard output.
  static absl::StatusOr<ResultsWriter> Open(const std::string& path, Format format);

  // Appends one response's predictions (written in order).
  absl::Status Write(const v1::ClassifyResponse& response);
  absl::Status Close();

  const std::map<std::string, int64_t>& label_counts() const { return label_counts_; }
  int64_t out_of_distribution() const { return out_of_distribution_; }
  int64_t written() const { return written_; }

 private:
  ResultsWriter(std::string path, Format format) : path_(std::move(path)), format_(format) {}
  std::ostream& out() { return path_ == "-" ? std::cout : file_; }

  std::string path_;
  Format format_;
  std::ofstream file_;
  bool header_written_ = false;
  std::vector<std::string> labels_;
  std::map<std::string, int64_t> label_counts_;
  int64_t out_of_distribution_ = 0;
  int64_t written_ = 0;
};

}  // namespace arginator::client
