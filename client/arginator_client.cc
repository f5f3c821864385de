#include "client/arginator_client.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/mutex.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace arginator::client {
namespace {

// The row buffers of a ClassifyStream's requests, lent to gRPC as message slices (read in place
// when sent, no copy into a protobuf string and none again into gRPC's buffers) and handed back
// here when gRPC lets go of them, to be filled again: after the first few requests a bulk job
// allocates nothing per request (4 MB allocated and freed per 1,024-row request went back to the
// kernel each time and faulted in again: ~20% of the client's CPU).
class LentRows : public std::enable_shared_from_this<LentRows> {
 public:
  // An idle buffer (or a new one) for the next chunk.
  std::vector<float> Take() {
    MutexLock lock(&mu_);
    if (idle_.empty()) return {};
    std::vector<float> rows = std::move(idle_.back());
    idle_.pop_back();
    return rows;
  }

  // `rows` as one slice of a message; they come back here when the slice's last reference goes.
  grpc::Slice Lend(std::vector<float> rows) {
    auto* loan = new Loan{shared_from_this(), std::move(rows)};
    return grpc::Slice(loan->rows.data(), loan->rows.size() * sizeof(float), &Return, loan);
  }

 private:
  struct Loan {
    std::shared_ptr<LentRows> owner;
    std::vector<float> rows;
  };

  static void Return(void* user_data) {
    std::unique_ptr<Loan> loan(static_cast<Loan*>(user_data));
    MutexLock lock(&loan->owner->mu_);
    loan->owner->idle_.push_back(std::move(loan->rows));
  }

  Mutex mu_;
  std::vector<std::vector<float>> idle_ ABSL_GUARDED_BY(mu_);
};

// `header` (a ClassifyRequest without packed_values) followed by field 3, packed_values, whose
// bytes are `rows`: the protobuf encoding of the whole request (a parser accepts fields in any
// order), in two slices.
grpc::ByteBuffer RequestWithRows(const v1::ClassifyRequest& header, LentRows& lender,
                                 std::vector<float> rows) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  std::string head = header.SerializeAsString();
  uint8_t field[2 * 10];  // packed_values' tag, then its length: two varints of at most 10 bytes
  uint8_t* end = CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(v1::ClassifyRequest::kPackedValuesFieldNumber,
                              WireFormatLite::WIRETYPE_LENGTH_DELIMITED),
      field);
  end = CodedOutputStream::WriteVarint64ToArray(rows.size() * sizeof(float), end);
  head.append(reinterpret_cast<const char*>(field), static_cast<size_t>(end - field));
  grpc::Slice slices[2] = {grpc::Slice(head), lender.Lend(std::move(rows))};
  return grpc::ByteBuffer(slices, 2);
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

void SetModelSpec(const ModelSelector& model, v1::ModelSpec* spec) {
  spec->set_name(model.name);
  if (model.version) spec->set_version(*model.version);
  if (model.label) spec->set_version_label(*model.label);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options,
                                                           bool separate_connection) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_cert.empty()) {
      auto ca = ReadFileToString(options.ca_cert);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (options.client_cert.empty() != options.client_key.empty()) {
      return absl::InvalidArgumentError("--cert and --key go together (mutual TLS)");
    }
    if (!options.client_cert.empty()) {
      auto cert = ReadFileToString(options.client_cert);
      auto key = ReadFileToString(options.client_key);
      if (!cert.ok()) return cert.status();
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
    if (options.skip_verify) {
      grpc::experimental::TlsChannelCredentialsOptions tls;
      tls.set_verify_server_certs(false);
      tls.set_check_call_host(false);
      tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
      if (!ssl.pem_cert_chain.empty()) {
        tls.set_certificate_provider(
            std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
                std::vector<grpc::experimental::IdentityKeyCertPair>{
                    {ssl.pem_private_key, ssl.pem_cert_chain}}));
        tls.watch_identity_key_cert_pairs();
      }
      credentials = grpc::experimental::TlsCredentials(tls);
    }
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  if (!options.authority.empty()) args.SetSslTargetNameOverride(options.authority);
  if (!options.http_authority.empty()) {
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, options.http_authority);
  }
  if (options.keepalive > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options.keepalive)));
  }
  if (separate_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!options.lb_policy.empty()) args.SetLoadBalancingPolicyName(options.lb_policy);
  return grpc::CreateCustomChannel(options.target, credentials, args);
}

absl::StatusOr<std::unique_ptr<ArginatorClient>> ArginatorClient::Create(
    const ClientOptions& options) {
  auto channel = MakeChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<ArginatorClient>(new ArginatorClient(options, *std::move(channel)));
}

ArginatorClient::ArginatorClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(v1::Classifier::NewStub(channel_)) {}

grpc::Status ArginatorClient::WithRetries(
    const std::function<grpc::Status(grpc::ClientContext&)>& call) {
  const auto deadline = absl::ToChronoTime(absl::Now() + options_.deadline);
  std::mt19937 jitter(std::random_device{}());
  absl::Duration backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    grpc::Status status = call(context);
    const bool transient = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
    if (status.ok() || !transient || attempt >= options_.max_attempts) return status;
    // Full jitter: sleep a random time up to the current backoff, never past the deadline.
    std::uniform_real_distribution<double> fraction(0.5, 1.0);
    absl::Duration sleep = backoff * fraction(jitter);
    if (absl::FromChrono(deadline) - absl::Now() <= sleep) return status;
    absl::SleepFor(sleep);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::StatusOr<v1::ClassifyResponse> ArginatorClient::Classify(const ModelSelector& model,
                                                               const EmbeddingMatrix& embeddings,
                                                               size_t first, size_t count,
                                                               bool probabilities, int evidence) {
  if (first + count > embeddings.rows()) {
    return absl::OutOfRangeError(
        absl::StrCat("rows ", first, "..", first + count, " of ", embeddings.rows()));
  }
  v1::ClassifyRequest request;
  SetModelSpec(model, request.mutable_model());
  request.set_return_probabilities(probabilities);
  request.set_evidence(evidence);
  request.set_packed_values(std::string(reinterpret_cast<const char*>(embeddings.row(first)),
                                        count * embeddings.dim * sizeof(float)));
  for (size_t i = first; i < first + count; ++i) request.add_packed_ids(embeddings.ids[i]);
  v1::ClassifyResponse response;
  grpc::Status status = WithRetries([&](grpc::ClientContext& context) {
    response.Clear();
    return stub_->Classify(&context, request, &response);
  });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status ArginatorClient::ClassifyAll(
    const ModelSelector& model, const EmbeddingMatrix& embeddings, size_t batch_size,
    bool probabilities, const std::function<void(size_t, const v1::ClassifyResponse&)>& on_batch) {
  return ClassifyAll(model, embeddings, batch_size, probabilities, 0, on_batch);
}

absl::Status ArginatorClient::ClassifyAll(
    const ModelSelector& model, const EmbeddingMatrix& embeddings, size_t batch_size,
    bool probabilities, int evidence,
    const std::function<void(size_t, const v1::ClassifyResponse&)>& on_batch) {
  if (batch_size == 0) return absl::InvalidArgumentError("batch size must be positive");
  size_t first = 0;
  const ChunkSource slices = [&](EmbeddingMatrix& chunk) -> absl::StatusOr<bool> {
    const size_t count = std::min(batch_size, embeddings.rows() - first);
    chunk.dim = embeddings.dim;
    chunk.ids.assign(embeddings.ids.begin() + static_cast<std::ptrdiff_t>(first),
                     embeddings.ids.begin() + static_cast<std::ptrdiff_t>(first + count));
    chunk.values.assign(embeddings.row(first), embeddings.row(first) + count * embeddings.dim);
    first += count;
    return count > 0;
  };
  return ClassifyChunks(model, slices, probabilities, evidence, kDefaultMaxInFlight, on_batch);
}

absl::Status ArginatorClient::ClassifyChunks(
    const ModelSelector& model, const ChunkSource& next, bool probabilities, int evidence,
    size_t max_in_flight,
    const std::function<void(size_t, const v1::ClassifyResponse&)>& on_batch) {
  if (max_in_flight == 0) return absl::InvalidArgumentError("max_in_flight must be positive");
  grpc::ClientContext context;  // a bulk job: no deadline beyond the server's own limits
  // The stub's ClassifyStream with the requests written as bytes (RequestWithRows).
  const grpc::internal::RpcMethod method("/arginator.v1.Classifier/ClassifyStream",
                                         grpc::internal::RpcMethod::BIDI_STREAMING, channel_);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, v1::ClassifyStreamResponse>> stream(
      grpc::internal::ClientReaderWriterFactory<
          grpc::ByteBuffer, v1::ClassifyStreamResponse>::Create(channel_.get(), method, &context));
  const auto lender = std::make_shared<LentRows>();
  Mutex mu;
  CondVar answered;
  size_t in_flight = 0;  // guarded by mu
  bool reading = true;   // guarded by mu: false once the answers stop
  absl::Status input_status;
  // Reads and sends on its own thread while this one takes the answers.
  std::thread writer([&] {
    EmbeddingMatrix chunk;
    v1::ClassifyRequest header;
    SetModelSpec(model, header.mutable_model());
    header.set_return_probabilities(probabilities);
    header.set_evidence(evidence);
    for (size_t first = 0;;) {
      chunk.values = lender->Take();
      absl::StatusOr<bool> more = next(chunk);
      if (!more.ok()) {
        input_status = more.status();
        context.TryCancel();
        break;
      }
      if (!*more) break;
      header.set_request_id(absl::StrCat(first));
      header.clear_packed_ids();
      for (std::string& id : chunk.ids) header.add_packed_ids(std::move(id));
      first += chunk.rows();
      {
        MutexLock lock(&mu);
        while (reading && in_flight >= max_in_flight) answered.Wait(&mu);
        if (!reading) break;
        ++in_flight;
      }
      if (!stream->Write(RequestWithRows(header, *lender, std::move(chunk.values)))) {
        break;  // the server ended the stream
      }
    }
    stream->WritesDone();
  });
  absl::Status result = absl::OkStatus();
  v1::ClassifyStreamResponse response;
  while (stream->Read(&response)) {
    {
      MutexLock lock(&mu);
      --in_flight;
    }
    answered.Signal();
    if (response.error_code() != 0 && result.ok()) {
      result = absl::Status(
          static_cast<absl::StatusCode>(response.error_code()),
          absl::StrCat("rows from ", response.request_id(), ": ", response.error_message()));
      context.TryCancel();
    }
    if (result.ok()) on_batch(std::stoull(response.request_id()), response.response());
  }
  {
    MutexLock lock(&mu);
    reading = false;
  }
  answered.SignalAll();
  writer.join();
  grpc::Status finish = stream->Finish();
  if (!input_status.ok()) return input_status;
  if (!result.ok()) return result;
  return FromGrpcStatus(finish);
}

absl::StatusOr<v1::ListModelsResponse> ArginatorClient::ListModels() {
  v1::ListModelsResponse response;
  grpc::Status status = WithRetries([&](grpc::ClientContext& context) {
    return stub_->ListModels(&context, v1::ListModelsRequest(), &response);
  });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::GetModelMetadataResponse> ArginatorClient::GetModelMetadata(
    const ModelSelector& model) {
  v1::GetModelMetadataRequest request;
  SetModelSpec(model, request.mutable_model());
  v1::GetModelMetadataResponse response;
  grpc::Status status = WithRetries([&](grpc::ClientContext& context) {
    return stub_->GetModelMetadata(&context, request, &response);
  });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<std::string> ArginatorClient::Health(const std::string& service) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = WithRetries(
      [&](grpc::ClientContext& context) { return health->Check(&context, request, &response); });
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::string("SERVICE_UNKNOWN");
  if (!status.ok()) return FromGrpcStatus(status);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

}  // namespace arginator::client
