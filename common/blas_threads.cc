#include "common/blas_threads.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace arginator {

std::string BlasInfo::LogSuffix() const {
  if (name.empty()) return "";
  return absl::StrCat(", ", name, " ", threads,
                      core.empty() ? "" : absl::StrCat(" (", core, " kernels)"));
}

BlasInfo SetBlasThreads(int threads) {
  using SetFn = void (*)(int);
  using GetFn = int (*)();
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set == nullptr || get == nullptr) return {};
  if (threads > 0) set(threads);
  using CoreFn = char* (*)();
  auto core = reinterpret_cast<CoreFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* core_name = core != nullptr ? core() : nullptr;
  return {"OpenBLAS", get(), core_name != nullptr ? core_name : ""};
}

}  // namespace arginator
