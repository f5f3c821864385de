#include "trainer/synthetic.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_io.h"
#include "common/hdf5_embeddings.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "trainer/random.h"

namespace arginator::trainer {
namespace {

struct ClassSpec {
  const char* name;
  const char* file;
  const char* id_prefix;
  int families;
};

constexpr ClassSpec kClasses[] = {
    {"class_A", "card_class_a_embeddings.h5", "CARD_A_", 14},
    {"class_B", "card_class_b_embeddings.h5", "CARD_B_", 6},
    {"class_C", "card_class_c_embeddings.h5", "CARD_C_", 9},
    {"class_D", "card_class_d_embeddings.h5", "CARD_D_", 11},
    {"non_betalactamase", "non_betalactamase_embeddings_60k.h5", "UNIPROT_", 80},
};

// Per-dimension standard deviations of each component before the norm is fixed.
constexpr double kClassSpread = 0.055;   // class centroid around the shared base
constexpr double kFamilySpread = 0.075;  // sub-family centroid around its class
constexpr double kProteinSpread = 0.16;  // one protein around its sub-family
constexpr double kDecoyFraction = 0.15;  // non-BL families placed near a BL sub-family
constexpr double kDecoyPull = 0.75;      // how far a decoy moves toward its BL sub-family
constexpr double kNormMean = 6.2, kNormStd = 0.18;

std::vector<double> RandomVector(Rng& rng, int dim, double sd) {
  std::vector<double> v(dim);
  for (double& x : v) x = rng.Normal() * sd;
  return v;
}

}  // namespace

const std::map<std::string, int>& SyntheticCountsAtScaleOne() {
  static const std::map<std::string, int> kCounts = {{"class_A", 3000},
                                                     {"class_B", 1200},
                                                     {"class_C", 1800},
                                                     {"class_D", 1100},
                                                     {"non_betalactamase", 60000}};
  return kCounts;
}

std::map<std::string, EmbeddingMatrix> GenerateSynthetic(const SyntheticOptions& options) {
  const int dim = options.dim;
  Rng rng(options.seed);
  std::vector<double> base = RandomVector(rng, dim, 0.1);
  for (int j = 0; j < dim; ++j) base[j] += (j % 7 == 0 ? 0.15 : 0.0);  // shared structure

  // Class centroids (offsets from the base). D borrows most of A's direction.
  std::vector<std::vector<double>> class_offset;
  for (size_t c = 0; c < std::size(kClasses); ++c) {
    class_offset.push_back(RandomVector(rng, dim, kClassSpread));
  }
  for (int j = 0; j < dim; ++j)
    class_offset[3][j] = 0.7 * class_offset[0][j] + 0.7 * class_offset[3][j];

  // Sub-family centroids; the last class's decoys lean toward a random BL sub-family.
  std::vector<std::vector<std::vector<double>>> families(std::size(kClasses));
  for (size_t c = 0; c < std::size(kClasses); ++c) {
    for (int f = 0; f < kClasses[c].families; ++f) {
      std::vector<double> centre = RandomVector(rng, dim, kFamilySpread);
      for (int j = 0; j < dim; ++j) centre[j] += class_offset[c][j];
      families[c].push_back(std::move(centre));
    }
  }
  const size_t non_bl = std::size(kClasses) - 1;
  int decoys = static_cast<int>(kDecoyFraction * kClasses[non_bl].families);
  for (int f = 0; f < decoys; ++f) {
    size_t target_class = rng.Below(non_bl);
    const auto& target = families[target_class][rng.Below(families[target_class].size())];
    auto& decoy = families[non_bl][f];
    for (int j = 0; j < dim; ++j) decoy[j] = kDecoyPull * target[j] + (1 - kDecoyPull) * decoy[j];
  }

  if (options.sample_seed != 0) rng = Rng(options.sample_seed);
  std::map<std::string, EmbeddingMatrix> out;
  for (size_t c = 0; c < std::size(kClasses); ++c) {
    const ClassSpec& spec = kClasses[c];
    int count = std::max(
        20,
        static_cast<int>(std::lround(SyntheticCountsAtScaleOne().at(spec.name) * options.scale)));
    // Zipf-like family sizes: family f gets weight 1 / (f + 1).
    std::vector<double> cumulative;
    double total = 0;
    for (int f = 0; f < spec.families; ++f) cumulative.push_back(total += 1.0 / (f + 1));
    EmbeddingMatrix m;
    m.dim = dim;
    m.values.resize(static_cast<size_t>(count) * dim);
    for (int i = 0; i < count; ++i) {
      double u = rng.Uniform() * total;
      size_t f = std::lower_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
      f = std::min(f, families[c].size() - 1);
      float* row = m.values.data() + static_cast<size_t>(i) * dim;
      double norm_sq = 0;
      std::vector<double> v(dim);
      for (int j = 0; j < dim; ++j) {
        v[j] = base[j] + families[c][f][j] + rng.Normal() * kProteinSpread;
        norm_sq += v[j] * v[j];
      }
      double target_norm = kNormMean + kNormStd * rng.Normal();
      double k = target_norm / std::sqrt(norm_sq);
      for (int j = 0; j < dim; ++j) row[j] = static_cast<float>(v[j] * k);
      m.ids.push_back(absl::StrFormat("%s%06d_fam%02d", spec.id_prefix, i, f));
    }
    out.emplace(spec.name, std::move(m));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> WriteSyntheticDataset(
    const std::string& dir, const SyntheticOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  std::map<std::string, EmbeddingMatrix> data = GenerateSynthetic(options);
  std::map<std::string, std::string> paths;
  for (const ClassSpec& spec : kClasses) {
    std::string path = (std::filesystem::path(dir) / spec.file).string();
    ARG_RETURN_IF_ERROR(
        WriteEmbeddingsH5(path, data.at(spec.name),
                          {{"synthetic", "true"},
                           {"generator", "arginator-train gen-data"},
                           {"class", spec.name},
                           {"seed", absl::StrCat(options.seed)},
                           {"sample_seed", absl::StrCat(options.sample_seed)},
                           {"scale", absl::StrCat(options.scale)},
                           {"note", "Synthetic ProtT5-like embeddings; not real proteins."}}));
    paths[spec.name] = path;
  }
  return paths;
}

absl::StatusOr<std::map<std::string, std::string>> WriteSyntheticBioEmbeddings(
    const std::string& dir, const SyntheticOptions& options) {
  namespace fs = std::filesystem;
  const fs::path stage = fs::path(dir) / "prottrans_t5_xl_u50";
  std::error_code ec;
  fs::create_directories(stage, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  static constexpr char kAminoAcids[] = "ACDEFGHIKLMNPQRSTVWY";
  Rng rng(options.sample_seed != 0 ? options.sample_seed : options.seed);
  EmbeddingMatrix keyed;
  keyed.dim = options.dim;
  std::vector<std::string> original_ids;
  std::string fasta, mapping = ",original_id,sequence_length\n", labels = "id\tlabel\tgroup\n";
  for (const auto& [name, m] : GenerateSynthetic(options)) {
    for (size_t i = 0; i < m.rows(); ++i) {
      const std::string id = m.ids[i] + ".1";
      std::string sequence = "M";
      const int length = 150 + static_cast<int>(rng.Below(250));
      for (int k = 1; k < length; ++k) sequence += kAminoAcids[rng.Below(20)];
      const std::string key = Md5Hex(sequence);
      absl::StrAppend(&fasta, ">", id, " synthetic ", name, " protein (not real)\n");
      for (size_t at = 0; at < sequence.size(); at += 60) {
        absl::StrAppend(&fasta, sequence.substr(at, 60), "\n");
      }
      absl::StrAppend(&mapping, key, ",", id, ",", sequence.size(), "\n");
      const std::string family = m.ids[i].substr(m.ids[i].rfind('_') + 1);
      absl::StrAppend(&labels, id, "\t", name, "\t", name, "_", family, "\n");
      keyed.ids.push_back(key);
      keyed.values.insert(keyed.values.end(), m.row(i), m.row(i) + m.dim);
      original_ids.push_back(id);
    }
  }
  std::map<std::string, std::string> paths = {
      {"fasta", (fs::path(dir) / "proteins.fasta").string()},
      {"mapping", (fs::path(dir) / "mapping_file.csv").string()},
      {"embeddings", (stage / "reduced_embeddings_file.h5").string()},
      {"labels", (fs::path(dir) / "labels.tsv").string()}};
  ARG_RETURN_IF_ERROR(WriteFileDurably(paths["fasta"], fasta));
  ARG_RETURN_IF_ERROR(WriteFileDurably(paths["mapping"], mapping));
  ARG_RETURN_IF_ERROR(WriteFileDurably(paths["labels"], labels));
  ARG_RETURN_IF_ERROR(WriteEmbeddingsH5(
      paths["embeddings"], keyed,
      {{"synthetic", "true"},
       {"generator", "arginator-train gen-data --layout bio_embeddings"},
       {"note", "Synthetic ProtT5-like embeddings of made-up sequences; not real proteins."}},
      &original_ids));
  return paths;
}

}  // namespace arginator::trainer
