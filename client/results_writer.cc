#include "client/results_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace arginator::client {

absl::StatusOr<ResultsWriter> ResultsWriter::Open(const std::string& path, Format format) {
  ResultsWriter writer(path, format);
  if (path == "-") return writer;
  writer.file_.open(path, std::ios::trunc);
  if (!writer.file_) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  return writer;
}

absl::Status ResultsWriter::Write(const v1::ClassifyResponse& response) {
  if (labels_.empty()) labels_.assign(response.labels().begin(), response.labels().end());
  if (format_ == Format::kCsv && !header_written_) {
    out() << "id,label,score,out_of_distribution";
    // The per-class columns only when the rows carry them (not with --no-probabilities).
    const bool with_probabilities =
        response.predictions_size() > 0 && response.predictions(0).probabilities_size() > 0;
    for (const auto& label : labels_) {
      if (with_probabilities) out() << ',' << CsvField("prob_" + label);
    }
    out() << "\n";
    header_written_ = true;
  }
  for (const v1::Prediction& p : response.predictions()) {
    ++label_counts_[p.label()];
    out_of_distribution_ += p.out_of_distribution();
    ++written_;
    if (format_ == Format::kCsv) {
      out() << CsvField(p.id()) << ',' << CsvField(p.label()) << ','
            << absl::StrFormat("%.6g", p.score()) << ','
            << (p.out_of_distribution() ? "true" : "false");
      for (float prob : p.probabilities()) out() << ',' << absl::StrFormat("%.6g", prob);
      out() << "\n";
    } else {
      nlohmann::json line = {{"id", p.id()},
                             {"label", p.label()},
                             {"score", p.score()},
                             {"out_of_distribution", p.out_of_distribution()},
                             {"l2_norm", p.l2_norm()},
                             {"model", response.model_name()},
                             {"version", response.model_version()}};
      if (p.probabilities_size() > 0) {
        nlohmann::json probs = nlohmann::json::object();
        for (int k = 0; k < p.probabilities_size(); ++k) probs[labels_[k]] = p.probabilities(k);
        line["probabilities"] = probs;
      }
      out() << line.dump() << "\n";
    }
  }
  if (!out()) return absl::InternalError(absl::StrCat(path_, ": write failed"));
  return absl::OkStatus();
}

absl::Status ResultsWriter::Close() {
  if (path_ == "-") {
    std::cout.flush();
    return std::cout ? absl::OkStatus() : absl::InternalError("standard output: write failed");
  }
  file_.close();
  if (file_.fail()) return absl::InternalError(absl::StrCat(path_, ": close failed"));
  return absl::OkStatus();
}

}  // namespace arginator::client
