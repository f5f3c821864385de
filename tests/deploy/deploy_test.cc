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
#include "server/serving/served_request.h"
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
  testing::TempDir dir;
  const std::string config_path = dir.Join("server.yaml");
  std::ofstream(config_path) << server_yaml;
  auto config = server::LoadServerConfig(config_path, {"models.repository=/models"});
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
  EXPECT_EQ(ports["http"], config->rest_port);
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
  EXPECT_THAT(rules.output, HasSubstr("9 rules found"));
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
  m.RecordRequest("m", 1, server::RequestMethod::kClassify, "NOT_FOUND", 0.001);
  auto b = m.ForVersion("m", 1, {"a", "b"});
  const std::vector<int64_t> counts = {1, 0};
  const std::vector<float> norms = {6.0f};
  b->OnServed({server::RequestMethod::kClassify, 0.001, counts, norms, 1});
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
                                std::to_string(config->rest_port) + " " +
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
        if (!server) {
          // The trainer's --check-config also finds its data files (issue 25): the data volume
          // (a claim, not a ConfigMap) holds a small synthetic set here.
          const std::string data = root.Join("data-volume");
          ASSERT_EQ(
              RunCommand(std::string(ARGINATOR_TRAIN_BIN) + " gen-data --scale 0.02 --out " + data)
                  .exit_code,
              0);
          paths.emplace_back("/data", data);
        }
        std::string command = server ? ARGINATOR_SERVER_BIN : ARGINATOR_TRAIN_BIN;
        for (size_t i = 1; i < argv.size(); ++i) {
          std::string arg = argv[i];
          // A path, or a key=path override.
          const size_t value_at = arg.rfind('/', 0) == 0 ? 0 : arg.find('=') + 1;
          for (const auto& [inside, here] : paths) {
            if (value_at <= arg.size() && arg.compare(value_at, inside.size(), inside) == 0 &&
                (arg.size() == value_at + inside.size() || arg[value_at + inside.size()] == '/')) {
              arg = arg.substr(0, value_at) + here + arg.substr(value_at + inside.size());
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

// The project version of CMakeLists.txt.
std::string ProjectVersion() {
  std::smatch m;
  const std::string cmake = ReadText(kSource + "/CMakeLists.txt");
  EXPECT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(arginator VERSION (\S+))")));
  return m.size() > 1 ? m[1].str() : "";
}

// Every label selector of a rendered object (workload, Service, PDB, NetworkPolicy's own pods,
// topology spread, ServiceMonitor), as the labels it requires.
std::vector<std::map<std::string, std::string>> Selectors(const YAML::Node& object) {
  std::vector<std::map<std::string, std::string>> out;
  const std::string kind = object["kind"].as<std::string>();
  const YAML::Node spec = object["spec"];
  auto add = [&](const YAML::Node& labels) {
    if (labels) out.push_back(labels.as<std::map<std::string, std::string>>());
  };
  if (kind == "Service") add(spec["selector"]);
  if (kind == "Deployment" || kind == "PodDisruptionBudget" || kind == "ServiceMonitor") {
    add(spec["selector"]["matchLabels"]);
  }
  if (kind == "NetworkPolicy") add(spec["podSelector"]["matchLabels"]);
  if (kind == "Deployment") {
    for (const YAML::Node& c : spec["template"]["spec"]["topologySpreadConstraints"]) {
      add(c["labelSelector"]["matchLabels"]);
    }
  }
  return out;
}

bool Selects(const std::map<std::string, std::string>& selector,
             const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

// Issue 12: every object carries the recommended app.kubernetes.io labels; selectors use name
// and instance (so two installs in a namespace stay apart), never version, part-of or
// managed-by (a Deployment's selector is immutable, and the version changes every release).
TEST_F(KubernetesTest, EveryObjectCarriesTheRecommendedLabels) {
  const std::string version = ProjectVersion();
  int selectors = 0;
  for (const char* dir : {"k8s/overlays/cpu", "k8s/overlays/gpu", "k8s/jobs/train"}) {
    for (const YAML::Node& object : Render(dir)) {
      const std::string what = std::string(dir) + " " + object["kind"].as<std::string>() + " " +
                               object["metadata"]["name"].as<std::string>();
      const YAML::Node labels = object["metadata"]["labels"];
      for (const char* key :
           {"name", "instance", "version", "component", "part-of", "managed-by"}) {
        EXPECT_TRUE(labels[std::string("app.kubernetes.io/") + key]) << what << ": " << key;
      }
      if (labels["app.kubernetes.io/version"]) {
        EXPECT_EQ(labels["app.kubernetes.io/version"].as<std::string>(), version) << what;
      }
      if (object["spec"] && object["spec"]["template"]) {  // the pods carry them too
        const YAML::Node pod = object["spec"]["template"]["metadata"]["labels"];
        EXPECT_EQ(pod["app.kubernetes.io/instance"].as<std::string>(),
                  labels["app.kubernetes.io/instance"].as<std::string>())
            << what;
        EXPECT_TRUE(pod["app.kubernetes.io/version"]) << what;
      }
      for (const auto& selector : Selectors(object)) {
        ++selectors;
        EXPECT_TRUE(selector.count("app.kubernetes.io/name")) << what;
        EXPECT_TRUE(selector.count("app.kubernetes.io/instance")) << what;
        for (const char* key : {"version", "part-of", "managed-by", "component"}) {
          EXPECT_FALSE(selector.count(std::string("app.kubernetes.io/") + key)) << what << key;
        }
      }
    }
  }
  EXPECT_EQ(selectors, 2 * 7);  // per overlay: Deployment, spread, 2 Services, PDB, NP, SM
}

// Issue 12: a second install in the same namespace (an overlay over cpu with its own instance
// and a namePrefix, as docs/operations.md says) shares no object name and no selector of one
// install selects the other's pods, while the NetworkPolicy still admits every labelled client.
TEST_F(KubernetesTest, TwoInstallsInOneNamespaceSelectOnlyTheirOwnPods) {
  testing::TempDir dir;
  std::ofstream(dir.Join("kustomization.yaml"))
      << "resources: ["  // kustomize takes relative paths only
      << std::filesystem::relative(kSource + "/k8s/overlays/cpu", dir.path()).string() << "]\n"
      << "namePrefix: canary-\n"
      << "labels:\n"
      << "  - pairs: {app.kubernetes.io/instance: arginator-canary}\n"
      << "    includeSelectors: true\n";
  auto canary = RunCommand("kubectl kustomize " + dir.path());
  ASSERT_EQ(canary.exit_code, 0) << canary.output;
  const std::vector<YAML::Node> installs[2] = {Render("k8s/overlays/cpu"),
                                               YAML::LoadAll(canary.output)};
  auto pod_labels = [](const std::vector<YAML::Node>& objects) {
    return Find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
        .as<std::map<std::string, std::string>>();
  };
  std::set<std::string> names;
  for (const auto& objects : installs) {
    for (const YAML::Node& object : objects) {
      EXPECT_TRUE(names
                      .insert(object["kind"].as<std::string>() + "/" +
                              object["metadata"]["name"].as<std::string>())
                      .second)
          << "both installs make " << object["kind"] << " " << object["metadata"]["name"];
    }
  }
  for (int self = 0; self < 2; ++self) {
    const auto own = pod_labels(installs[self]);
    const auto other = pod_labels(installs[1 - self]);
    int checked = 0;
    for (const YAML::Node& object : installs[self]) {
      for (const auto& selector : Selectors(object)) {
        EXPECT_TRUE(Selects(selector, own)) << object["kind"] << " misses its own pods";
        EXPECT_FALSE(Selects(selector, other)) << object["kind"] << " selects the other install";
        ++checked;
      }
    }
    EXPECT_EQ(checked, 7);
    // Clients are chosen by their own label only, whichever install they call.
    const YAML::Node from =
        Find(installs[self], "NetworkPolicy")["spec"]["ingress"][0]["from"][0]["podSelector"];
    EXPECT_FALSE(from["matchLabels"]) << "kustomize added labels to the client selector";
    EXPECT_EQ(from["matchExpressions"][0]["key"].as<std::string>(), "arginator.io/client");
  }
}

// Issue 12: the gpu overlay scales on a serving signal, the batch queue per pod, which
// prometheus-adapter serves from a metric the server exports; CPU stays as the second signal.
TEST_F(KubernetesTest, GpuOverlayScalesOnTheBatchQueue) {
  const YAML::Node hpa = Find(Render("k8s/overlays/gpu"), "HorizontalPodAutoscaler");
  std::string pods_metric;
  bool cpu = false;
  for (const YAML::Node& metric : hpa["spec"]["metrics"]) {
    if (metric["type"].as<std::string>() == "Pods") {
      pods_metric = metric["pods"]["metric"]["name"].as<std::string>();
      EXPECT_EQ(metric["pods"]["target"]["type"].as<std::string>(), "AverageValue");
    }
    cpu |= metric["type"].as<std::string>() == "Resource";
  }
  EXPECT_TRUE(cpu);
  ASSERT_FALSE(pods_metric.empty()) << "the gpu HPA has no per-pod serving metric";
  const YAML::Node adapter = YAML::LoadFile(kSource + "/configs/prometheus/adapter.yaml");
  const std::set<std::string> exported = ExportedMetrics();
  bool served = false;
  for (const YAML::Node& rule : adapter["rules"]) {
    if (rule["name"]["as"].as<std::string>() != pods_metric) continue;
    served = true;
    for (const auto& name : QueriedMetrics(rule["seriesQuery"].as<std::string>())) {
      EXPECT_THAT(exported, Contains(name)) << "adapter.yaml queries " << name;
    }
    EXPECT_TRUE(rule["resources"]["overrides"]["pod"]) << "the metric must be per pod";
  }
  EXPECT_TRUE(served) << "no prometheus-adapter rule serves " << pods_metric;
  // The cpu overlay keeps the base's CPU-only HPA.
  EXPECT_EQ(Find(Render("k8s/overlays/cpu"), "HorizontalPodAutoscaler")["spec"]["metrics"].size(),
            1u);
}

// Issue 12: both images compile in one build stage, written identically in both Dockerfiles, so
// a builder's layer cache compiles once; it installs compile packages only (no test tools).
TEST(DockerfilesTest, BothImagesShareOneBuildStage) {
  std::string stages[2];
  int i = 0;
  for (const char* file : {"server.Dockerfile", "trainer.Dockerfile"}) {
    const std::string text = ReadText(kSource + "/dockerfiles/" + file);
    const size_t begin = text.find("FROM debian:bookworm-slim AS build");
    const size_t end = text.find("FROM debian:bookworm-slim AS runtime");
    ASSERT_NE(begin, std::string::npos) << file;
    ASSERT_NE(end, std::string::npos) << file;
    stages[i++] = text.substr(begin, end - begin);
  }
  EXPECT_EQ(stages[0], stages[1]) << "the build stages differ, so each image compiles on its own";
  EXPECT_THAT(stages[0], HasSubstr("install-deps.sh --image-build"));
  EXPECT_THAT(stages[0], HasSubstr("--target arginator-server arginator-client arginator-train"));
  // Dependencies before sources: a code change must not invalidate the package layer.
  EXPECT_LT(stages[0].find("install-deps.sh --image-build"), stages[0].find("COPY . ."));
}

// Issue 12: reproducible tags. The images' version label, the overlays' and the Job's image tags
// are the project version of CMakeLists.txt, and the server image has a health check.
TEST(DockerfilesTest, ImagesAndTagsCarryTheProjectVersion) {
  const std::string version = ProjectVersion();
  ASSERT_FALSE(version.empty());
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
    // A library behind Debian's alternatives (libblas.so.3, liblapack.so.3: OpenBLAS) belongs
    // to no package by its own name: the file it resolves to does.
    const std::string arch = multiarch.substr(0, multiarch.find('\n'));
    auto owner = RunCommand("dpkg -S \"$(readlink -f /usr/lib/" + arch + "/" + lib +
                            ")\" 2>/dev/null || dpkg -S '*/" + arch + "/" + lib +
                            "' | head -1 | cut -d: -f1");
    owner.output = owner.output.substr(0, owner.output.find(':'));
    std::string package = owner.output.substr(0, owner.output.find('\n'));
    EXPECT_TRUE(packages.count(package) || in_every_image.count(package))
        << "the binaries link " << lib << " from " << package
        << ", which RUNTIME_PACKAGES in scripts/install-deps.sh does not install";
  }
}

}  // namespace
}  // namespace arginator
