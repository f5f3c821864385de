#include "server/v1/classify_stream.h"

#include <thread>

#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "gtest/gtest.h"
#include "server/grpc/unary_call.h"
#include "server/metrics/server_metrics.h"
#include "server/registry/model_registry.h"
#include "tests/testing/fake_loader.h"
#include "tests/testing/fake_model.h"

namespace arginator::server {
namespace {

constexpr int kDim = 4;

// Stands in for gRPC's side of a bidi stream: records the pending read and write, and runs
// OnDone inside Finish (gRPC may run it at once, on any thread), so anything the reactor touched
// after Finish would be a use after free.
class FakeStream : public grpc::ServerCallbackReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // A Finish the reactor asked for before it was bound is delivered by the bind, which holds
  // the reactor's stream lock: OnDone follows after it, as gRPC's does.
  explicit FakeStream(ClassifyStreamReactor* reactor) : reactor_(reactor) {
    binding_ = true;
    BindReactor(reactor);
    binding_ = false;
    if (finished()) reactor_->OnDone();
  }
  void Finish(grpc::Status s) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      finish_code_ = s.error_code();
    }
    if (!binding_) reactor_->OnDone();
  }
  void SendInitialMetadata() override {}
  void Read(grpc::ByteBuffer* msg) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(read_, nullptr) << "two reads in flight";
    read_ = msg;
  }
  void Write(const grpc::ByteBuffer* msg, grpc::WriteOptions) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(write_, nullptr) << "two writes in flight";
    write_ = msg;
  }
  void WriteAndFinish(const grpc::ByteBuffer*, grpc::WriteOptions, grpc::Status) override {
    ADD_FAILURE() << "not used";
  }

  // The pending read's target, taken (the reactor gets it back through OnReadDone).
  grpc::ByteBuffer* TakeRead() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(read_, nullptr);
  }
  // The request id of the pending write, or "" when none; the write is taken.
  std::string TakeWrite() {
    std::lock_guard<std::mutex> lock(mu_);
    if (write_ == nullptr) return "";
    v1::ClassifyStreamResponse written;
    EXPECT_TRUE(ParseReceived(*std::exchange(write_, nullptr), &written));
    return written.request_id();
  }
  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  grpc::StatusCode finish_code() {
    std::lock_guard<std::mutex> lock(mu_);
    return finish_code_;
  }

 private:
  grpc::internal::ServerReactor* reactor() override { return reactor_; }
  void CallOnDone() override {}

  ClassifyStreamReactor* const reactor_;
  bool binding_ = false;
  std::mutex mu_;
  grpc::ByteBuffer* read_ = nullptr;
  const grpc::ByteBuffer* write_ = nullptr;
  bool finished_ = false;
  grpc::StatusCode finish_code_ = grpc::StatusCode::UNKNOWN;
};

// Puts a request for `model` into the reactor's read target, encoded as the client sends it.
void Fill(grpc::ByteBuffer* target, const std::string& id, const std::string& model = "m") {
  v1::ClassifyRequest r;
  r.set_request_id(id);
  r.mutable_model()->set_name(model);
  v1::Embedding* e = r.add_embeddings();
  e->set_id(id);
  for (int j = 0; j < kDim; ++j) e->add_values(1.f);
  ASSERT_TRUE(SerializeForSending(r, target).ok());
}

class ClassifyStreamReactorTest : public ::testing::Test {
 protected:
  ClassifyStreamReactorTest() {
    registry_.Reconcile("m", {{1, VersionOnDisk("/repo/m/1")}});
    EXPECT_TRUE(registry_.Get("m", {}).ok());
  }
  ~ClassifyStreamReactorTest() override { registry_.Clear(); }

  // Version 1 of "m" with a FakeModel the test can hold at its gate.
  std::shared_ptr<testing::FakeModel> model_ = std::make_shared<testing::FakeModel>(kDim);
  testing::ModelLoader loader_{model_, kDim};
  ServerMetrics metrics_;
  RegistryObserver registry_observer_;  // quiet: no load events logged
  ModelRegistry registry_{testing::RegistryOptions(), &loader_, &registry_observer_};
  ServingPath path_{&registry_, &metrics_, {100}};
  ClassifyStreams streams_;
};

TEST_F(ClassifyStreamReactorTest, CancelledStreamFinishesOnlyOnceItsRunningRequestsComplete) {
  // Request 1's thread computes (held at the gate) while request 2 queues behind it; the client
  // half-closes and cancels. Finish (and with it OnDone, which deletes the reactor) comes only
  // when the executor completes the last slot, on the executor's thread, while request 1's
  // OnReadDone is still on that thread's stack.
  auto* reactor = streams_.Open(&path_, 8, absl::InfiniteFuture());
  FakeStream stream(reactor);
  model_->CloseGate();
  Fill(stream.TakeRead(), "r1");
  std::thread executor([&] { reactor->OnReadDone(true); });
  model_->WaitEntered(1);
  Fill(stream.TakeRead(), "r2");
  reactor->OnReadDone(true);  // queued behind r1: returns at once
  ASSERT_NE(stream.TakeRead(), nullptr) << "reading goes on while requests run";
  reactor->OnReadDone(false);
  reactor->OnCancel();
  EXPECT_FALSE(stream.finished()) << "finished with requests still running";
  model_->OpenGate();
  executor.join();
  EXPECT_TRUE(stream.finished());
  EXPECT_EQ(stream.finish_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(stream.TakeWrite(), "") << "nothing written to a cancelled stream";
}

TEST_F(ClassifyStreamReactorTest, AnswersInOrderOneWriteInFlightThenFinishes) {
  // r2 completes before r1 (r1 waits at the gate on another thread), yet r1 is written first,
  // and r2 only once r1's write is done; Finish follows the last write after the half-close.
  auto* reactor = streams_.Open(&path_, 8, absl::InfiniteFuture());
  FakeStream stream(reactor);
  model_->CloseGate();
  Fill(stream.TakeRead(), "r1");
  std::thread executor([&] { reactor->OnReadDone(true); });
  model_->WaitEntered(1);
  Fill(stream.TakeRead(), "r2", "no-such-model");  // fails at once, on this thread
  reactor->OnReadDone(true);
  EXPECT_EQ(stream.TakeWrite(), "") << "r2 is done but r1 is not: nothing written yet";
  ASSERT_NE(stream.TakeRead(), nullptr);
  reactor->OnReadDone(false);
  model_->OpenGate();
  executor.join();
  EXPECT_EQ(stream.TakeWrite(), "r1");
  EXPECT_FALSE(stream.finished());
  reactor->OnWriteDone(true);
  EXPECT_EQ(stream.TakeWrite(), "r2");
  EXPECT_FALSE(stream.finished());
  reactor->OnWriteDone(true);
  EXPECT_TRUE(stream.finished());
  EXPECT_EQ(stream.finish_code(), grpc::StatusCode::OK);
}

// Issue 11, 'also seen': on SIGTERM an open stream held the server for its whole grace period,
// whose end then cancelled the messages it was computing. Drained, a stream reads nothing more,
// answers what it has read and ends with UNAVAILABLE, although a read is still pending.
TEST_F(ClassifyStreamReactorTest, DrainAnswersWhatWasReadThenEndsWithUnavailable) {
  auto* reactor = streams_.Open(&path_, 8, absl::InfiniteFuture());
  FakeStream stream(reactor);
  model_->CloseGate();
  Fill(stream.TakeRead(), "r1");
  std::thread executor([&] { reactor->OnReadDone(true); });
  model_->WaitEntered(1);
  ASSERT_NE(stream.TakeRead(), nullptr);  // pending: the client sends nothing more
  streams_.DrainAll();
  EXPECT_FALSE(stream.finished()) << "r1 is still running";
  model_->OpenGate();
  executor.join();
  EXPECT_EQ(stream.TakeWrite(), "r1");
  EXPECT_FALSE(stream.finished());
  reactor->OnWriteDone(true);
  EXPECT_TRUE(stream.finished());
  EXPECT_EQ(stream.finish_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(stream.TakeRead(), nullptr) << "no read after the drain";
}

TEST_F(ClassifyStreamReactorTest, AnIdleStreamAndOneOpenedAfterTheDrainEndAtOnce) {
  auto* idle = streams_.Open(&path_, 8, absl::InfiniteFuture());
  FakeStream idle_stream(idle);
  ASSERT_NE(idle_stream.TakeRead(), nullptr);
  streams_.DrainAll();  // finishes it here, and its OnDone runs inside (as gRPC may)
  EXPECT_TRUE(idle_stream.finished());
  EXPECT_EQ(idle_stream.finish_code(), grpc::StatusCode::UNAVAILABLE);

  auto* late = streams_.Open(&path_, 8, absl::InfiniteFuture());
  FakeStream late_stream(late);
  EXPECT_TRUE(late_stream.finished());
  EXPECT_EQ(late_stream.finish_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(late_stream.TakeRead(), nullptr);
}

}  // namespace
}  // namespace arginator::server
