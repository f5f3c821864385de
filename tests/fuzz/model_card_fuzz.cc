// Bytes -> model.json: nlohmann's non-throwing parse, then ModelCardFromJson (the server's card
// validation), and the same bytes through ReadModelCard from a file. A card that validates must
// survive ModelCardToJson -> ModelCardFromJson unchanged (the trainer writes what the server reads)
// and its descriptive sections must serialize (GetModelMetadata sends them as JSON text).
//
// DirectoryVersionLoader's further checks (name and version against the directory, sha256 of
// model.pt, golden examples through the model) need a model file and a Model: none of them is a
// pure function of the card, so they are not fuzzed here.

#include <cstdint>
#include <string>

#include "common/model_card.h"
#include "nlohmann/json.hpp"
#include "tests/fuzz/fuzz_support.h"

namespace {

using nlohmann::json;

void CheckRoundTrip(const arginator::ModelCard& card) {
  auto back = arginator::ModelCardFromJson(arginator::ModelCardToJson(card), "round-trip");
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->name == card.name && back->version == card.version);
  FUZZ_CHECK(back->task == card.task && back->input_dim == card.input_dim);
  FUZZ_CHECK(back->labels == card.labels && back->output == card.output);
  FUZZ_CHECK(back->golden.size() == card.golden.size());
  FUZZ_CHECK(back->model_sha256 == card.model_sha256);
  (void)card.metrics.dump();
  (void)card.architecture.dump();
  (void)card.dataset.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const arginator::fuzz::ScratchDir dir;
  const json j = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  absl::StatusOr<arginator::ModelCard> card =
      j.is_discarded() ? absl::InvalidArgumentError("invalid JSON")
                       : arginator::ModelCardFromJson(j, "fuzz/model.json");
  if (card.ok()) {
    FUZZ_CHECK(card->version > 0 && card->input_dim > 0 && card->labels.size() >= 2);
    for (const auto& g : card->golden) {
      FUZZ_CHECK(static_cast<int64_t>(g.input.size()) == card->input_dim);
      FUZZ_CHECK(g.probabilities.size() == card->labels.size());
    }
    CheckRoundTrip(*card);
  } else {
    FUZZ_CHECK(card.status().code() == absl::StatusCode::kInvalidArgument);
  }
  // The file path the server takes agrees with the in-memory one.
  const std::string path = dir.Write("model.json", data, size);
  auto from_file = arginator::ReadModelCard(path);
  FUZZ_CHECK(from_file.ok() == card.ok());
  return 0;
}
