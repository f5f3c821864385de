// The installed client package (docs/clients.md, "From another C++ service"): a client-only
// configure needs neither LibTorch, prometheus-cpp nor cairo, and the example of docs/clients.md,
// built against `cmake --install --component client` with find_package(Arginator) and with
// pkg-config, classifies on a freshly started server. The example and its CMakeLists.txt are read
// from the doc, so what a reader copies is what this test builds.
#include <cctype>
#include <filesystem>
#include <fstream>

#include "common/embedding_files.h"
#include "common/file_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/served_models_fixture.h"

namespace arginator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::kClass;
using testing::kSource;
using ::testing::Not;
using testing::RunCommand;
using testing::TempDir;

const std::string kBuildDir = ARGINATOR_BINARY_DIR;  // the build whose package is installed
const std::string kCmake = ARGINATOR_CMAKE_COMMAND;
const std::string kGenerator = ARGINATOR_CMAKE_GENERATOR;
const std::string kCc = ARGINATOR_C_COMPILER;
const std::string kCxx = ARGINATOR_CXX_COMPILER;
const std::string kLibDir = ARGINATOR_INSTALL_LIBDIR;  // relative to the prefix

// The fenced block that follows `<!-- package-test: NAME -->` in docs/clients.md, or "".
std::string DocBlock(const std::string& name) {
  auto doc = ReadFileToString(kSource + "/docs/clients.md");
  if (!doc.ok()) return "";
  const size_t marker = doc->find("<!-- package-test: " + name + " -->");
  if (marker == std::string::npos) return "";
  const size_t fence = doc->find("```", marker);
  const size_t begin = doc->find('\n', fence);
  const size_t end = doc->find("\n```", begin);
  if (fence == std::string::npos || begin == std::string::npos || end == std::string::npos) {
    return "";
  }
  return doc->substr(begin + 1, end - begin);
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string Configure(const std::string& source, const std::string& build) {
  return kCmake + " -S " + source + " -B " + build + " -G '" + kGenerator +
         "' -DCMAKE_C_COMPILER=" + kCc + " -DCMAKE_CXX_COMPILER=" + kCxx;
}

TEST(ClientOnlyBuildTest, ConfiguresWithoutLibTorchPrometheusOrCairo) {
  TempDir build;
  // A REQUIRED find_package of a disabled package is a configure error, so this fails as soon as
  // a client-only configure looks for LibTorch or prometheus-cpp.
  auto r = RunCommand(Configure(kSource, build.path()) +
                      " -DARGINATOR_BUILD_SERVER=OFF -DARGINATOR_BUILD_TRAINER=OFF"
                      " -DARGINATOR_BUILD_TESTS=OFF -DARGINATOR_BUILD_BENCH=OFF"
                      " -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON"
                      " -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto cache = ReadFileToString(build.Join("CMakeCache.txt"));
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_THAT(*cache, Not(HasSubstr("CAIRO_FOUND")));  // pkg_check_modules(CAIRO) never ran
  EXPECT_TRUE(fs::exists(build.Join("client/package/cmake_install.cmake")));
  EXPECT_FALSE(fs::exists(build.Join("server")));
  EXPECT_FALSE(fs::exists(build.Join("trainer")));
}

// The main build's client component, installed into a fresh prefix once per test process.
class InstalledClientTest : public testing::ServedModelsTest {
 protected:
  static void SetUpTestSuite() {
    ServedModelsTest::SetUpTestSuite();
    prefix_ = new TempDir;
    install_ = RunCommand(kCmake + " --install " + kBuildDir + " --component client --prefix " +
                          prefix_->path());
  }
  static void TearDownTestSuite() {
    delete prefix_;
    ServedModelsTest::TearDownTestSuite();
  }

  // The example's main.cc in work_/consumer, and the golden embeddings of the multiclass model
  // as the CSV file it screens.
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServedModelsTest::SetUp());
    ASSERT_EQ(install_.exit_code, 0) << install_.output;
    const std::string main_cc = DocBlock("main.cc");
    ASSERT_NE(main_cc, "") << "no <!-- package-test: main.cc --> block in docs/clients.md";
    fs::create_directories(work_.Join("consumer"));
    std::ofstream(work_.Join("consumer/main.cc")) << main_cc;
    EmbeddingMatrix golden;
    for (const auto& g : Card(kClass, 1).golden) {
      golden.ids.push_back(g.id);
      golden.values.insert(golden.values.end(), g.input.begin(), g.input.end());
    }
    golden_rows_ = golden.rows();
    ASSERT_TRUE(WriteEmbeddingsCsv(work_.Join("embeddings.csv"), golden).ok());
  }

  // Runs the built example (`env` before it) against a fresh server: no ModelAdmin call was
  // made, so no version label exists and only the default version or a number can select.
  void ExpectScreensOnAFreshServer(const std::string& env, const std::string& binary) {
    ASSERT_NO_FATAL_FAILURE(StartServer());
    auto run = RunCommand(env + " ARGINATOR_TARGET=" + server_->target() + " " + binary + " " +
                          work_.Join("embeddings.csv"));
    ASSERT_EQ(run.exit_code, 0) << run.output << "\nserver log:\n" << server_->Log();
    EXPECT_THAT(run.output, HasSubstr("id\tlabel\tscore\n"));
    EXPECT_THAT(run.output, HasSubstr("screened " + std::to_string(golden_rows_) +
                                      " embeddings with betalactamase-class version 1: "));
  }

  static inline TempDir* prefix_ = nullptr;
  static inline testing::CommandResult install_;
  size_t golden_rows_ = 0;
};

TEST_F(InstalledClientTest, FindPackageProjectBuildsTheDocsExampleAndItClassifies) {
  const std::string cmakelists = DocBlock("CMakeLists.txt");
  ASSERT_NE(cmakelists, "") << "no <!-- package-test: CMakeLists.txt --> block in docs/clients.md";
  std::ofstream(work_.Join("consumer/CMakeLists.txt")) << cmakelists;
  const std::string build = work_.Join("consumer-build");
  auto configure = RunCommand(Configure(work_.Join("consumer"), build) +
                              " -DCMAKE_PREFIX_PATH=" + prefix_->path());
  ASSERT_EQ(configure.exit_code, 0) << configure.output;
  // The package found is the one just installed, not one elsewhere on this machine.
  auto cache = ReadFileToString(build + "/CMakeCache.txt");
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_THAT(*cache,
              HasSubstr("Arginator_DIR:PATH=" + prefix_->Join(kLibDir + "/cmake/Arginator\n")));
  auto compile = RunCommand(kCmake + " --build " + build);
  ASSERT_EQ(compile.exit_code, 0) << compile.output;
  ExpectScreensOnAFreshServer("", build + "/screen-proteins");
}

TEST_F(InstalledClientTest, PkgConfigFlagsBuildTheDocsExampleAndItClassifies) {
  const std::string env = "PKG_CONFIG_PATH=" + prefix_->Join(kLibDir + "/pkgconfig");
  // The .pc names the prefix it was installed into (not the one the build was configured with).
  auto libdir = RunCommand(env + " pkg-config --variable=libdir arginator-client");
  ASSERT_EQ(libdir.exit_code, 0) << libdir.output;
  std::error_code ec;
  EXPECT_TRUE(fs::equivalent(Trimmed(libdir.output), prefix_->Join(kLibDir), ec)) << libdir.output;
  auto flags = RunCommand(env + " pkg-config --cflags --libs arginator-client");
  ASSERT_EQ(flags.exit_code, 0) << flags.output;
  EXPECT_THAT(flags.output, HasSubstr("-larginator_client"));
  const std::string binary = work_.Join("screen-proteins");
  auto compile = RunCommand(kCxx + " -std=c++17 " + work_.Join("consumer/main.cc") + " -o " +
                            binary + " " + Trimmed(flags.output));
  ASSERT_EQ(compile.exit_code, 0) << compile.output;
  ExpectScreensOnAFreshServer("LD_LIBRARY_PATH=" + prefix_->Join(kLibDir), binary);
}

}  // namespace
}  // namespace arginator
