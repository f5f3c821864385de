// Runs the real arginator-train binary: gen-data, fit (binary and multiclass), a second publish,
// eval, compress, and bad input.
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/model_card.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace arginator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::TempDir;

const std::string kTrain = ARGINATOR_TRAIN_BIN;
const std::string kSource = ARGINATOR_SOURCE_DIR;

class TrainerCliTest : public ::testing::Test {
 protected:
  // No ASSERT in SetUpTestSuite: gtest would report the suite's tests as SKIPPED, which ctest
  // counts as passing (tests/integration/served_models_fixture.h). SetUp checks instead.
  static void SetUpTestSuite() {
    work_ = new TempDir;
    gen_ = new testing::CommandResult(
        RunCommand(kTrain + " gen-data --out " + work_->Join("data") + " --scale 0.05"));
  }
  static void TearDownTestSuite() {
    delete gen_;
    delete work_;
  }
  void SetUp() override {
    ASSERT_EQ(gen_->exit_code, 0) << gen_->output;
    ASSERT_THAT(gen_->output, HasSubstr("SYNTHETIC"));
  }

  static testing::CommandResult Fit(const std::string& config, const std::string& extra = "") {
    return RunCommand(kTrain + " fit --config " + kSource + "/" + config + " data.dir=" +
                      work_->Join("data") + " output.repository=" + work_->Join("models") +
                      " output.report_dir=" + work_->Join("reports") + " " + extra);
  }

  // One epoch of the binary model on the suite's data, published into `repository`.
  static testing::CommandResult FitBinaryInto(const std::string& repository,
                                              const std::string& report_dir) {
    return RunCommand(
        kTrain + " fit --config " + kSource +
        "/configs/train/binary.yaml experiment.epochs=1 publish.min_macro_f1=0 data.dir=" +
        work_->Join("data") + " output.repository=" + repository +
        " output.report_dir=" + report_dir);
  }

  static TempDir* work_;
  static testing::CommandResult* gen_;
};
TempDir* TrainerCliTest::work_ = nullptr;
testing::CommandResult* TrainerCliTest::gen_ = nullptr;

TEST_F(TrainerCliTest, FitPublishesBothModelsWellAboveChanceAndCountsVersions) {
  auto binary = Fit("configs/train/binary.yaml");
  ASSERT_EQ(binary.exit_code, 0) << binary.output;
  EXPECT_THAT(binary.output, HasSubstr("Data report"));
  EXPECT_THAT(binary.output, HasSubstr("epoch  1/5"));
  EXPECT_THAT(binary.output, HasSubstr("samples/s"));
  const std::string v1 = work_->Join("models/betalactamase-binary/1");
  ASSERT_TRUE(fs::exists(v1 + "/model.pt"));
  auto card = ReadModelCard(v1 + "/model.json");
  ASSERT_TRUE(card.ok()) << card.status();
  // Chance on this imbalanced set: F1 of the positive class ~0.2 at best.
  EXPECT_GT(card->metrics["test"]["f1"].get<double>(), 0.75);
  EXPECT_GT(card->metrics["test"]["roc_auc"].get<double>(), 0.95);

  auto multi = Fit("configs/train/multiclass.yaml");
  ASSERT_EQ(multi.exit_code, 0) << multi.output;
  auto class_card = ReadModelCard(work_->Join("models/betalactamase-class/1/model.json"));
  ASSERT_TRUE(class_card.ok()) << class_card.status();
  EXPECT_EQ(class_card->labels.size(), 5u);
  // Chance macro F1 for five classes is ~0.2.
  EXPECT_GT(class_card->metrics["test"]["f1"].get<double>(), 0.7);

  // A second version whatever its score (the publish gate has its own tests).
  auto again = Fit("configs/train/binary.yaml", "model.kind=logreg publish.tolerance=1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("processed cache hit"));
  EXPECT_THAT(again.output, HasSubstr("version 2"));
  auto v2 = ReadModelCard(work_->Join("models/betalactamase-binary/2/model.json"));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->architecture["kind"], "logreg");

  auto eval = RunCommand(kTrain + " eval --model " + v1 + " --data " + work_->Join("data") +
                         " --report " + work_->Join("eval-report"));
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_THAT(eval.output, HasSubstr("Evaluation of betalactamase-binary v1"));
  EXPECT_TRUE(fs::exists(work_->Join("eval-report/roc.png")));
}

TEST_F(TrainerCliTest, UnknownConfigKeyFailsWithTheValidKeys) {
  auto r = Fit("configs/train/binary.yaml", "experiment.learning_rate=0.1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown config key 'experiment.learning_rate'"));
  EXPECT_THAT(r.output, HasSubstr("experiment.lr"));
}

// A tmpfs of `bytes` mounted at a fresh directory: a disk that fills up. Unmounted when done.
class SmallDisk {
 public:
  explicit SmallDisk(size_t bytes) {
    fs::create_directories(dir_.Join("disk"));
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", dir_.Join("disk").c_str(), "tmpfs", 0, options.c_str()) != 0) {
      error_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (error_.empty()) ::umount2(dir_.Join("disk").c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }  // why it could not be mounted
  std::string Join(const std::string& path) const { return dir_.Join("disk/" + path); }

 private:
  TempDir dir_;
  std::string error_;
};

std::vector<std::string> EntriesOf(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  return out;
}

// Issue 23, item 7: with the repository on a full disk the trainer aborted (exit 134, c10::Error
// "unexpected pos" thrown from LibTorch's file writer's destructor) and left its staging
// directory with a partial model.pt.
TEST_F(TrainerCliTest, AFullDiskIsAnErrorNamingThePathAndLeavesNoStaging) {
  SmallDisk disk(512 << 10);  // model.pt of the binary FFNN is ~1.2 MB
  if (!disk.error().empty()) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
  }
  auto r = FitBinaryInto(disk.Join("models"), work_->Join("reports-full"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("model.pt"));
  EXPECT_THAT(r.output, HasSubstr("No space left on device"));
  EXPECT_THAT(EntriesOf(disk.Join("models/betalactamase-binary")), ::testing::IsEmpty());
}

// Issue 23, item 7: with report_dir on a full disk the trainer exited 1 after the version was
// already published (and served), leaving a truncated PNG. Reports are written first now.
TEST_F(TrainerCliTest, AReportThatCannotBeWrittenPublishesNothing) {
  SmallDisk disk(16 << 10);
  if (!disk.error().empty()) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
  }
  TempDir repo;
  auto r = FitBinaryInto(repo.path(), disk.Join("reports"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("No space left on device"));
  EXPECT_THAT(EntriesOf(repo.Join("betalactamase-binary")), ::testing::IsEmpty());
  EXPECT_THAT(EntriesOf(disk.Join("reports/betalactamase-binary")), ::testing::IsEmpty())
      << "a partial report was left";
}

TEST_F(TrainerCliTest, BadDataPublishesNothing) {
  TempDir bad;
  fs::copy(work_->Join("data"), bad.path(), fs::copy_options::recursive);
  std::ofstream(bad.Join("card_class_b_embeddings.h5"), std::ios::trunc) << "garbage";
  auto r = RunCommand(
      kTrain + " fit --config " + kSource + "/configs/train/binary.yaml data.dir=" + bad.path() +
      " output.repository=" + bad.Join("models") + " output.report_dir=" + bad.Join("reports"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("card_class_b_embeddings.h5"));
  EXPECT_FALSE(fs::exists(bad.Join("models")));
}

TEST_F(TrainerCliTest, EvalRefusesAModelWhoseFileDoesNotMatchItsCard) {
  TempDir repo;
  auto fit = FitBinaryInto(repo.path(), repo.Join("reports"));
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  const std::string v1 = repo.Join("betalactamase-binary/1");
  std::ofstream(v1 + "/model.pt", std::ios::app) << "tampered";
  auto r = RunCommand(kTrain + " eval --model " + v1 + " --data " + work_->Join("data"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("does not match"));
}

// Issue 15: `arginator-train compress`. One fp32 version, compressed three ways.
class CompressTest : public TrainerCliTest {
 protected:
  void SetUp() override {
    TrainerCliTest::SetUp();
    auto fit = RunCommand(
        kTrain + " fit --config " + kSource +
        "/configs/train/binary.yaml experiment.epochs=3 data.dir=" + work_->Join("data") +
        " output.repository=" + repo_.path() + " output.report_dir=" + repo_.Join("reports"));
    ASSERT_EQ(fit.exit_code, 0) << fit.output;
  }
  testing::CommandResult Compress(const std::string& args) {
    // This test data is small (about 200 test rows), so F1 moves by whole percent with a few
    // rows: a wide tolerance here; AnF1DropPastTheToleranceIsRefused tests the refusal.
    return RunCommand(kTrain + " compress --model " + repo_.Join("betalactamase-binary/1") + " " +
                      args + " --tolerance 0.5 data.dir=" + work_->Join("data"));
  }
  ModelCard Card(int version) {
    return *ReadModelCard(
        repo_.Join("betalactamase-binary/" + std::to_string(version) + "/model.json"));
  }
  // Python's torch loads model.pt and reproduces its golden probabilities (exit 0), or exits 77
  // when this machine's Python has no torch.
  testing::CommandResult PythonReproducesGolden(int version) {
    const std::string dir = repo_.Join("betalactamase-binary/" + std::to_string(version));
    return RunCommand("/usr/bin/python3 " + kSource + "/tests/integration/reproduce_golden.py " +
                      dir);
  }
  TempDir repo_;
};

TEST_F(CompressTest, Int8PublishesAQuarterSizeVersionThatPythonReproduces) {
  auto r = Compress("--method int8");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Published betalactamase-binary version 2 (int8 of v1)"));
  const ModelCard parent = Card(1), card = Card(2);
  EXPECT_EQ(card.quantization["engine"], "onednn");
  const nlohmann::json& c = card.compression;
  EXPECT_EQ(c["method"], "int8");
  EXPECT_EQ(c["parent"]["version"], 1);
  EXPECT_EQ(c["parent"]["model_sha256"], parent.model_sha256);
  const int64_t before = c["size_bytes"]["before"], after = c["size_bytes"]["after"];
  EXPECT_EQ(before,
            static_cast<int64_t>(fs::file_size(repo_.Join("betalactamase-binary/1/model.pt"))));
  EXPECT_EQ(after,
            static_cast<int64_t>(fs::file_size(repo_.Join("betalactamase-binary/2/model.pt"))));
  EXPECT_LE(after, 0.3 * before);
  for (const char* key : {"parent", "compressed", "difference"}) {
    EXPECT_TRUE(c["test_metrics"].contains(key)) << key;
  }
  EXPECT_NEAR(c["test_metrics"]["difference"]["macro_f1"].get<double>(),
              c["macro_f1"]["compressed"].get<double>() - c["macro_f1"]["parent"].get<double>(),
              1e-9);
  // The parent's golden inputs, the int8 model's own outputs for them.
  ASSERT_EQ(card.golden.size(), parent.golden.size());
  EXPECT_EQ(card.golden[0].input, parent.golden[0].input);
  EXPECT_NE(card.golden[0].probabilities, parent.golden[0].probabilities);
  auto py = PythonReproducesGolden(2);
  if (py.exit_code != 77) {
    EXPECT_EQ(py.exit_code, 0) << py.output;
  }
}

TEST_F(CompressTest, PruneHalvesTheHiddenLayersAndFineTunes) {
  auto r = Compress("--method prune --prune.fraction 0.5 --prune.finetune_epochs 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[256, 128] -> [128, 64]"));
  EXPECT_THAT(r.output, HasSubstr("epoch  2/2"));
  const ModelCard card = Card(2);
  EXPECT_EQ(card.architecture["layers"], nlohmann::json::array({1024, 128, 64, 2}));
  EXPECT_TRUE(card.quantization.is_null());
  EXPECT_EQ(card.compression["settings"]["hidden_after"], nlohmann::json::array({128, 64}));
  EXPECT_EQ(card.hyperparameters["finetune"]["epochs"], 2);
  auto py = PythonReproducesGolden(2);
  if (py.exit_code != 77) {
    EXPECT_EQ(py.exit_code, 0) << py.output;
  }
}

TEST_F(CompressTest, AnF1DropPastTheToleranceIsRefusedAndNothingPublished) {
  auto r = RunCommand(kTrain + " compress --model " + repo_.Join("betalactamase-binary/1") +
                      " --method prune --prune.fraction 0.99 --prune.finetune_epochs 0 "
                      "--tolerance 0.0001 data.dir=" +
                      work_->Join("data"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("refused: prune lowers test macro F1 from"));
  EXPECT_THAT(r.output, HasSubstr("nothing was published"));
  EXPECT_FALSE(fs::exists(repo_.Join("betalactamase-binary/2")));
}

TEST_F(CompressTest, OtherDataAMissingEngineAndAnInt8ParentAreRefused) {
  TempDir other;
  ASSERT_EQ(
      RunCommand(kTrain + " gen-data --out " + other.path() + " --scale 0.02 --seed 7").exit_code,
      0);
  auto data = RunCommand(kTrain + " compress --model " + repo_.Join("betalactamase-binary/1") +
                         " --method int8 data.dir=" + other.path());
  EXPECT_EQ(data.exit_code, 1) << data.output;
  EXPECT_THAT(data.output, HasSubstr("is not what betalactamase-binary v1 was trained on"));

  auto engine = Compress("--method int8 --engine nosuchengine");
  EXPECT_EQ(engine.exit_code, 1) << engine.output;
  EXPECT_THAT(engine.output, HasSubstr("no quantized engine 'nosuchengine'"));

  ASSERT_EQ(Compress("--method int8").exit_code, 0);
  auto again = RunCommand(kTrain + " compress --model " + repo_.Join("betalactamase-binary/2") +
                          " --method prune data.dir=" + work_->Join("data"));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_THAT(again.output, HasSubstr("is already int8"));

  EXPECT_EQ(RunCommand(kTrain + " compress --model x --method zip").exit_code, 2);
  EXPECT_FALSE(fs::exists(repo_.Join("betalactamase-binary/3")));
}

}  // namespace
}  // namespace arginator

namespace arginator {
namespace {

std::vector<std::string> Versions(const std::string& model_dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(model_dir)) return out;
  for (const auto& e : fs::directory_iterator(model_dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name[0] != '.') out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Issue 25: a model that called every test protein one class was published and then served;
// nothing compared a candidate with the version already served. The gate refuses both (exit 1,
// nothing published), accepts one as good, and --publish-label canary labels the new version
// while stable stays on the old one.
TEST_F(TrainerCliTest, ThePublishGateRefusesUselessAndWorseModelsAndLabelsACanary) {
  TempDir repo;
  const std::string model_dir = repo.Join("models/betalactamase-binary");
  auto fit = [&](const std::string& extra) {
    return RunCommand(kTrain + " fit --config " + kSource + "/configs/train/binary.yaml data.dir=" +
                      work_->Join("data") + " output.repository=" + repo.Join("models") +
                      " output.report_dir=" + repo.Join("reports") + " " + extra);
  };
  // Weight decay this strong leaves only the biases: every protein gets the majority class.
  auto useless = fit("experiment.epochs=1 experiment.weight_decay=50");
  EXPECT_EQ(useless.exit_code, 1) << useless.output;
  EXPECT_THAT(useless.output, HasSubstr("not published: it calls all"));
  EXPECT_THAT(useless.output, HasSubstr("is below publish.min_macro_f1 0.5000"));
  EXPECT_TRUE(Versions(model_dir).empty());

  auto good = fit("experiment.epochs=3");
  ASSERT_EQ(good.exit_code, 0) << good.output;
  EXPECT_THAT(good.output, HasSubstr("Publish gate: test macro F1"));
  ASSERT_EQ(Versions(model_dir), std::vector<std::string>{"1"});

  auto worse = fit("experiment.epochs=1 experiment.lr=0.00002 publish.min_macro_f1=0");
  EXPECT_EQ(worse.exit_code, 1) << worse.output;
  EXPECT_THAT(worse.output, HasSubstr("worse than betalactamase-binary v1's"));
  EXPECT_EQ(Versions(model_dir), std::vector<std::string>{"1"});

  auto canary = RunCommand(
      kTrain + " fit --publish-label canary --config " + kSource +
      "/configs/train/binary.yaml experiment.epochs=3 data.dir=" + work_->Join("data") +
      " output.repository=" + repo.Join("models") + " output.report_dir=" + repo.Join("reports"));
  ASSERT_EQ(canary.exit_code, 0) << canary.output;
  EXPECT_THAT(canary.output, HasSubstr("(betalactamase-binary v1: "));
  EXPECT_EQ(Versions(model_dir), (std::vector<std::string>{"1", "2"}));
  std::ifstream labels(model_dir + "/labels.json");
  const std::string text((std::istreambuf_iterator<char>(labels)), {});
  EXPECT_EQ(nlohmann::json::parse(text), (nlohmann::json{{"canary", 2}, {"stable", 1}}));
}

// Issue 25: eval looked for the seed's file names whatever the model was trained on ("no file
// matches 'card_class_a_embeddings.h5'"), wrote no per-protein calls, and could not tell that the
// evaluated proteins were the training proteins; a missing file exited 1.
TEST_F(TrainerCliTest, EvalReadsTheCardsLayoutWritesPredictionsAndWarnsOfOverlap) {
  TempDir own;
  const std::pair<const char*, const char*> renamed[] = {
      {"card_class_a_embeddings.h5", "A.h5"},
      {"card_class_b_embeddings.h5", "B.h5"},
      {"card_class_c_embeddings.h5", "C.h5"},
      {"card_class_d_embeddings.h5", "D.h5"},
      {"non_betalactamase_embeddings_60k.h5", "none.h5"}};
  for (const auto& [from, to] : renamed) fs::copy_file(work_->Join("data/") + from, own.Join(to));
  auto fit =
      RunCommand(kTrain + " fit --config " + kSource +
                 "/configs/train/binary.yaml experiment.epochs=1 publish.min_macro_f1=0 "
                 "'data.classes={class_A: A.h5, class_B: B.h5, class_C: C.h5, class_D: D.h5, "
                 "non_betalactamase: none.h5}' data.dir=" +
                 own.path() + " output.repository=" + own.Join("models") +
                 " output.report_dir=" + own.Join("reports"));
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  const std::string v1 = own.Join("models/betalactamase-binary/1");
  EXPECT_TRUE(fs::exists(v1 + "/split.tsv"));
  auto eval = RunCommand(kTrain + " eval --model " + v1 + " --data " + own.path() +
                         " --predictions " + own.Join("predictions.csv"));
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_THAT(eval.output,
              HasSubstr("evaluated proteins were in betalactamase-binary v1's training split"));
  std::ifstream csv(own.Join("predictions.csv"));
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "id,truth,call,prob_non_betalactamase,prob_betalactamase");
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_THAT(eval.output, HasSubstr(", " + std::to_string(rows) + " embeddings"));  // each one

  fs::remove(own.Join("B.h5"));
  auto missing = RunCommand(kTrain + " eval --model " + v1 + " --data " + own.path());
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("class 'class_B': no file matches 'B.h5'"));
}

}  // namespace
}  // namespace arginator

namespace arginator {
namespace {

// Issue 25: `fit --check-config` said "config ok" with the class files missing, and a missing
// class file exited 1 where the README documents 2 for bad data.
TEST_F(TrainerCliTest, CheckConfigFindsTheDataFilesAndAMissingOneExitsTwo) {
  const std::string config = kSource + "/configs/train/binary.yaml";
  auto ok = RunCommand(kTrain + " fit --check-config --config " + config +
                       " data.dir=" + work_->Join("data"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("its data files exist"));
  auto missing = RunCommand(kTrain + " fit --check-config --config " + config +
                            " data.classes.class_B=absent.h5 data.dir=" + work_->Join("data"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("class 'class_B': no file matches 'absent.h5'"));
  auto fit = RunCommand(kTrain + " fit --config " + config +
                        " data.classes.class_B=absent.h5 data.dir=" + work_->Join("data"));
  EXPECT_EQ(fit.exit_code, 2) << fit.output;
}

}  // namespace
}  // namespace arginator

namespace arginator {
namespace {

// Issue 25: the only labelling was one file per class with exactly the five seed classes. A labels
// table over a bio_embeddings file trains a binary-only model and one with the lab's own label
// set, each card recording its labels and mapping.
TEST_F(TrainerCliTest, ALabelsTableTrainsBinaryOnlyAndCustomLabelSets) {
  TempDir lab;
  auto gen =
      RunCommand(kTrain + " gen-data --layout bio_embeddings --scale 0.02 --out " + lab.path());
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  std::ifstream in(lab.Join("labels.tsv"));
  std::string line, binary = "id\tlabel\n", custom = "id\tlabel\n";
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::string id = line.substr(0, line.find('\t'));
    const std::string cls =
        line.substr(id.size() + 1, line.find('\t', id.size() + 1) - id.size() - 1);
    binary +=
        id + "\t" + (cls == "non_betalactamase" ? "non_betalactamase" : "betalactamase") + "\n";
    // A lab's own set: the beta-lactamases by mechanism, serine (A, C, D) or metallo (B).
    custom += id + "\t" +
              (cls == "class_B"             ? "metallo"
               : cls == "non_betalactamase" ? "none"
                                            : "serine") +
              "\n";
  }
  std::ofstream(lab.Join("binary.tsv")) << binary;
  std::ofstream(lab.Join("custom.tsv")) << custom;
  auto fit = [&](const std::string& task, const std::string& table, const std::string& name) {
    return RunCommand(kTrain + " fit --config " + kSource +
                      "/configs/train/own-data.yaml task=" + task + " data.dir=" + lab.path() +
                      " data.labels=" + table + " experiment.epochs=3 output.name=" + name +
                      " output.repository=" + lab.Join("models") +
                      " output.report_dir=" + lab.Join("reports"));
  };
  auto b = fit("binary", "binary.tsv", "lab-binary");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto binary_card = ReadModelCard(lab.Join("models/lab-binary/1/model.json"));
  ASSERT_TRUE(binary_card.ok()) << binary_card.status();
  EXPECT_EQ(binary_card->labels, (std::vector<std::string>{"non_betalactamase", "betalactamase"}));
  EXPECT_EQ(binary_card->dataset["label_of_class"]["betalactamase"], "betalactamase");
  EXPECT_EQ(binary_card->review["labels"]["from"], "labels table " + lab.Join("binary.tsv"));

  auto c = fit("multiclass", "custom.tsv", "lab-mechanism");
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto custom_card = ReadModelCard(lab.Join("models/lab-mechanism/1/model.json"));
  ASSERT_TRUE(custom_card.ok()) << custom_card.status();
  EXPECT_EQ(custom_card->labels, (std::vector<std::string>{"metallo", "none", "serine"}));
  auto eval = RunCommand(kTrain + " eval --model " + lab.Join("models/lab-mechanism/1") +
                         " --data " + lab.path());
  EXPECT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_THAT(eval.output, HasSubstr("labels from labels table " + lab.Join("custom.tsv")));
}

}  // namespace
}  // namespace arginator
