#include "client/admin_command.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "arginator/v1/classifier.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace arginator::client {
namespace {

constexpr char kTokenEnv[] = "ARGINATOR_ADMIN_TOKEN";

absl::StatusOr<std::string> ReadToken(const std::string& file) {
  std::string token;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read --token-file ", file));
    std::getline(in, token);
  } else if (const char* env = std::getenv(kTokenEnv)) {
    token = env;
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "admin calls need the server's admin token: --token-file FILE or $", kTokenEnv));
  }
  return token;
}

std::string Percent(double p) { return absl::StrFormat("%g%%", p); }

void PrintStatus(const v1::ReleaseStatus& s) {
  std::cout << "model " << s.name() << ": default requests follow '" << s.default_label() << "'";
  if (s.default_version() > 0) std::cout << " (version " << s.default_version() << ")";
  std::cout << "\n";
  std::vector<std::string> labels;
  for (const auto& [label, version] : s.labels())
    labels.push_back(absl::StrCat(label, "=", version));
  std::sort(labels.begin(), labels.end());
  std::cout << "  labels:   " << (labels.empty() ? "none" : absl::StrJoin(labels, ", ")) << "\n";
  auto label_of = [&](const char* l) -> int64_t {
    auto it = s.labels().find(l);
    return it == s.labels().end() ? 0 : it->second;
  };
  if (int64_t c = label_of("canary")) {
    std::cout << "  canary:   version " << c << " takes " << Percent(s.canary_percent())
              << " of default requests\n";
  }
  if (int64_t sh = label_of("shadow")) {
    std::cout << "  shadow:   version " << sh << " runs " << Percent(s.shadow_percent())
              << " of default requests again\n";
  }
  if (int64_t p = label_of("previous")) {
    std::cout << "  previous: version " << p << " (for rollback)"
              << (s.previous_until().empty() ? "" : " until " + s.previous_until()) << "\n";
  }
  std::cout << "  versions:";
  for (const auto& v : s.versions()) {
    std::cout << " " << v.version() << " " << v1::VersionStatus::State_Name(v.state());
    if (v.version_labels_size() > 0) {
      std::cout << " [" << absl::StrJoin(v.version_labels(), ",") << "]";
    }
    std::cout << ";";
  }
  std::cout << "\n";
  if (s.has_shadow()) {
    const v1::ShadowReport& r = s.shadow();
    std::cout << absl::StrFormat(
        "  shadow report: version %d against %d: %d embeddings, %d agree (%.2f%%), %d dropped, "
        "probability drift mean %.4f max %.4f\n",
        r.shadow_version(), r.primary_version(), r.rows(), r.agreements(),
        r.rows() > 0 ? 100.0 * static_cast<double>(r.agreements()) / static_cast<double>(r.rows())
                     : 0.0,
        r.dropped(), r.mean_probability_drift(), r.max_probability_drift());
    for (const auto& f : r.flips()) {
      std::cout << "    " << f.from() << " -> " << f.to() << ": " << f.count() << "\n";
    }
  }
}

}  // namespace

void AdminCommand::Add(CLI::App& app, const std::function<void(CLI::App*)>& add_common) {
  admin_ = app.add_subcommand(
      "admin", "manage the server's models: load, labels, canary, shadow, promote, rollback");
  admin_->require_subcommand(1);
  auto common = [&](CLI::App* cmd, bool needs_model = true) {
    add_common(cmd);
    cmd->add_option("--token-file", token_file,
                    std::string("file holding the admin token (else $") + kTokenEnv + ")");
    cmd->add_flag("--json", json, "print the server's answer as JSON");
    auto* m = cmd->add_option("--model", model, "model name");
    if (needs_model) m->required();
  };
  auto* status = admin_->add_subcommand("status", "versions, states, labels, canary, shadow");
  common(status, /*needs_model=*/false);
  auto* load = admin_->add_subcommand("load", "load a version (and keep it loaded)");
  common(load);
  load->add_option("--version", version, "version")->required();
  auto* unload = admin_->add_subcommand("unload", "unload a version");
  common(unload);
  unload->add_option("--version", version, "version")->required();
  auto* label_cmd = admin_->add_subcommand("label", "point a version label at a version");
  label_cmd->require_subcommand(1);
  auto* label_set = label_cmd->add_subcommand("set", "label -> version");
  common(label_set);
  label_set->add_option("--label", label, "label")->required();
  label_set->add_option("--version", version, "version")->required();
  auto* label_clear = label_cmd->add_subcommand("clear", "remove a label");
  common(label_clear);
  label_clear->add_option("--label", label, "label")->required();
  auto* canary = admin_->add_subcommand("canary", "the canary version and its share");
  canary->require_subcommand(1);
  auto* canary_set = canary->add_subcommand(
      "set", "the canary takes --weight percent of default requests (--version: which one)");
  common(canary_set);
  canary_set->add_option("--version", version, "the canary version (default: the current one)");
  canary_set->add_option("--weight", percent, "percent of default requests, 0-100")
      ->required()
      ->check(CLI::Range(0.0, 100.0));
  auto* shadow = admin_->add_subcommand("shadow", "run default requests again on a candidate");
  shadow->require_subcommand(1);
  auto* shadow_set = shadow->add_subcommand("set", "shadow default requests with --version");
  common(shadow_set);
  shadow_set->add_option("--version", version, "the shadow version")->required();
  shadow_set->add_option("--percent", percent, "percent of default requests shadowed (100)")
      ->check(CLI::Range(0.0, 100.0));
  auto* shadow_clear = shadow->add_subcommand("clear", "stop shadowing");
  common(shadow_clear);
  auto* shadow_report = shadow->add_subcommand("report", "how the shadow's calls compare");
  common(shadow_report);
  auto* promote = admin_->add_subcommand(
      "promote", "stable -> the canary's version; the old one kept as 'previous'");
  common(promote);
  auto* rollback = admin_->add_subcommand(
      "rollback", "stable -> 'previous' after a promote; withdraws a canary before one");
  common(rollback);
  auto* default_label = admin_->add_subcommand(
      "default-label", "the label default requests follow (\"\" = the config's, else stable)");
  common(default_label);
  default_label->add_option("--label", label, "label")->required();
  auto* rescan = admin_->add_subcommand("rescan", "scan the model repository now");
  common(rescan, /*needs_model=*/false);
}

int AdminCommand::Run(ArginatorClient& client) const {
  absl::StatusOr<std::string> token = ReadToken(token_file);
  if (!token.ok()) {
    std::cerr << "arginator-client: error: " << token.status().message() << std::endl;
    return 2;
  }
  auto stub = v1::ModelAdmin::NewStub(client.channel());
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + *token);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::AdminResponse response;
  grpc::Status status;
  // Never retried: a promote sent twice would promote twice.
  const CLI::App* sub = admin_->get_subcommands().front();
  const std::string name = sub->get_name();
  const CLI::App* leaf = sub->get_subcommands().empty() ? sub : sub->get_subcommands().front();
  const std::string verb = leaf == sub ? name : name + " " + leaf->get_name();
  bool report = false;
  if (verb == "status" || verb == "shadow report") {
    v1::ReleaseStatusRequest r;
    r.set_name(model);
    status = stub->ReleaseStatus(&context, r, &response);
    report = verb == "shadow report";
  } else if (verb == "load" || verb == "unload") {
    v1::LoadVersionRequest r;
    r.set_name(model);
    r.set_version(version);
    if (verb == "load") {
      status = stub->LoadVersion(&context, r, &response);
    } else {
      v1::UnloadVersionRequest u;
      u.set_name(model);
      u.set_version(version);
      status = stub->UnloadVersion(&context, u, &response);
    }
  } else if (verb == "label set" || verb == "label clear") {
    v1::SetVersionLabelRequest r;
    r.set_name(model);
    r.set_label(label);
    r.set_version(verb == "label set" ? version : 0);
    status = stub->SetVersionLabel(&context, r, &response);
  } else if (verb == "canary set") {
    v1::SetCanaryRequest r;
    r.set_name(model);
    r.set_version(version);
    r.set_percent(percent);
    status = stub->SetCanary(&context, r, &response);
  } else if (verb == "shadow set" || verb == "shadow clear") {
    v1::SetShadowRequest r;
    r.set_name(model);
    r.set_version(verb == "shadow set" ? version : 0);
    r.set_percent(percent < 0 ? 100 : percent);
    status = stub->SetShadow(&context, r, &response);
  } else if (verb == "promote") {
    v1::PromoteRequest r;
    r.set_name(model);
    status = stub->Promote(&context, r, &response);
  } else if (verb == "rollback") {
    v1::RollbackRequest r;
    r.set_name(model);
    status = stub->Rollback(&context, r, &response);
  } else if (verb == "default-label") {
    v1::SetDefaultLabelRequest r;
    r.set_name(model);
    r.set_label(label);
    status = stub->SetDefaultLabel(&context, r, &response);
  } else {
    status = stub->Rescan(&context, v1::RescanRequest(), &response);
  }
  if (!status.ok()) {
    const absl::Status s = FromGrpcStatus(status);
    std::cerr << "arginator-client: error: " << s.message() << std::endl;
    const absl::StatusCode code = s.code();
    return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ||
                   code == absl::StatusCode::kOutOfRange ||
                   code == absl::StatusCode::kFailedPrecondition ||
                   code == absl::StatusCode::kUnauthenticated
               ? 2
               : 1;
  }
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(response, &text, options);
    std::cout << text << "\n";
    return 0;
  }
  if (verb != "status") std::cout << response.message() << "\n";
  for (const v1::ReleaseStatus& s : response.status()) {
    if (report && !s.has_shadow()) {
      std::cout << "model " << s.name() << ": no shadow has run\n";
      continue;
    }
    PrintStatus(s);
  }
  return 0;
}

}  // namespace arginator::client
