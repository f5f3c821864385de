#include "client/results_writer.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
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

// JSONL numbers are the response's float32 values as C's %.9g writes them (every float32
// round-trips), and the line is assembled here with keys sorted: a JSON library's float printing
// differs between languages in the last digits (nlohmann's Grisu2 against Python's repr: 0.17% of
// values), and the Python client must write the same bytes (results_writer.py).
std::string JsonNumber(float value) { return absl::StrFormat("%.9g", value); }

// printf's "%.6g" of `value` (std::to_chars with a precision writes exactly what printf would,
// without parsing a format): the CSV's numbers.
void AppendG6(std::string& out, double value) {
  char digits[32];
  const std::to_chars_result written =
      std::to_chars(digits, digits + sizeof(digits), value, std::chars_format::general, 6);
  out.append(digits, written.ptr);
}

std::string JsonString(const std::string& value) { return nlohmann::json(value).dump(); }

// An object of `fields` (key, JSON text), keys sorted.
std::string JsonObject(std::vector<std::pair<std::string, std::string>> fields) {
  std::sort(fields.begin(), fields.end());
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", JsonString(fields[i].first), ":", fields[i].second);
  }
  return out + "}";
}

std::string JsonLabelledNumbers(const std::vector<std::string>& labels,
                                const google::protobuf::RepeatedField<float>& values) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (int k = 0; k < values.size(); ++k) fields.emplace_back(labels[k], JsonNumber(values[k]));
  return JsonObject(std::move(fields));
}

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
    // The nearest reference's columns only when the rows carry evidence (--evidence), the
    // per-class columns only when they carry probabilities (not with --no-probabilities).
    with_evidence_ = response.predictions_size() > 0 && response.predictions(0).evidence_size() > 0;
    if (with_evidence_) {
      out() << ",nearest_reference,nearest_label,nearest_cosine,evidence_disagrees";
    }
    const bool with_probabilities =
        response.predictions_size() > 0 && response.predictions(0).probabilities_size() > 0;
    for (const auto& label : labels_) {
      if (with_probabilities) out() << ',' << CsvField("prob_" + label);
    }
    out() << "\n";
    header_written_ = true;
  }
  // The response's rows are formatted into one buffer and written at once (through the stream
  // field by field, formatting took a quarter of a bulk job's client CPU).
  std::string& text = text_;  // reused from response to response
  text.clear();
  const std::string model_columns =  // the same in every CSV row of the response
      format_ == Format::kCsv ? absl::StrCat(",", CsvField(response.model_name()), ",",
                                             response.model_version(), ",", CsvField(input_file_))
                              : "";
  for (const v1::Prediction& p : response.predictions()) {
    ++label_counts_[p.label()];
    out_of_distribution_ += p.out_of_distribution();
    uncertain_ += p.call() == kUncertainCall;
    ++written_;
    if (format_ != Format::kCsv) {
      absl::StrAppend(&text, JsonLine(p, response), "\n");
      continue;
    }
    absl::StrAppend(&text, CsvField(p.id()), ",", CsvField(p.label()), ",");
    AppendG6(text, p.score());
    absl::StrAppend(&text, p.out_of_distribution() ? ",true," : ",false,", CsvField(p.call()), ",",
                    p.confidence(), ",");
    AppendG6(text, p.call_probability());
    text += ',';
    AppendG6(text, p.ood_score());
    text += model_columns;
    if (with_evidence_) {
      if (p.evidence_size() > 0) {
        absl::StrAppend(&text, ",", CsvField(p.evidence(0).id()), ",",
                        CsvField(p.evidence(0).label()), ",");
        AppendG6(text, p.evidence(0).cosine());
      } else {
        text += ",,,";
      }
      text += p.evidence_disagrees() ? ",true" : ",false";
    }
    for (float prob : p.probabilities()) {
      text += ',';
      AppendG6(text, prob);
    }
    text += '\n';
  }
  out().write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out()) return absl::InternalError(absl::StrCat(path_, ": write failed"));
  return absl::OkStatus();
}

std::string ResultsWriter::JsonLine(const v1::Prediction& p,
                                    const v1::ClassifyResponse& response) const {
  auto boolean = [](bool b) { return std::string(b ? "true" : "false"); };
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", JsonString(p.id())},
      {"label", JsonString(p.label())},
      {"score", JsonNumber(p.score())},
      {"out_of_distribution", boolean(p.out_of_distribution())},
      {"l2_norm", JsonNumber(p.l2_norm())},
      {"call", JsonString(p.call())},
      {"confidence", JsonString(p.confidence())},
      {"call_probability", JsonNumber(p.call_probability())},
      {"ood_score", JsonNumber(p.ood_score())},
      {"model", JsonString(response.model_name())},
      {"version", absl::StrCat(response.model_version())},
      {"input_file", JsonString(input_file_)}};
  if (p.probabilities_size() > 0) {
    fields.emplace_back("probabilities", JsonLabelledNumbers(labels_, p.probabilities()));
  }
  if (p.calibrated_probabilities_size() > 0) {
    fields.emplace_back("calibrated_probabilities",
                        JsonLabelledNumbers(labels_, p.calibrated_probabilities()));
  }
  if (p.evidence_size() > 0) {
    std::string evidence = "[";
    for (int j = 0; j < p.evidence_size(); ++j) {
      const v1::Reference& e = p.evidence(j);
      absl::StrAppend(&evidence, j ? "," : "",
                      JsonObject({{"id", JsonString(e.id())},
                                  {"label", JsonString(e.label())},
                                  {"cosine", JsonNumber(e.cosine())}}));
    }
    fields.emplace_back("evidence", evidence + "]");
    fields.emplace_back("evidence_disagrees", boolean(p.evidence_disagrees()));
  }
  return JsonObject(std::move(fields));
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
