#include "client/loadgen/load_generator.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/embedding_files.h"

namespace arginator::client {
namespace {

constexpr int kDistinctRequests = 16;  // rotate a few payloads so nothing can cache one

// ProtT5-like rows: random directions with L2 norm ~6.2.
EmbeddingMatrix SyntheticRows(int64_t n, int dim) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  EmbeddingMatrix m;
  m.dim = dim;
  m.values.resize(n * dim);
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    for (int j = 0; j < dim; ++j) norm += std::pow(m.values[i * dim + j] = normal(rng), 2);
    const float scale = static_cast<float>(6.2 / std::sqrt(norm));
    for (int j = 0; j < dim; ++j) m.values[i * dim + j] *= scale;
    m.ids.push_back(absl::StrCat("synthetic-", i));
  }
  return m;
}

std::vector<v1::ClassifyRequest> BuildRequests(const LoadOptions& o, const EmbeddingMatrix& rows) {
  std::vector<v1::ClassifyRequest> requests(kDistinctRequests);
  size_t next = 0;
  for (auto& request : requests) {
    SetModelSpec(o.model, request.mutable_model());
    std::string packed;
    for (int b = 0; b < o.batch; ++b, next = (next + 1) % rows.rows()) {
      const float* row = rows.row(next);
      if (o.packed) {
        packed.append(reinterpret_cast<const char*>(row), rows.dim * sizeof(float));
        request.add_packed_ids(rows.ids[next]);
      } else {
        v1::Embedding* e = request.add_embeddings();
        e->set_id(rows.ids[next]);
        e->mutable_values()->Add(row, row + rows.dim);
      }
    }
    if (o.packed) request.set_packed_values(packed);
  }
  return requests;
}

struct WorkerResult {
  std::vector<int64_t> latencies_ns;
  std::map<std::string, int64_t> codes, errors;
  int64_t embeddings = 0;
  absl::Time last_done = absl::InfinitePast();
};

std::string CodeName(grpc::StatusCode code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  int c = static_cast<int>(code);
  return c >= 0 && c <= 16 ? kNames[c] : absl::StrCat(c);
}

// One worker's way of making calls, one at a time, on its own completion queue.
class Caller {
 public:
  virtual ~Caller() {
    cq_.Shutdown();  // a queue must be drained before it is destroyed
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  // Sends one encoded request and waits for its answer; `embeddings` gets the predictions' count.
  virtual grpc::Status Call(const grpc::ByteBuffer& request, int64_t* embeddings) = 0;

 protected:
  // Waits for the one operation in flight; false when it failed or the queue is shut down.
  bool Wait() {
    void* tag = nullptr;
    bool ok = false;
    return cq_.Next(&tag, &ok) && ok;
  }
  grpc::CompletionQueue cq_;
};

// Classify: one unary call per request, each with its own deadline.
class UnaryCaller : public Caller {
 public:
  UnaryCaller(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
      : stub_(std::move(channel)), timeout_(timeout) {}

  grpc::Status Call(const grpc::ByteBuffer& request, int64_t* embeddings) override {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    v1::ClassifyResponse response;
    grpc::Status status;
    auto call =
        stub_.PrepareUnaryCall(&context, "/arginator.v1.Classifier/Classify", request, &cq_);
    call->StartCall();
    call->Finish(&response, &status, this);
    if (!Wait()) return grpc::Status(grpc::StatusCode::INTERNAL, "completion queue failed");
    *embeddings = response.predictions_size();
    return status;
  }

 private:
  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::ClassifyResponse> stub_;
  const absl::Duration timeout_;
};

// ClassifyStream: one long-lived stream per worker, one message in flight on it at a time. A
// message's error is that message's status; a broken stream counts its status once and is opened
// again for the next request.
class StreamCaller : public Caller {
 public:
  StreamCaller(std::shared_ptr<grpc::Channel> channel, absl::Time deadline)
      : stub_(std::move(channel)), deadline_(deadline) {}
  ~StreamCaller() override { Close(); }

  grpc::Status Call(const grpc::ByteBuffer& request, int64_t* embeddings) override {
    if (!stream_) {
      context_ = std::make_unique<grpc::ClientContext>();
      if (deadline_ != absl::InfiniteFuture()) {
        context_->set_deadline(absl::ToChronoTime(deadline_));
      }
      stream_ = stub_.PrepareCall(context_.get(), "/arginator.v1.Classifier/ClassifyStream", &cq_);
      stream_->StartCall(this);
      if (!Wait()) return Close();
    }
    stream_->Write(request, this);
    if (!Wait()) return Close();
    stream_->Read(&response_, this);
    if (!Wait()) return Close();
    if (response_.error_code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(response_.error_code()),
                          response_.error_message());
    }
    *embeddings = response_.response().predictions_size();
    return grpc::Status::OK;
  }

 private:
  // Ends the stream and returns how it ended (never OK after a failed operation).
  grpc::Status Close() {
    if (!stream_) return grpc::Status::OK;
    grpc::Status status;
    stream_->WritesDone(this);
    Wait();
    stream_->Finish(&status, this);
    Wait();
    stream_.reset();
    context_.reset();
    return status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream ended early")
                       : status;
  }

  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::ClassifyStreamResponse> stub_;
  const absl::Time deadline_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<grpc::ByteBuffer, v1::ClassifyStreamResponse>>
      stream_;
  v1::ClassifyStreamResponse response_;
};

}  // namespace

double LoadReport::rps() const {
  double s = absl::ToDoubleSeconds(total);
  return s > 0 ? count / s : 0;
}

double LoadReport::embeddings_per_second() const {
  double s = absl::ToDoubleSeconds(total);
  return s > 0 ? embeddings / s : 0;
}

int64_t LoadReport::Percentile(double p) const {
  if (latencies_ns.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * latencies_ns.size()));
  return latencies_ns[std::min(latencies_ns.size() - 1, rank == 0 ? 0 : rank - 1)];
}

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& o) {
  if (o.concurrency < 1 || o.connections < 1 || o.batch < 1) {
    return absl::InvalidArgumentError("concurrency, connections and batch must be >= 1");
  }
  if (o.total <= 0 && o.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("give --duration or --total");
  }
  EmbeddingMatrix rows;
  if (o.input.empty()) {
    rows = SyntheticRows(std::max(o.batch, 64), kEmbeddingDim);
  } else {
    auto read = ReadEmbeddingFile(o.input);
    if (!read.ok()) return read.status();
    rows = *std::move(read);
  }
  // Each payload is serialized once: the same bytes are sent again (the slices are reference
  // counted), so the generator's CPU goes to the transport, not to re-encoding identical
  // messages, which on a machine it shares with the server would be taken from the server (a
  // 1,024-embedding request in the repeated form cost the generator 8.9 ms of CPU to encode).
  std::vector<grpc::ByteBuffer> requests;
  for (const v1::ClassifyRequest& request : BuildRequests(o, rows)) {
    grpc::ByteBuffer encoded;
    bool own_buffer = false;
    grpc::Status s =
        grpc::SerializationTraits<v1::ClassifyRequest>::Serialize(request, &encoded, &own_buffer);
    if (!s.ok()) return absl::InternalError("cannot encode a request: " + s.error_message());
    requests.push_back(std::move(encoded));
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < o.connections; ++c) {
    auto channel = MakeChannel(o.client, /*separate_connection=*/true);
    if (!channel.ok()) return channel.status();
    channels.push_back(*std::move(channel));
  }

  const absl::Time start = absl::Now();
  const absl::Time measure_from = start + o.warmup;
  const absl::Time end = o.total > 0 ? absl::InfiniteFuture() : measure_from + o.duration;
  std::atomic<int64_t> issued{0};     // measured requests started (closed loop with --total)
  std::atomic<int64_t> next_slot{0};  // open loop schedule
  const absl::Duration interval = o.rps > 0 ? absl::Seconds(1.0 / o.rps) : absl::ZeroDuration();
  std::vector<WorkerResult> results(o.concurrency);
  std::vector<std::thread> workers;
  for (int w = 0; w < o.concurrency; ++w) {
    workers.emplace_back([&, w] {
      WorkerResult& r = results[w];
      std::shared_ptr<grpc::Channel> channel = channels[w % channels.size()];
      std::unique_ptr<Caller> caller;
      if (o.stream) {
        // The stream lives for the whole run; its deadline is the run's end plus one timeout.
        caller = std::make_unique<StreamCaller>(
            channel, end == absl::InfiniteFuture() ? end : end + o.timeout);
      } else {
        caller = std::make_unique<UnaryCaller>(channel, o.timeout);
      }
      for (int64_t i = w;; i += o.concurrency) {
        absl::Time intended;
        bool measured;
        if (o.rps > 0) {
          const int64_t slot = next_slot.fetch_add(1);
          intended = start + interval * slot;
          measured = intended >= measure_from;
          if (intended >= end) break;
          if (measured && o.total > 0 && issued.fetch_add(1) >= o.total) break;
          absl::SleepFor(intended - absl::Now());
        } else {
          intended = absl::Now();
          if (intended >= end) break;
          measured = intended >= measure_from;
          if (measured && o.total > 0 && issued.fetch_add(1) >= o.total) break;
        }
        int64_t embeddings = 0;
        grpc::Status s = caller->Call(requests[i % requests.size()], &embeddings);
        const absl::Time done = absl::Now();
        if (!measured) continue;
        r.latencies_ns.push_back(absl::ToInt64Nanoseconds(done - intended));
        ++r.codes[CodeName(s.error_code())];
        if (s.ok()) {
          r.embeddings += embeddings;
        } else {
          ++r.errors[s.error_message()];
        }
        r.last_done = std::max(r.last_done, done);
      }
    });
  }
  for (auto& t : workers) t.join();

  LoadReport report;
  report.options = o;
  absl::Time last = measure_from;
  for (auto& r : results) {
    report.latencies_ns.insert(report.latencies_ns.end(), r.latencies_ns.begin(),
                               r.latencies_ns.end());
    for (const auto& [k, v] : r.codes) report.status_codes[k] += v;
    for (const auto& [k, v] : r.errors) report.errors[k] += v;
    report.embeddings += r.embeddings;
    last = std::max(last, r.last_done);
  }
  std::sort(report.latencies_ns.begin(), report.latencies_ns.end());
  report.count = static_cast<int64_t>(report.latencies_ns.size());
  report.total = last - measure_from;
  return report;
}

namespace {

std::string Ms(int64_t ns) { return absl::StrFormat("%.3f ms", ns / 1e6); }

constexpr double kPercentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9};

}  // namespace

std::string FormatText(const LoadReport& r) {
  const LoadOptions& o = r.options;
  std::string out = absl::StrFormat(
      "Summary:\n  Target:          %s, model %s\n  Load:            %s, concurrency %d, "
      "%d connection(s), batch %d (%s)%s\n",
      o.client.target, o.model.name,
      o.rps > 0 ? absl::StrFormat("open loop at %.0f req/s", o.rps) : "closed loop", o.concurrency,
      o.connections, o.batch, o.packed ? "packed" : "repeated floats",
      o.stream ? ", ClassifyStream (one stream per worker)" : "");
  int64_t sum = 0;
  for (int64_t l : r.latencies_ns) sum += l;
  absl::StrAppend(&out, absl::StrFormat("  Count:           %d\n", r.count),
                  absl::StrFormat("  Total:           %.2f s\n", absl::ToDoubleSeconds(r.total)),
                  "  Slowest:         ", Ms(r.latencies_ns.empty() ? 0 : r.latencies_ns.back()),
                  "\n  Fastest:         ", Ms(r.latencies_ns.empty() ? 0 : r.latencies_ns.front()),
                  "\n  Average:         ", Ms(r.count ? sum / r.count : 0),
                  absl::StrFormat("\n  Requests/sec:    %.1f\n  Embeddings/sec:  %.1f\n\n", r.rps(),
                                  r.embeddings_per_second()),
                  "Latency distribution:\n");
  for (double p : kPercentiles) {
    absl::StrAppend(&out, absl::StrFormat("  %5.1f %% in %s\n", p, Ms(r.Percentile(p))));
  }
  absl::StrAppend(&out, "\nStatus code distribution:\n");
  for (const auto& [code, n] : r.status_codes) {
    absl::StrAppend(&out, absl::StrFormat("  [%s]   %d responses\n", code, n));
  }
  if (!r.errors.empty()) {
    absl::StrAppend(&out, "\nError distribution:\n");
    for (const auto& [message, n] : r.errors) {
      absl::StrAppend(&out, absl::StrFormat("  [%d]   %s\n", n, message));
    }
  }
  return out;
}

nlohmann::json FormatJson(const LoadReport& r) {
  int64_t sum = 0;
  for (int64_t l : r.latencies_ns) sum += l;
  nlohmann::json distribution = nlohmann::json::array();
  for (double p : kPercentiles) {
    distribution.push_back({{"percentage", p}, {"latency", r.Percentile(p)}});
  }
  const LoadOptions& o = r.options;
  return {{"date", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())},
          {"options",
           {{"host", o.client.target},
            {"call", o.stream ? "arginator.v1.Classifier.ClassifyStream"
                              : "arginator.v1.Classifier.Classify"},
            {"model", o.model.name},
            {"concurrency", o.concurrency},
            {"connections", o.connections},
            {"rps", o.rps},
            {"batch", o.batch},
            {"packed", o.packed}}},
          {"count", r.count},
          {"total", absl::ToInt64Nanoseconds(r.total)},
          {"average", r.count ? sum / r.count : 0},
          {"fastest", r.latencies_ns.empty() ? 0 : r.latencies_ns.front()},
          {"slowest", r.latencies_ns.empty() ? 0 : r.latencies_ns.back()},
          {"rps", r.rps()},
          {"embeddingsPerSecond", r.embeddings_per_second()},
          {"latencyDistribution", distribution},
          {"statusCodeDistribution", r.status_codes},
          {"errorDistribution", r.errors}};
}

}  // namespace arginator::client
