#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "common/embedding_matrix.h"

namespace arginator::client {

struct ClientOptions {
  std::string target = "localhost:50051";
  absl::Duration deadline = absl::Seconds(30);  // per call, across its retries
  // UNAVAILABLE (server restarting, connection reset) and RESOURCE_EXHAUSTED (queue full) are
  // retried with exponential backoff and jitter, up to max_attempts calls in all.
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(3);
  // TLS: set tls, and ca_cert for a private CA; client_cert + client_key for mutual TLS.
  bool tls = false;
  std::string ca_cert, client_cert, client_key;  // PEM file paths
  std::string authority;       // overrides the TLS/authority host name (e.g. when dialling an IP)
  bool skip_verify = false;    // TLS without checking the server's certificate (testing only)
  std::string http_authority;  // the :authority pseudo-header; empty = the target
  absl::Duration keepalive = absl::ZeroDuration();  // HTTP/2 keepalive pings; 0 = none
  // gRPC's load-balancing policy over the addresses `target` resolves to: "" keeps gRPC's
  // pick_first (one address at a time); "round_robin" spreads calls over every ready one, e.g.
  // "ipv4:10.0.0.7:50051,10.0.0.8:50051" or a headless Service's "dns:///name:50051", and stops
  // sending to one that goes away.
  std::string lb_policy;
};

// The load-balancing policies a client may name (ClientOptions::lb_policy).
inline constexpr const char* kLbPolicies[] = {"pick_first", "round_robin"};

// Which model version: a name plus an exact version, a label, or neither (the server's default).
struct ModelSelector {
  std::string name;
  std::optional<int64_t> version;
  std::optional<std::string> label;
};

// A small client for services that call Arginator. Thread-safe; share one per process (it holds
// one HTTP/2 channel). Every method returns absl::Status with the server's gRPC code and message.
class ArginatorClient {
 public:
  static absl::StatusOr<std::unique_ptr<ArginatorClient>> Create(const ClientOptions& options);

  // Requests ClassifyAll keeps sent and not yet answered.
  static constexpr size_t kDefaultMaxInFlight = 4;

  // Classifies rows [first, first + count) of `embeddings` in one request (packed float32).
  // `evidence` > 0 asks for that many nearest known proteins per row (Prediction.evidence).
  absl::StatusOr<v1::ClassifyResponse> Classify(const ModelSelector& model,
                                                const EmbeddingMatrix& embeddings, size_t first,
                                                size_t count, bool probabilities = false,
                                                int evidence = 0);

  // Classifies every row over one ClassifyStream, `batch_size` rows per request, calling
  // `on_batch(first_row, response)` for each batch in order. An error response stops the stream
  // and is returned.
  absl::Status ClassifyAll(
      const ModelSelector& model, const EmbeddingMatrix& embeddings, size_t batch_size,
      bool probabilities, const std::function<void(size_t, const v1::ClassifyResponse&)>& on_batch);
  absl::Status ClassifyAll(
      const ModelSelector& model, const EmbeddingMatrix& embeddings, size_t batch_size,
      bool probabilities, int evidence,
      const std::function<void(size_t, const v1::ClassifyResponse&)>& on_batch);

  // Reads the next request's rows into `chunk`; false at the end (EmbeddingStream::Next with the
  // batch size fits).
  using ChunkSource = std::function<absl::StatusOr<bool>(EmbeddingMatrix& chunk)>;
  // Classifies the chunks `next` reads, each one request, over one ClassifyStream: reading, sending
  // and the answers (`on_batch(first_row, response)`, in order, on this thread) overlap, with at
  // most `max_in_flight` requests sent and not yet answered, so memory holds a few chunks whatever
  // the input's size. An error from `next` stops the stream and is returned as it is; an error
  // response stops it and is returned.
  absl::Status ClassifyChunks(
      const ModelSelector& model, const ChunkSource& next, bool probabilities, int evidence,
      size_t max_in_flight,
      const std::function<void(size_t, const v1::ClassifyResponse&)>& on_batch);

  absl::StatusOr<v1::ListModelsResponse> ListModels();
  absl::StatusOr<v1::GetModelMetadataResponse> GetModelMetadata(const ModelSelector& model);
  // "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN" for a health service name
  // ("" = the whole server, or a model name).
  absl::StatusOr<std::string> Health(const std::string& service = "");

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

 private:
  ArginatorClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel);
  // Runs `call` with a fresh context until it succeeds, fails for good, or attempts run out.
  grpc::Status WithRetries(const std::function<grpc::Status(grpc::ClientContext&)>& call);

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Classifier::Stub> stub_;
};

// A channel for `options` (credentials from the PEM files, large message limits).
// `separate_connection` gives it its own TCP connection (a local subchannel pool) instead of
// sharing one with other channels to the same target, as the load generator's --connections needs.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options,
                                                           bool separate_connection = false);

// The single conversion from the gRPC edge back to absl::Status.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Fills `spec` from a selector.
void SetModelSpec(const ModelSelector& model, v1::ModelSpec* spec);

}  // namespace arginator::client
