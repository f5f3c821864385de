#include "server/registry/load_pool.h"

namespace arginator::server {

LoadPool::LoadPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

LoadPool::~LoadPool() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  for (std::thread& t : threads_) t.join();
}

void LoadPool::Submit(std::function<void()> task) {
  if (threads_.empty()) {
    task();
    return;
  }
  {
    MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.Signal();
}

void LoadPool::Run() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!stopping_ && tasks_.empty()) cv_.Wait(&mu_);
    if (tasks_.empty()) return;  // stopping, and every task ran
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.Unlock();
    task();
    lock.Lock();
  }
}

}  // namespace arginator::server
