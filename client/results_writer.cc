#include "client/results_writer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/decision_policy.h"
#include "nlohmann/json.hpp"

namespace arginator::client {

absl::StatusOr<ResultsWriter> ResultsWriter::Open(const std::string& path, Format format,
                                                  const std::string& input_file) {
  ResultsWriter writer(path, format);
  writer.input_file_ = std::filesystem::path(input_file).filename().string();
  if (path == "-") return writer;
  writer.file_.open(path, std::ios::trunc);
  if (!writer.file_) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  return writer;
}

namespace {

// A TSV field: tabs and line breaks would split the row, so they become spaces.
std::string TsvField(std::string value) {
  for (char& c : value) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return value;
}

}  // namespace

absl::Status ResultsWriter::Write(const v1::ClassifyResponse& response) {
  if (labels_.empty()) labels_.assign(response.labels().begin(), response.labels().end());
  if (format_ == Format::kHamronization || format_ == Format::kHamronizationJson) {
    return WriteHamronization(response);
  }
  if (format_ == Format::kCsv && !header_written_) {
    out() << "id,label,score,out_of_distribution,call,confidence,call_probability,ood_score,model,"
             "version,input_file";
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
    uncertain_ += p.call() == kUncertainCall;
    ++written_;
    if (format_ == Format::kCsv) {
      out() << CsvField(p.id()) << ',' << CsvField(p.label()) << ','
            << absl::StrFormat("%.6g", p.score()) << ','
            << (p.out_of_distribution() ? "true" : "false") << ',' << CsvField(p.call()) << ','
            << p.confidence() << ',' << absl::StrFormat("%.6g", p.call_probability()) << ','
            << absl::StrFormat("%.6g", p.ood_score()) << ',' << CsvField(response.model_name())
            << ',' << response.model_version() << ',' << CsvField(input_file_);
      for (float prob : p.probabilities()) out() << ',' << absl::StrFormat("%.6g", prob);
      out() << "\n";
    } else {
      nlohmann::json line = {{"id", p.id()},
                             {"label", p.label()},
                             {"score", p.score()},
                             {"out_of_distribution", p.out_of_distribution()},
                             {"l2_norm", p.l2_norm()},
                             {"call", p.call()},
                             {"confidence", p.confidence()},
                             {"call_probability", p.call_probability()},
                             {"ood_score", p.ood_score()},
                             {"model", response.model_name()},
                             {"version", response.model_version()},
                             {"input_file", input_file_}};
      if (p.probabilities_size() > 0) {
        nlohmann::json probs = nlohmann::json::object();
        for (int k = 0; k < p.probabilities_size(); ++k) probs[labels_[k]] = p.probabilities(k);
        line["probabilities"] = probs;
      }
      if (p.calibrated_probabilities_size() > 0) {
        nlohmann::json probs = nlohmann::json::object();
        for (int k = 0; k < p.calibrated_probabilities_size(); ++k) {
          probs[labels_[k]] = p.calibrated_probabilities(k);
        }
        line["calibrated_probabilities"] = probs;
      }
      out() << line.dump() << "\n";
    }
  }
  if (!out()) return absl::InternalError(absl::StrCat(path_, ": write failed"));
  return absl::OkStatus();
}

absl::Status ResultsWriter::WriteHamronization(const v1::ClassifyResponse& response) {
  const std::vector<std::string>& columns = HamronizationColumns();
  if (format_ == Format::kHamronization && !header_written_) {
    for (size_t i = 0; i < columns.size(); ++i) out() << (i ? "\t" : "") << columns[i];
    out() << "\n";
  }
  header_written_ = true;
  auto key = std::make_pair(response.model_name(), response.model_version());
  auto known = database_versions_.find(key);
  if (known == database_versions_.end()) {
    const std::string version = database_version_ ? database_version_(key.first, key.second)
                                                  : HamronizationDatabaseVersion(key.second, "");
    known = database_versions_.emplace(key, version).first;
  }
  for (const v1::Prediction& p : response.predictions()) {
    ++label_counts_[p.label()];
    out_of_distribution_ += p.out_of_distribution();
    uncertain_ += p.call() == kUncertainCall;
    ++written_;
    auto row = HamronizationRow(p, response.model_name(), known->second, response.model_version(),
                                hamronization_);
    if (!row) continue;
    if (format_ == Format::kHamronization) {
      for (size_t i = 0; i < row->size(); ++i) out() << (i ? "\t" : "") << TsvField((*row)[i]);
      out() << "\n";
    } else {
      nlohmann::ordered_json record = nlohmann::ordered_json::object();
      for (size_t i = 0; i < row->size(); ++i) {
        record[columns[i]] =
            (*row)[i].empty() ? nlohmann::ordered_json() : nlohmann::ordered_json((*row)[i]);
      }
      out() << (reported_ ? ",\n" : "[\n") << record.dump();
    }
    ++reported_;
  }
  if (!out()) return absl::InternalError(absl::StrCat(path_, ": write failed"));
  return absl::OkStatus();
}

absl::Status ResultsWriter::Close() {
  if (format_ == Format::kHamronization && !header_written_) {
    const std::vector<std::string>& columns = HamronizationColumns();
    for (size_t i = 0; i < columns.size(); ++i) out() << (i ? "\t" : "") << columns[i];
    out() << "\n";
  }
  if (format_ == Format::kHamronizationJson) out() << (reported_ ? "\n]\n" : "[]\n");
  if (path_ == "-") {
    std::cout.flush();
    return std::cout ? absl::OkStatus() : absl::InternalError("standard output: write failed");
  }
  file_.close();
  if (file_.fail()) return absl::InternalError(absl::StrCat(path_, ": close failed"));
  return absl::OkStatus();
}

}  // namespace arginator::client
