// Offline checks of the deployment artefacts: the rendered Kubernetes objects agree with the
// server's configuration, Prometheus accepts the config and rules, and every metric the dashboard
// and alerts query is one the server exports.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/metrics/server_metrics.h"
#include "server/server_config.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "yaml-cpp/yaml.h"

namespace arginator {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::RunCommand;

const std::string kSource = ARGINATOR_SOURCE_DIR;

bool HaveTool(const std::string& tool) { return RunCommand("command -v " + tool).exit_code == 0; }

std::vector<YAML::Node> Render(const std::string& dir) {
  auto r = RunCommand("kubectl kustomize " + kSource + "/" + dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return YAML::LoadAll(r.output);
}

YAML::Node Find(const std::vector<YAML::Node>& objects, const std::string& kind,
                const std::string& name = "") {
  for (const auto& o : objects) {
    if (o["kind"].as<std::string>() == kind &&
        (name.empty() || o["metadata"]["name"].as<std::string>() == name)) {
      return o;
    }
  }
  ADD_FAILURE() << "no " << kind << " " << name;
  return YAML::Node();
}

std::vector<std::string> Args(const YAML::Node& container) {
  return container["args"].as<std::vector<std::string>>();
}

class KubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTool("kubectl")) GTEST_SKIP() << "kubectl is not installed";
  }
};

TEST_F(KubernetesTest, CpuOverlayMatchesTheServerConfig) {
  auto objects = Render("k8s/overlays/cpu");
  YAML::Node deployment = Find(objects, "Deployment", "arginator-server");
  YAML::Node pod = deployment["spec"]["template"];
  YAML::Node c = pod["spec"]["containers"][0];

  // The config the container reads is the ConfigMap's server.yaml, which must load and agree.
  YAML::Node config_map = Find(objects, "ConfigMap");
  std::string server_yaml = config_map["data"]["server.yaml"].as<std::string>();
  std::ofstream("/tmp/arginator-k8s-server.yaml") << server_yaml;
  auto config =
      server::LoadServerConfig("/tmp/arginator-k8s-server.yaml", {"models.repository=/models"});
  ASSERT_TRUE(config.ok()) << config.status();

  EXPECT_THAT(Args(c), ::testing::ElementsAre("--config", "/etc/arginator/server.yaml",
                                              "--model-repository", "/models"));
  bool config_mounted = false, models_mounted = false;
  for (const auto& m : c["volumeMounts"]) {
    config_mounted |= m["mountPath"].as<std::string>() == "/etc/arginator";
    models_mounted |= m["mountPath"].as<std::string>() == "/models" && m["readOnly"].as<bool>();
  }
  EXPECT_TRUE(config_mounted);
  EXPECT_TRUE(models_mounted);
  EXPECT_EQ(config->repository, "/models");

  std::map<std::string, int> ports;
  for (const auto& p : c["ports"])
    ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
  EXPECT_EQ(ports["grpc"], config->port);
  EXPECT_EQ(ports["metrics"], config->metrics_port);
  for (const char* probe : {"startupProbe", "readinessProbe", "livenessProbe"}) {
    EXPECT_EQ(c[probe]["grpc"]["port"].as<int>(), config->port) << probe;
  }
  EXPECT_EQ(c["readinessProbe"]["grpc"]["service"].as<std::string>(), "arginator.v1.Classifier");
  EXPECT_EQ(c["livenessProbe"]["grpc"]["service"].as<std::string>(), "liveness");
  EXPECT_EQ(pod["metadata"]["annotations"]["prometheus.io/port"].as<std::string>(),
            std::to_string(config->metrics_port));

  EXPECT_TRUE(c["resources"]["requests"]["cpu"].IsDefined());
  EXPECT_TRUE(c["resources"]["limits"]["memory"].IsDefined());
  EXPECT_TRUE(pod["spec"]["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  // Termination outlasts preStop plus the server's drain.
  const int grace = pod["spec"]["terminationGracePeriodSeconds"].as<int>();
  EXPECT_GT(grace, 5 + absl::ToInt64Seconds(config->grace_period));

  // The objects operators rely on are all there.
  std::multiset<std::string> kinds;
  for (const auto& o : objects) kinds.insert(o["kind"].as<std::string>());
  for (const char* kind :
       {"Deployment", "ConfigMap", "PersistentVolumeClaim", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"}) {
    EXPECT_EQ(kinds.count(kind), 1u) << kind;
  }
  EXPECT_EQ(kinds.count("Service"), 2u);
  EXPECT_EQ(Find(objects, "Service", "arginator-headless")["spec"]["clusterIP"].as<std::string>(),
            "None");
  EXPECT_EQ(Find(objects, "Service", "arginator")["spec"]["ports"][0]["port"].as<int>(),
            config->port);
  EXPECT_EQ(pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"].as<std::string>(),
            Find(objects, "PersistentVolumeClaim")["metadata"]["name"].as<std::string>());
}

TEST_F(KubernetesTest, GpuOverlayAsksForAGpuAndRunsOnCuda) {
  auto objects = Render("k8s/overlays/gpu");
  YAML::Node pod = Find(objects, "Deployment", "arginator-server")["spec"]["template"]["spec"];
  YAML::Node c = pod["containers"][0];
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"].as<std::string>(), "1");
  auto args = Args(c);
  auto device = std::find(args.begin(), args.end(), "--device");
  ASSERT_NE(device, args.end());
  EXPECT_EQ(*(device + 1), "cuda");
  EXPECT_EQ(pod["tolerations"][0]["key"].as<std::string>(), "nvidia.com/gpu");
  EXPECT_TRUE(pod["nodeSelector"].IsDefined());
  // The probes and the rest of the base survive the patch.
  EXPECT_TRUE(c["readinessProbe"]["grpc"].IsDefined());
}

TEST_F(KubernetesTest, TrainerJobPublishesIntoTheServersRepository) {
  const std::vector<YAML::Node> rendered = Render("k8s/jobs/train");
  auto job = Find(rendered, "Job", "arginator-train");
  YAML::Node pod = job["spec"]["template"]["spec"];
  auto args = Args(pod["containers"][0]);
  EXPECT_EQ(args[0], "fit");
  EXPECT_THAT(args, Contains("output.repository=/models"));
  std::string claim;
  for (const auto& v : pod["volumes"]) {
    if (v["name"].as<std::string>() == "models") {
      claim = v["persistentVolumeClaim"]["claimName"].as<std::string>();
    }
  }
  auto base = Render("k8s/overlays/cpu");
  EXPECT_EQ(claim, Find(base, "PersistentVolumeClaim")["metadata"]["name"].as<std::string>());
  // Issue 12: the reports outlive the pod, on a claim the Job's kustomization makes.
  std::string reports;
  for (const auto& v : pod["volumes"]) {
    if (v["name"].as<std::string>() == "reports" && v["persistentVolumeClaim"]) {
      reports = v["persistentVolumeClaim"]["claimName"].as<std::string>();
    }
  }
  ASSERT_FALSE(reports.empty()) << "the reports volume is not a PersistentVolumeClaim";
  Find(rendered, "PersistentVolumeClaim", reports);
  EXPECT_THAT(args, Contains("output.report_dir=/reports"));
}

TEST(PrometheusConfigTest, PromtoolAcceptsConfigAndRules) {
  if (!HaveTool("promtool")) GTEST_SKIP() << "promtool is not installed";
  auto config =
      RunCommand("promtool check config " + kSource + "/configs/prometheus/prometheus.yml");
  EXPECT_EQ(config.exit_code, 0) << config.output;
  auto rules = RunCommand("promtool check rules " + kSource + "/configs/prometheus/alerts.yml");
  EXPECT_EQ(rules.exit_code, 0) << rules.output;
  EXPECT_THAT(rules.output, HasSubstr("8 rules found"));
}

// Structure and scalar text, whatever the YAML style (flow or block).
nlohmann::json Structure(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& kv : node) j[kv.first.as<std::string>()] = Structure(kv.second);
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : node) j.push_back(Structure(v));
    return j;
  }
  return node.IsScalar() ? nlohmann::json(node.Scalar()) : nlohmann::json(nullptr);
}

TEST(PrometheusConfigTest, OperatorRuleCarriesTheSameGroups) {
  YAML::Node alerts = YAML::LoadFile(kSource + "/configs/prometheus/alerts.yml");
  YAML::Node rule = YAML::LoadFile(kSource + "/k8s/components/monitoring/prometheusrule.yaml");
  EXPECT_EQ(Structure(alerts["groups"]), Structure(rule["spec"]["groups"]))
      << "run scripts/sync-prometheusrule.sh after editing configs/prometheus/alerts.yml";
}

// Every metric family the server exports, read from its own exposition.
std::set<std::string> ExportedMetrics() {
  server::ServerMetrics m;
  m.RecordRequest("m", 1, "Classify", "NOT_FOUND", 0.001);
  auto b = m.ForVersion("m", 1, {"a", "b"});
  b->OnServed(server::RequestMethod::kClassify, 0.001, {1, 0}, {6.0f}, 1);
  b->OnBatch(1, absl::Microseconds(1));
  b->OnQueueWait(absl::Microseconds(1));
  b->OnQueueDepth(0);
  m.OnLoaded("m", 1, absl::Milliseconds(1));
  m.OnLoadFailed("m", 2, absl::InternalError("x"), absl::Milliseconds(1));
  m.OnUnloaded("m", 3);  // another version: unloading removes that version's batcher series
  m.OnStates("m", {{1, server::VersionState::kReady}});
  std::set<std::string> names;
  std::regex type_line("# TYPE (\\w+) ");
  std::string text = m.Render();
  for (std::sregex_iterator it(text.begin(), text.end(), type_line), end; it != end; ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

std::set<std::string> QueriedMetrics(const std::string& text) {
  std::set<std::string> names;
  std::regex metric("arginator_[a-z0-9_]+");
  for (std::sregex_iterator it(text.begin(), text.end(), metric), end; it != end; ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        name.resize(name.size() - s.size());
      }
    }
    names.insert(name);
  }
  return names;
}

TEST(DashboardTest, ParsesAndQueriesOnlyExportedMetrics) {
  std::ifstream in(kSource + "/configs/grafana/arginator-dashboard.json");
  nlohmann::json dashboard = nlohmann::json::parse(in);
  const std::set<std::string> exported = ExportedMetrics();
  std::string queries;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) queries += target["expr"].get<std::string>() + "\n";
  }
  std::set<std::string> queried = QueriedMetrics(queries);
  EXPECT_GE(queried.size(), 9u);  // status rate, latency, batch size, queue, versions, labels, OOD
  for (const auto& name : queried) EXPECT_THAT(exported, Contains(name)) << name;

  std::ifstream rules(kSource + "/configs/prometheus/alerts.yml");
  std::string rules_text((std::istreambuf_iterator<char>(rules)), std::istreambuf_iterator<char>());
  for (const auto& name : QueriedMetrics(rules_text)) {
    EXPECT_THAT(exported, Contains(name)) << "alerts.yml: " << name;
  }
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(DockerfilesTest, MultiStageNonRootWithTheServersPortsAndVolume) {
  auto config = server::LoadServerConfig(kSource + "/configs/server.yaml", {});
  ASSERT_TRUE(config.ok());
  for (const char* file : {"server.Dockerfile", "trainer.Dockerfile"}) {
    const std::string text = ReadText(kSource + "/dockerfiles/" + file);
    EXPECT_THAT(text, HasSubstr("FROM debian:bookworm-slim AS build")) << file;
    EXPECT_THAT(text, HasSubstr("RUN bash scripts/install-deps.sh")) << file;
    EXPECT_THAT(text, HasSubstr("FROM debian:bookworm-slim AS runtime")) << file;
    EXPECT_THAT(text, HasSubstr("install-deps.sh --runtime")) << file;
    EXPECT_THAT(text, HasSubstr("USER 10001")) << file;
    EXPECT_THAT(text, HasSubstr("VOLUME [\"/models\"")) << file;
  }
  const std::string server = ReadText(kSource + "/dockerfiles/server.Dockerfile");
  EXPECT_THAT(server, HasSubstr("EXPOSE " + std::to_string(config->port) + " " +
                                std::to_string(config->metrics_port)));
  EXPECT_THAT(ReadText(kSource + "/.dockerignore"), HasSubstr("build/"));
}

// Issue 12, the conventions a platform engineer checks: the HPA owns the replica count (a
// replicas field would reset it on every apply), pods do not mount a service-account token they
// never use, and every pod's scratch space is bounded (emptyDir sizeLimit, ephemeral-storage
// requests and limits), in every overlay and the trainer Job.
TEST_F(KubernetesTest, ManifestsFollowThePlatformConventions) {
  int pods = 0;
  for (const char* dir : {"k8s/overlays/cpu", "k8s/overlays/gpu", "k8s/jobs/train"}) {
    const std::vector<YAML::Node> objects = Render(dir);
    for (const YAML::Node& object : objects) {
      const std::string kind = object["kind"].as<std::string>();
      if (kind == "HorizontalPodAutoscaler") {
        const YAML::Node target =
            Find(objects, object["spec"]["scaleTargetRef"]["kind"].as<std::string>(),
                 object["spec"]["scaleTargetRef"]["name"].as<std::string>());
        EXPECT_FALSE(target["spec"]["replicas"]) << dir << ": the HPA owns the replica count";
      }
      if (kind != "Deployment" && kind != "Job") continue;
      ++pods;
      const YAML::Node pod = object["spec"]["template"]["spec"];
      ASSERT_TRUE(pod["automountServiceAccountToken"]) << dir << " " << kind;
      EXPECT_FALSE(pod["automountServiceAccountToken"].as<bool>()) << dir << " " << kind;
      for (const YAML::Node& volume : pod["volumes"]) {
        if (volume["emptyDir"]) {
          EXPECT_TRUE(volume["emptyDir"]["sizeLimit"])
              << dir << " " << kind << ": emptyDir " << volume["name"] << " has no sizeLimit";
        }
      }
      for (const YAML::Node& container : pod["containers"]) {
        EXPECT_TRUE(container["resources"]["requests"]["ephemeral-storage"]) << dir << " " << kind;
        EXPECT_TRUE(container["resources"]["limits"]["ephemeral-storage"]) << dir << " " << kind;
      }
    }
  }
  EXPECT_EQ(pods, 3);
}

// Issue 12: the Prometheus Operator's objects are an optional component, so the base applies on
// a cluster without the operator's CRDs; the overlays opt in.
TEST_F(KubernetesTest, OperatorObjectsAreAnOptionalComponent) {
  for (const YAML::Node& object : Render("k8s/base")) {
    EXPECT_EQ(object["apiVersion"].as<std::string>().find("monitoring.coreos.com"),
              std::string::npos)
        << object["kind"] << " in the base needs the Prometheus Operator";
  }
  const std::vector<YAML::Node> cpu = Render("k8s/overlays/cpu");
  Find(cpu, "ServiceMonitor");
  Find(cpu, "PrometheusRule");
}

// A Dockerfile's exec-form ENTRYPOINT or CMD (the last one, continuation lines joined).
std::vector<std::string> DockerfileList(const std::string& text, const std::string& instruction) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line, json;
  bool in = false;
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind(instruction + " ", 0) == 0) {
      in = true;
      json.clear();
      l = l.substr(instruction.size() + 1);
    }
    if (!in) continue;
    const bool more = !l.empty() && l.back() == '\\';
    json += more ? l.substr(0, l.size() - 1) : l;
    if (!more) {
      in = false;
      out = nlohmann::json::parse(json).get<std::vector<std::string>>();
    }
  }
  return out;
}

// Issue 12: the server image's ENTRYPOINT carried --config and --model-repository and the
// Deployment's args passed them again (Kubernetes' args replace CMD, not ENTRYPOINT), so the
// binary got each flag twice and exited: the pods would have crash-looped. Every rendered
// container's exact command line (ENTRYPOINT + args, or CMD) now runs through the binary's own
// parsing (--check-config), with the files the image bakes in and the ConfigMaps the pod mounts
// at their paths.
TEST_F(KubernetesTest, EveryRenderedContainersCommandLineParses) {
  int checked = 0;
  for (const char* dir : {"k8s/overlays/cpu", "k8s/overlays/gpu", "k8s/jobs/train"}) {
    const std::vector<YAML::Node> objects = Render(dir);
    for (const YAML::Node& object : objects) {
      const std::string kind = object["kind"].as<std::string>();
      if (kind != "Deployment" && kind != "Job") continue;
      const YAML::Node pod = object["spec"]["template"]["spec"];
      for (const YAML::Node& container : pod["containers"]) {
        const std::string image = container["image"].as<std::string>();
        const bool server = image.find("server") != std::string::npos;
        const std::string dockerfile =
            ReadText(kSource + "/dockerfiles/" + (server ? "server" : "trainer") + ".Dockerfile");
        testing::TempDir root;
        // Container path -> file here: what the image copies in, then the mounted ConfigMaps.
        std::vector<std::pair<std::string, std::string>> paths;
        std::smatch m;
        const std::regex copy_re(R"(\nCOPY (configs/\S+) (/\S+))");
        for (auto it = dockerfile.cbegin(); std::regex_search(it, dockerfile.cend(), m, copy_re);
             it = m.suffix().first) {
          paths.emplace_back(m[2], kSource + "/" + m[1].str());
        }
        for (const YAML::Node& mount : container["volumeMounts"]) {
          for (const YAML::Node& volume : pod["volumes"]) {
            if (volume["name"].as<std::string>() != mount["name"].as<std::string>() ||
                !volume["configMap"]) {
              continue;
            }
            const YAML::Node map =
                Find(objects, "ConfigMap", volume["configMap"]["name"].as<std::string>());
            const std::string here = root.Join(mount["mountPath"].as<std::string>());
            std::filesystem::create_directories(here);
            for (const auto& entry : map["data"]) {
              std::ofstream(here + "/" + entry.first.as<std::string>())
                  << entry.second.as<std::string>();
            }
            paths.insert(paths.begin(), {mount["mountPath"].as<std::string>(), here});
          }
        }
        std::vector<std::string> argv = container["command"]
                                            ? container["command"].as<std::vector<std::string>>()
                                            : DockerfileList(dockerfile, "ENTRYPOINT");
        const std::vector<std::string> rest =
            container["args"] ? Args(container)
                              : (container["command"] ? std::vector<std::string>{}
                                                      : DockerfileList(dockerfile, "CMD"));
        argv.insert(argv.end(), rest.begin(), rest.end());
        ASSERT_FALSE(argv.empty()) << dir;
        std::string command = server ? ARGINATOR_SERVER_BIN : ARGINATOR_TRAIN_BIN;
        for (size_t i = 1; i < argv.size(); ++i) {
          std::string arg = argv[i];
          for (const auto& [inside, here] : paths) {
            if (arg.rfind(inside, 0) == 0) {
              arg = here + arg.substr(inside.size());
              break;
            }
          }
          command += " '" + arg + "'";
        }
        auto dry = RunCommand(command + " --check-config");
        EXPECT_EQ(dry.exit_code, 0)
            << dir << " " << object["metadata"]["name"] << ": " << command << "\n"
            << dry.output;
        EXPECT_THAT(dry.output, HasSubstr("config ok")) << dir;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 3);  // the Deployment of each overlay and the trainer Job
}

// Issue 12: reproducible tags. The images' version label, the overlays' and the Job's image tags
// are the project version of CMakeLists.txt, and the server image has a health check.
TEST(DockerfilesTest, ImagesAndTagsCarryTheProjectVersion) {
  std::smatch m;
  const std::string cmake = ReadText(kSource + "/CMakeLists.txt");
  ASSERT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(arginator VERSION (\S+))")));
  const std::string version = m[1];
  for (const char* file : {"server.Dockerfile", "trainer.Dockerfile"}) {
    const std::string text = ReadText(kSource + "/dockerfiles/" + file);
    EXPECT_THAT(text, HasSubstr("ARG ARGINATOR_VERSION=" + version + "\n")) << file;
    EXPECT_THAT(text, HasSubstr("org.opencontainers.image.version=\"${ARGINATOR_VERSION}\""))
        << file;
  }
  EXPECT_THAT(ReadText(kSource + "/dockerfiles/server.Dockerfile"), HasSubstr("HEALTHCHECK "));
  for (const char* file :
       {"k8s/overlays/cpu/kustomization.yaml", "k8s/overlays/gpu/kustomization.yaml",
        "k8s/jobs/train/kustomization.yaml"}) {
    const YAML::Node kustomization = YAML::LoadFile(kSource + "/" + file);
    ASSERT_TRUE(kustomization["images"]) << file;
    for (const YAML::Node& image : kustomization["images"]) {
      EXPECT_EQ(image["newTag"].as<std::string>(), version) << file;
    }
  }
}

// The runtime stage installs only RUNTIME_PACKAGES: every shared library the binaries link must
// come from one of them (or from what every Debian image has).
TEST(DockerfilesTest, RuntimePackagesCoverWhatTheBinariesLink) {
  if (RunCommand("command -v objdump && command -v dpkg").exit_code != 0) GTEST_SKIP();
  auto listed = RunCommand("bash -c 'eval \"$(sed -n \"/^RUNTIME_PACKAGES=(/,/^)/p\" " + kSource +
                           "/scripts/install-deps.sh)\"; echo ${RUNTIME_PACKAGES[@]}'");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  std::set<std::string> packages;
  std::istringstream words(listed.output);
  for (std::string w; words >> w;) packages.insert(w);
  EXPECT_THAT(packages, Contains("libtorch1.13"));
  const std::set<std::string> in_every_image = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"};
  const std::string multiarch = RunCommand("gcc -print-multiarch").output;
  auto needed = RunCommand(std::string("objdump -p ") + ARGINATOR_SERVER_BIN + " " +
                           ARGINATOR_TRAIN_BIN + " | awk '/NEEDED/{print $2}' | sort -u");
  std::istringstream libs(needed.output);
  for (std::string lib; libs >> lib;) {
    auto owner = RunCommand("dpkg -S '*/" + multiarch.substr(0, multiarch.find('\n')) + "/" + lib +
                            "' | head -1 | cut -d: -f1");
    std::string package = owner.output.substr(0, owner.output.find('\n'));
    EXPECT_TRUE(packages.count(package) || in_every_image.count(package))
        << "the binaries link " << lib << " from " << package
        << ", which RUNTIME_PACKAGES in scripts/install-deps.sh does not install";
  }
}

}  // namespace
}  // namespace arginator
