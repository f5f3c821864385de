// Bytes -> the layered YAML configuration: a config file plus `key=value` overrides through
// LoadLayeredYaml and ReadKey (common/layered_yaml.h), the server's LoadServerConfig and the
// trainer's LoadTrainConfig. Any exception that escapes them is a crash: they return statuses.
//
// Input layout: byte 0 picks the loader (value % 3: 0 layered YAML with the defaults below,
// 1 server, 2 trainer); the rest splits at NUL bytes into the config file's text, then up to
// eight overrides ("models.latest=2").

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/layered_yaml.h"
#include "server/server_config.h"
#include "tests/fuzz/fuzz_support.h"
#include "trainer/config.h"

namespace {

// Every shape the loader treats differently: scalars, a sequence, nested mappings, and empty
// mappings (free-form: any keys may go under them).
constexpr char kDefaults[] = R"yaml(
name: demo
port: 50051
ratio: 0.5
enabled: true
list: [1, 2]
nested:
  label: stable
  deeper:
    limit: 3
  free: {}
labels: {}
)yaml";

// Reads every default key back with the types the real configs read, as they do.
void ReadEveryKey(const YAML::Node& root) {
  for (const std::string& key : arginator::LeafKeys(YAML::Load(kDefaults))) {
    std::string text;
    int64_t integer;
    double real;
    bool flag;
    std::vector<int64_t> numbers;
    std::map<std::string, std::string> mapping;
    (void)arginator::ReadKey(root, key, text);
    (void)arginator::ReadKey(root, key, integer);
    (void)arginator::ReadKey(root, key, real);
    (void)arginator::ReadKey(root, key, flag);
    (void)arginator::ReadKey(root, key, numbers);
    (void)arginator::ReadKey(root, key, mapping);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const arginator::fuzz::ScratchDir dir;
  if (size < 1) return 0;
  const int loader = data[0] % 3;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string> pieces;
  for (size_t start = 0;;) {
    const size_t end = rest.find('\0', start);
    pieces.push_back(rest.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos || pieces.size() == 9) break;
    start = end + 1;
  }
  const std::string path = dir.Write(
      "config.yaml", reinterpret_cast<const uint8_t*>(pieces[0].data()), pieces[0].size());
  const std::vector<std::string> overrides(pieces.begin() + 1, pieces.end());

  switch (loader) {
    case 0: {
      auto root = arginator::LoadLayeredYaml(kDefaults, path, overrides);
      if (root.ok()) ReadEveryKey(*root);
      break;
    }
    case 1: {
      auto config = arginator::server::LoadServerConfig(path, overrides);
      if (config.ok()) {
        FUZZ_CHECK(config->batching.max_batch_size > 0);
        FUZZ_CHECK(config->max_embeddings_per_request > 0);
      }
      break;
    }
    default: {
      auto config = arginator::trainer::LoadTrainConfig(path, overrides);
      if (config.ok()) FUZZ_CHECK(config->experiment.epochs > 0 && !config->output.name.empty());
      break;
    }
  }
  return 0;
}
