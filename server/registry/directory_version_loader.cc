#include "server/registry/directory_version_loader.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/batch_invariance.h"
#include "common/file_io.h"
#include "common/model_package.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "server/server_log.h"

namespace arginator::server {

DirectoryVersionLoader::DirectoryVersionLoader(Options options, ModelFactory model_factory,
                                               VersionObserverFactory observer_factory,
                                               ReferenceSearchFactory reference_factory)
    : options_(options),
      checks_(std::make_shared<const Checks>(
          Checks{std::move(options), std::move(model_factory), std::move(reference_factory)})),
      observer_factory_(std::move(observer_factory)) {}

// One load in flight: its thread writes the result; Load waits for it, the timeout or Stop.
struct DirectoryVersionLoader::Attempt {
  Mutex mu;
  CondVar cv;
  bool done ABSL_GUARDED_BY(mu) = false;
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  bool abandoned ABSL_GUARDED_BY(mu) = false;
  absl::StatusOr<std::shared_ptr<ServableVersion>> result ABSL_GUARDED_BY(mu);
};

absl::StatusOr<std::shared_ptr<ServableVersion>> DirectoryVersionLoader::Load(
    const std::string& name, int64_t version, const std::string& dir) {
  auto attempt = std::make_shared<Attempt>();
  {
    MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError(absl::StrCat(dir, ": the server is shutting down"));
    running_.insert(attempt);
  }
  // Loading competes with serving for the same cores, and a swap must not show in the serving
  // version's latency, so the checks and warm-up run on a thread of low priority (nice 10):
  // the scheduler gives it what serving leaves. The batcher is made here, after it ends, because
  // a thread inherits its creator's priority and the batcher's thread (with a queue delay) serves
  // traffic. The thread owns what it uses (the checks, the attempt): if it is abandoned, nothing
  // it touches goes away under it.
  std::thread([attempt, checks = checks_, abandoned = abandoned_, name, version, dir] {
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    setpriority(PRIO_PROCESS, tid, std::min(19, getpriority(PRIO_PROCESS, tid) + kLoaderNice));
    absl::StatusOr<std::shared_ptr<ServableVersion>> verified = checks->Verify(name, version, dir);
    MutexLock lock(&attempt->mu);
    attempt->result = std::move(verified);
    attempt->done = true;
    if (attempt->abandoned) {
      abandoned->fetch_sub(1);
      attempt->result = absl::CancelledError("abandoned");  // drops a late model here
    }
    attempt->cv.SignalAll();
  }).detach();

  absl::StatusOr<std::shared_ptr<ServableVersion>> verified;
  {
    MutexLock lock(&attempt->mu);
    // Clamped: a chrono wait past the year 2262 overflows.
    const absl::Duration timeout = std::min(options_.load_timeout, absl::Hours(24 * 365));
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (!attempt->done && !attempt->cancelled) {
      if (attempt->cv.WaitUntil(&attempt->mu, deadline)) break;
    }
    if (attempt->done) {
      verified = std::move(attempt->result);
    } else {
      attempt->abandoned = true;
      abandoned_->fetch_add(1);
      verified = attempt->cancelled
                     ? absl::CancelledError(
                           absl::StrCat(dir, ": load cancelled, the server is shutting down"))
                     : absl::DeadlineExceededError(absl::StrCat(
                           dir, ": load did not finish within ",
                           absl::FormatDuration(options_.load_timeout),
                           " (models.load_timeout_s); abandoned, retried when its files change"));
    }
  }
  {
    MutexLock lock(&mu_);
    running_.erase(attempt);
  }
  if (!verified.ok()) return verified.status();
  std::shared_ptr<ServableVersion> servable = *std::move(verified);
  servable->observer = observer_factory_(name, version, servable->card.labels);
  if (servable->observer == nullptr) servable->observer = std::make_shared<VersionObserver>();
  // The density scores go with the forward: one pass over the batch's rows (see RowScorer).
  RowScorer scorer;
  if (servable->density != nullptr) {
    scorer = [density = servable->density](RowsView rows, double* scores) {
      density->ScoreRows(rows.data, rows.rows, scores);
    };
  }
  servable->batcher =
      std::make_unique<DynamicBatcher>(servable->model, options_.batching, servable->observer,
                                       nullptr, Clock::Real(), std::move(scorer));
  return servable;
}

void DirectoryVersionLoader::Stop() {
  MutexLock lock(&mu_);
  stopping_ = true;
  for (const std::shared_ptr<Attempt>& attempt : running_) {
    MutexLock attempt_lock(&attempt->mu);
    attempt->cancelled = true;
    attempt->cv.SignalAll();
  }
}

int DirectoryVersionLoader::abandoned() const { return abandoned_->load(); }

namespace {

// Whether `path`, with every symlink resolved, lies inside `root` (also resolved).
absl::Status CheckInsideRepository(const std::string& path, const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(path, ": cannot resolve: ", ec.message()));
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(root, ": cannot resolve: ", ec.message()));
  auto r = real_root.begin(), p = real.begin();
  for (; r != real_root.end() && p != real.end() && *r == *p; ++r, ++p) {
  }
  if (r != real_root.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": resolves to ", real.string(), ", outside the model repository ",
                     real_root.string(), " (models.links_outside_repository is false)"));
  }
  return absl::OkStatus();
}

// A file the card names beside model.json: a regular file of the version directory, no larger
// than `limit`, whose sha256 is the card's.
absl::StatusOr<std::string> VerifiedSibling(const std::string& dir, const std::string& file,
                                            const std::string& sha256, uintmax_t limit,
                                            const DirectoryVersionLoader::Options& options) {
  const std::string path = (std::filesystem::path(dir) / file).string();
  ARG_RETURN_IF_ERROR(CheckRegularFile(path, limit));
  if (!options.repository.empty() && !options.links_outside_repository) {
    ARG_RETURN_IF_ERROR(CheckInsideRepository(path, options.repository));
  }
  ARG_ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
  if (sha != sha256) {
    return absl::DataLossError(
        absl::StrCat(path, ": sha256 ", sha, " is not the one model.json records (", sha256, ")"));
  }
  return path;
}

// The version's reference table (id, label per row) and index, verified against the card.
absl::StatusOr<std::shared_ptr<const ReferenceSet>> LoadReferences(
    const std::string& dir, const ModelCard& card, const ReferenceSearchFactory& factory,
    const DirectoryVersionLoader::Options& options) {
  const EvidenceIndex& e = card.evidence;
  constexpr uintmax_t kMaxIndexBytes = uintmax_t{16} << 30;
  ARG_ASSIGN_OR_RETURN(std::string table_path,
                       VerifiedSibling(dir, e.table_file, e.table_sha256, kMaxIndexBytes, options));
  ARG_ASSIGN_OR_RETURN(std::string index_path,
                       VerifiedSibling(dir, e.file, e.sha256, kMaxIndexBytes, options));
  ARG_ASSIGN_OR_RETURN(std::string table, ReadFileToString(table_path));
  auto set = std::make_shared<ReferenceSet>();
  std::vector<absl::string_view> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  for (size_t i = 1; i < lines.size(); ++i) {  // line 0 is the header
    std::vector<absl::string_view> fields = absl::StrSplit(lines[i], '\t');
    auto label = fields.size() == 2
                     ? std::find(card.labels.begin(), card.labels.end(), std::string(fields[1]))
                     : card.labels.end();
    if (label == card.labels.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          table_path, ": line ", i + 1, " is not an id and one of the model's labels"));
    }
    set->ids.emplace_back(fields[0]);
    set->labels.push_back(static_cast<int>(label - card.labels.begin()));
  }
  if (static_cast<int64_t>(set->ids.size()) != e.count) {
    return absl::InvalidArgumentError(
        absl::StrCat(table_path, ": ", set->ids.size(), " references; model.json says ", e.count));
  }
  ARG_ASSIGN_OR_RETURN(set->search, factory(index_path, card.input_dim, e.count));
  return std::shared_ptr<const ReferenceSet>(std::move(set));
}

}  // namespace

absl::StatusOr<std::shared_ptr<ServableVersion>> DirectoryVersionLoader::Checks::Verify(
    const std::string& name, int64_t version, const std::string& dir) const {
  const std::string card_path = ModelCardPath(dir);
  const std::string model_path = ModelFilePath(dir);
  ARG_RETURN_IF_ERROR(CheckRegularFile(card_path, options.max_card_bytes));
  ARG_RETURN_IF_ERROR(CheckRegularFile(model_path, options.max_model_bytes));
  if (!options.repository.empty() && !options.links_outside_repository) {
    ARG_RETURN_IF_ERROR(CheckInsideRepository(card_path, options.repository));
    ARG_RETURN_IF_ERROR(CheckInsideRepository(model_path, options.repository));
  }
  auto servable = std::make_shared<ServableVersion>();
  servable->dir = dir;
  ARG_ASSIGN_OR_RETURN(servable->card, ReadModelCard(card_path));
  const ModelCard& card = servable->card;
  if (card.name != name || card.version != version) {
    return absl::InvalidArgumentError(absl::StrCat(card_path, ": names model '", card.name,
                                                   "' version ", card.version, " but sits at ",
                                                   name, "/", version));
  }
  if (options.max_input_dim > 0 && card.input_dim > options.max_input_dim) {
    return absl::FailedPreconditionError(absl::StrCat(
        card_path, ": input_dim ", card.input_dim, " is wider than server.max_input_dim ",
        options.max_input_dim, " (raise it to serve this model)"));
  }
  if (card.output != "probabilities") {
    return absl::InvalidArgumentError(
        absl::StrCat(card_path, ": output '", card.output, "' is not supported (probabilities)"));
  }
  ARG_RETURN_IF_ERROR(VerifyModelFile(dir, card));
  if (!card.decision.density_file.empty()) {
    // The out-of-distribution detector's arrays, verified like model.pt (sha256 in the card).
    const std::string density_path =
        (std::filesystem::path(dir) / card.decision.density_file).string();
    ARG_RETURN_IF_ERROR(CheckRegularFile(density_path, options.max_model_bytes));
    if (!options.repository.empty() && !options.links_outside_repository) {
      ARG_RETURN_IF_ERROR(CheckInsideRepository(density_path, options.repository));
    }
    ARG_ASSIGN_OR_RETURN(DensityModel density,
                         LoadDensityModel(dir, card.decision, card.input_dim));
    servable->density = std::make_shared<const DensityModel>(std::move(density));
  }
  if (!card.evidence.file.empty() && reference_factory) {
    ARG_ASSIGN_OR_RETURN(servable->references,
                         LoadReferences(dir, card, reference_factory, options));
  }
  ARG_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, model_factory(model_path, card));
  servable->model = std::move(model);
  if (const std::string plan = servable->model->ExecutionPlan(); !plan.empty()) {
    ServerLog(absl::StrCat(card.name, " version ", card.version, " batches on this CPU: ", plan));
  }
  if (card.golden.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(card_path, ": has no golden examples to verify the model against"));
  }

  // Golden examples: the served file must compute what the trainer recorded.
  std::vector<float> golden_inputs;
  for (const auto& g : card.golden)
    golden_inputs.insert(golden_inputs.end(), g.input.begin(), g.input.end());
  const int64_t cols = static_cast<int64_t>(card.labels.size());
  std::vector<float> out(card.golden.size() * cols);
  if (absl::Status s = servable->model->Forward(
          RowsView(golden_inputs.data(), static_cast<int64_t>(card.golden.size()), card.input_dim),
          MutableRowsView(out.data(), static_cast<int64_t>(card.golden.size()), cols));
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(model_path, ": ", s.message(), " (model.json has ",
                                               cols, " labels)"));
  }
  for (size_t i = 0; i < card.golden.size(); ++i) {
    for (size_t k = 0; k < card.labels.size(); ++k) {
      float got = out[i * cols + k], want = card.golden[i].probabilities[k];
      if (!(std::abs(got - want) <= card.golden_tolerance)) {
        return absl::DataLossError(absl::StrFormat(
            "%s: golden example '%s' gives %s = %.6g, model.json recorded %.6g (tolerance %g)",
            model_path, card.golden[i].id, card.labels[k], got, want, card.golden_tolerance));
      }
    }
  }

  // The same answer whatever the batch: each golden example alone, and (the warm-up below) among
  // max_batch_size rows.
  std::vector<std::string> golden_ids;
  for (const auto& g : card.golden) golden_ids.push_back(g.id);
  auto forward = [&](const float* rows, int64_t n, float* to) {
    return servable->model->Forward(RowsView(rows, n, card.input_dim),
                                    MutableRowsView(to, n, cols));
  };
  ARG_RETURN_IF_ERROR(CheckRowsAloneMatchBatch(
      forward, golden_inputs.data(), static_cast<int64_t>(card.golden.size()), card.input_dim,
      out.data(), golden_ids, card.labels, model_path));

  // Warm-up at the batch size traffic will use, so the first requests do not pay for allocation.
  const int64_t warm_rows = options.batching.max_batch_size;
  std::vector<float> warm(static_cast<size_t>(warm_rows) * card.input_dim);
  for (int64_t r = 0; r < warm_rows; ++r) {
    const auto& g = card.golden[r % card.golden.size()].input;
    std::copy(g.begin(), g.end(), warm.begin() + r * card.input_dim);
  }
  std::vector<float> warm_out(static_cast<size_t>(warm_rows) * cols);
  for (int i = 0; i < options.warmup_batches; ++i) {
    ARG_RETURN_IF_ERROR(
        servable->model->Forward(RowsView(warm.data(), warm_rows, card.input_dim),
                                 MutableRowsView(warm_out.data(), warm_rows, cols)));
    if (i > 0) continue;
    for (int64_t r = 0; r < warm_rows; ++r) {
      const int64_t g = r % static_cast<int64_t>(card.golden.size());
      for (int64_t k = 0; k < cols; ++k) {
        const float big = warm_out[r * cols + k], small = out[g * cols + k];
        if (!(std::abs(big - small) <= kBatchInvarianceTolerance)) {
          return absl::FailedPreconditionError(absl::StrFormat(
              "%s: answers depend on the batch: golden example '%s' gives %s = %.8g among %d "
              "rows, %.8g among the %d golden examples",
              model_path, card.golden[g].id, card.labels[k], big, warm_rows, small,
              card.golden.size()));
        }
      }
    }
  }
  return servable;
}

}  // namespace arginator::server
