#include "client/loadgen/ghz_command_line.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "client/arginator_client.h"
#include "client/loadgen/request_payloads.h"
#include "common/file_io.h"

namespace arginator::client {

absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& text) {
  absl::Duration d;
  double seconds = 0;
  const std::string go = absl::StrReplaceAll(text, {{"µs", "us"}, {"μs", "us"}});
  if (absl::SimpleAtod(go, &seconds) && std::isfinite(seconds)) {
    d = absl::Seconds(seconds);
  } else if (go == "inf" || !absl::ParseDuration(go, &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a duration (a number with a unit: 500ms, 10s, 1m30s, 2h)"));
  }
  if (d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("duration '", text, "' is negative"));
  }
  return d;
}

namespace {

constexpr char kService[] = "arginator.v1.Classifier";

// What the flags are read into before they become a LoadgenCommand.
struct Flags {
  std::string host, target, call, proto, protoset, import_paths;
  std::string cacert, cert, key, cname, authority, lb_strategy;
  bool skip_tls = false, insecure = false;
  int64_t rps = 0, concurrency = 50, total = 200, connections = 1, cpus = 0, skip_first = 0;
  std::string timeout = "20s", duration = "0", max_duration = "0", duration_stop = "close";
  std::string connect_timeout = "10s", keepalive = "0";
  std::string data, data_file, binary_file, metadata, metadata_file;
  bool binary = false, count_errors = false, compress = false;
  std::string output, format = "summary", name, tags;
  // This tool's own options.
  std::string model, label, input, warmup = "0", write_frame;
  int64_t model_version = 0, batch = 1, threads = 0, evidence = 0;
  bool packed = false, stream = false, details = false, reopen_streams = false;
};

void AddFlags(CLI::App& app, Flags& f) {
  app.add_option("host", f.host, "host:port of the server (ghz's positional argument)");
  // ghz's flags, with ghz's meanings.
  app.add_option("--call", f.call,
                 "method: arginator.v1.Classifier.Classify (default) or .ClassifyStream; "
                 "'package.Service/Method' or 'package.Service.Method'");
  app.add_option("--proto", f.proto, "accepted for ghz command lines; the service is built in");
  app.add_option("--protoset", f.protoset, "accepted for ghz command lines; as --proto");
  app.add_option("-i,--import-paths", f.import_paths, "accepted for ghz command lines");
  app.add_option("--cacert", f.cacert, "PEM file of trusted root certificates for the server");
  app.add_option("--cert", f.cert, "PEM client certificate (mutual TLS; with --key)");
  app.add_option("--key", f.key, "PEM client private key (mutual TLS; with --cert)");
  app.add_option("--cname", f.cname, "server name override when validating the TLS certificate");
  app.add_flag("--skipTLS", f.skip_tls, "skip verifying the server's certificate chain and name");
  app.add_flag("--insecure", f.insecure, "plaintext (without it, TLS as in ghz)");
  app.add_option("--authority", f.authority, "value of the :authority pseudo-header");
  app.add_option("--lb-strategy", f.lb_strategy,
                 "client load balancing over the target's addresses: round_robin or pick_first")
      ->check(
          CLI::IsMember(std::vector<std::string>(std::begin(kLbPolicies), std::end(kLbPolicies))));
  app.add_option("-r,--rps", f.rps, "requests per second, open loop (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-c,--concurrency", f.concurrency, "requests in flight (workers)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("-n,--total", f.total, "requests to run (ignored when -z is given)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("-t,--timeout", f.timeout, "per-request timeout, 0 = none")->capture_default_str();
  app.add_option("-z,--duration", f.duration, "run for this long; -n is then ignored (10s, 1m)");
  app.add_option("-x,--max-duration", f.max_duration,
                 "stop after this long even if -n is not done");
  app.add_option("--duration-stop", f.duration_stop,
                 "calls in flight at the end of -z: close (cut, reported Canceled), wait, ignore")
      ->check(CLI::IsMember({"close", "wait", "ignore"}))
      ->capture_default_str();
  app.add_option("-d,--data", f.data,
                 "the request as protobuf JSON (an array: sent round robin); @ reads stdin");
  app.add_option("-D,--data-file", f.data_file, "file holding the request as JSON");
  app.add_flag("-b,--binary", f.binary, "read the request from stdin as a serialized message");
  app.add_option("-B,--binary-file", f.binary_file, "file holding the serialized request(s)");
  app.add_option("-m,--metadata", f.metadata, "request metadata as a JSON object of strings");
  app.add_option("-M,--metadata-file", f.metadata_file, "file holding the metadata JSON");
  app.add_option("-o,--output", f.output, "write the report here instead of stdout");
  app.add_option("-O,--format", f.format,
                 "summary, csv, json, pretty, prometheus, influx-summary or influx-details")
      ->check(CLI::IsMember(
          {"summary", "csv", "json", "pretty", "prometheus", "influx-summary", "influx-details"}))
      ->capture_default_str();
  app.add_option("--skipFirst", f.skip_first, "leave the first X results out of the tally")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--count-errors", f.count_errors,
               "count errored calls in fastest, slowest, percentiles and histogram");
  app.add_option("--connections", f.connections, "HTTP/2 connections; concurrency spread over them")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connect-timeout", f.connect_timeout, "time for every connection to come up")
      ->capture_default_str();
  app.add_option("--keepalive", f.keepalive, "HTTP/2 keepalive ping interval, 0 = none");
  app.add_option("--name", f.name, "name of the run, in the report");
  app.add_option("--tags", f.tags, "JSON object of string tags, in the report");
  app.add_option("--cpus", f.cpus, "cores to use: caps the worker threads")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("-e,--enable-compression", f.compress, "gzip the requests");
  // This tool's own options: long names that no ghz flag uses.
  app.add_option("--target", f.target, "host:port, instead of the positional argument");
  app.add_option("--model", f.model, "model name: build the requests (or override -d/-b's)");
  app.add_option("--model-version", f.model_version, "exact model version")
      ->check(CLI::PositiveNumber);
  app.add_option("--label", f.label, "model version label");
  app.add_option("--batch", f.batch, "embeddings per built request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--packed", f.packed, "built requests use packed_values (float32 bytes)");
  app.add_option("--input", f.input, "embeddings file (.h5/.csv/.npy) for built requests");
  app.add_option("--evidence", f.evidence,
                 "built requests ask for each embedding's K nearest references (0 = none)")
      ->check(CLI::Range(0, 50));
  app.add_flag("--stream", f.stream, "call ClassifyStream (as --call ...ClassifyStream)");
  app.add_flag("--reopen-streams", f.reopen_streams,
               "a stream that ends UNAVAILABLE under a request (a draining server ends its "
               "streams) is opened again and the request sent on it, once; off as in ghz");
  app.add_option("--threads", f.threads, "worker threads; 0 = one per connection, at most --cpus")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--warmup", f.warmup, "unrecorded warm-up before the measured run (1s)");
  app.add_flag("--details", f.details, "keep per-request rows in the JSON report (ghz's details)");
  app.add_option("--write-frame", f.write_frame,
                 "write the first request as one gRPC length-prefixed message to this file and "
                 "exit (the body for h2load -d)");
}

absl::StatusOr<std::string> ReadAll(std::istream& in) {
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InvalidArgumentError("cannot read standard input");
  return s;
}

absl::StatusOr<nlohmann::json> StringMap(const std::string& json, const char* what) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  bool ok = parsed.is_object();
  if (ok) {
    for (const auto& [k, v] : parsed.items()) ok = ok && v.is_string();
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a JSON object of strings, not '", json, "'"));
  }
  return parsed;
}

int64_t Nanos(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

// ghz's `options` (runner/reporter.go's Options): omitempty fields only when set.
nlohmann::json OptionsEcho(const Flags& f, const LoadgenCommand& c, const nlohmann::json& data,
                           const nlohmann::json& metadata) {
  const LoadOptions& o = c.load;
  nlohmann::json j = {{"call", f.call},
                      {"host", o.client.target},
                      {"insecure", f.insecure},
                      {"load-schedule", "const"},
                      {"load-start", 0},
                      {"load-end", 0},
                      {"load-step", 0},
                      {"load-step-duration", 0},
                      {"load-max-duration", 0},
                      {"concurrency", o.concurrency},
                      {"concurrency-schedule", "const"},
                      {"concurrency-start", 0},
                      {"concurrency-end", 0},
                      {"concurrency-step", 1},
                      {"concurrency-step-duration", 0},
                      {"concurrency-max-duration", 0},
                      {"connections", o.connections},
                      {"timeout", Nanos(o.call.timeout)},
                      {"dial-timeout", Nanos(o.connect_timeout)},
                      {"binary", f.binary || !f.binary_file.empty()},
                      {"CPUs", f.cpus}};
  auto set_if = [&](const char* key, const auto& value, bool present) {
    if (present) j[key] = value;
  };
  set_if("proto", f.proto, !f.proto.empty());
  set_if("protoset", f.protoset, !f.protoset.empty());
  if (!f.import_paths.empty()) {
    j["import-paths"] = absl::StrSplit(f.import_paths, ',', absl::SkipEmpty());
  }
  set_if("enable-compression", true, f.compress);
  set_if("cacert", f.cacert, !f.cacert.empty());
  set_if("cert", f.cert, !f.cert.empty());
  set_if("key", f.key, !f.key.empty());
  set_if("cname", f.cname, !f.cname.empty());
  set_if("skipTLS", true, f.skip_tls);
  set_if("authority", f.authority, !f.authority.empty());
  set_if("lb-strategy", f.lb_strategy, !f.lb_strategy.empty());
  set_if("rps", f.rps, f.rps > 0);
  set_if("total", o.total, o.duration == absl::ZeroDuration());
  set_if("duration", Nanos(o.duration), o.duration > absl::ZeroDuration());
  set_if("keepalive", Nanos(o.client.keepalive), o.client.keepalive > absl::ZeroDuration());
  set_if("data", data, !data.is_null());
  set_if("metadata", metadata, !metadata.is_null());
  set_if("name", f.name, !f.name.empty());
  set_if("skipFirst", f.skip_first, f.skip_first > 0);
  set_if("count-errors", true, f.count_errors);
  // This tool's own settings, under a key of its own.
  nlohmann::json own = {{"duration-stop", f.duration_stop},
                        {"warmup", Nanos(o.warmup)},
                        {"threads", o.threads},
                        {"stream", o.stream}};
  if (o.messages.empty()) {
    own["model"] = o.model.name;
    own["batch"] = o.batch;
    own["packed"] = o.packed;
    if (o.evidence > 0) own["evidence"] = o.evidence;
    if (!o.input.empty()) own["input"] = o.input;
  }
  if (o.model.version) own["model-version"] = *o.model.version;
  if (o.model.label) own["label"] = *o.model.label;
  j["arginator"] = own;
  return j;
}

// Turns the parsed flags into the command, checking what CLI11's validators cannot.
absl::StatusOr<LoadgenCommand> Build(Flags& f, std::istream& in) {
  LoadgenCommand c;
  LoadOptions& o = c.load;
  if (!f.host.empty() && !f.target.empty() && f.host != f.target) {
    return absl::InvalidArgumentError("give the server once: as host or as --target");
  }
  o.client.target = f.host.empty() ? (f.target.empty() ? "localhost:50051" : f.target) : f.host;

  // The method: Classify or ClassifyStream, however ghz spells it.
  if (f.call.empty()) f.call = absl::StrCat(kService, f.stream ? ".ClassifyStream" : ".Classify");
  std::string method = absl::StrReplaceAll(f.call, {{"/", "."}});
  if (!method.empty() && method[0] == '.') method.erase(0, 1);
  if (method == absl::StrCat(kService, ".Classify")) {
    if (f.stream) return absl::InvalidArgumentError("--stream contradicts --call " + f.call);
  } else if (method == absl::StrCat(kService, ".ClassifyStream")) {
    o.stream = true;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--call ", f.call, ": arginator-loadgen drives ",
                                                   kService, ".Classify and ", kService,
                                                   ".ClassifyStream"));
  }
  for (const std::string* file : {&f.proto, &f.protoset}) {
    if (!file->empty() && !std::ifstream(*file)) {
      return absl::InvalidArgumentError("cannot read " + *file);
    }
  }

  // Transport security, as ghz: TLS unless --insecure.
  o.client.tls = !f.insecure;
  if (f.insecure && (!f.cacert.empty() || !f.cert.empty() || f.skip_tls)) {
    return absl::InvalidArgumentError("--insecure contradicts --cacert, --cert and --skipTLS");
  }
  if (f.cert.empty() != f.key.empty()) {
    return absl::InvalidArgumentError("--cert and --key go together (mutual TLS)");
  }
  o.client.ca_cert = f.cacert;
  o.client.client_cert = f.cert;
  o.client.client_key = f.key;
  o.client.authority = f.cname;
  o.client.skip_verify = f.skip_tls;
  o.client.http_authority = f.authority;
  o.client.lb_policy = f.lb_strategy;

  // Load shape and stop rules.
  o.concurrency = static_cast<int>(f.concurrency);
  o.connections = static_cast<int>(f.connections);
  o.rps = static_cast<double>(f.rps);
  o.total = f.total;
  o.skip_first = f.skip_first;
  o.count_errors = f.count_errors;
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  o.threads = static_cast<int>(
      f.threads > 0 ? f.threads : std::min<int64_t>(o.connections, f.cpus > 0 ? f.cpus : cores));
  f.cpus = f.cpus > 0 ? f.cpus : cores;
  struct {
    const std::string& text;
    absl::Duration* out;
    const char* flag;
  } durations[] = {{f.timeout, &o.call.timeout, "-t/--timeout"},
                   {f.duration, &o.duration, "-z/--duration"},
                   {f.max_duration, &o.max_duration, "-x/--max-duration"},
                   {f.connect_timeout, &o.connect_timeout, "--connect-timeout"},
                   {f.keepalive, &o.client.keepalive, "--keepalive"},
                   {f.warmup, &o.warmup, "--warmup"}};
  for (const auto& d : durations) {
    auto parsed = ParseGoDuration(d.text);
    if (!parsed.ok())
      return absl::InvalidArgumentError(absl::StrCat(d.flag, ": ", parsed.status().message()));
    *d.out = *parsed;
  }
  o.duration_stop = f.duration_stop == "wait"     ? DurationStop::kWait
                    : f.duration_stop == "ignore" ? DurationStop::kIgnore
                                                  : DurationStop::kClose;

  // The request: given (JSON or binary) or built from rows.
  const int sources = !f.data.empty() + !f.data_file.empty() + f.binary + !f.binary_file.empty();
  if (sources > 1) return absl::InvalidArgumentError("give one of -d, -D, -b and -B");
  nlohmann::json data;
  if (!f.data.empty() || !f.data_file.empty()) {
    absl::StatusOr<std::string> json = f.data == "@"     ? ReadAll(in)
                                       : !f.data.empty() ? absl::StatusOr<std::string>(f.data)
                                                         : ReadFileToString(f.data_file);
    if (!json.ok()) return json.status();
    auto messages = MessagesFromJson(*json);
    if (!messages.ok()) return messages.status();
    o.messages = *std::move(messages);
    data = nlohmann::json::parse(*json);
  } else if (f.binary || !f.binary_file.empty()) {
    auto bytes = f.binary ? ReadAll(in) : ReadFileToString(f.binary_file);
    if (!bytes.ok()) return bytes.status();
    auto messages = MessagesFromBinary(*bytes);
    if (!messages.ok()) return messages.status();
    o.messages = *std::move(messages);
  }
  if (o.messages.empty() && f.model.empty()) {
    return absl::InvalidArgumentError(
        "give --model NAME (requests built from synthetic or --input rows) or the request "
        "itself with -d, -D, -b or -B");
  }
  if (!o.messages.empty() && (f.batch != 1 || f.packed || !f.input.empty() || f.evidence > 0)) {
    return absl::InvalidArgumentError(
        "--batch, --packed, --input and --evidence build the request from rows; -d/-D/-b/-B give "
        "it whole");
  }
  if (f.model_version > 0 && !f.label.empty()) {
    return absl::InvalidArgumentError("--model-version and --label exclude each other");
  }
  if ((f.model_version > 0 || !f.label.empty()) && f.model.empty()) {
    return absl::InvalidArgumentError("--model-version and --label need --model");
  }
  o.model.name = f.model;
  if (f.model_version > 0) o.model.version = f.model_version;
  if (!f.label.empty()) o.model.label = f.label;
  if (!f.model.empty()) {  // --model (and its version or label) override the given requests'
    for (std::string& message : o.messages) {
      v1::ClassifyRequest request;
      request.ParseFromString(message);
      SetModelSpec(o.model, request.mutable_model());
      message = request.SerializeAsString();
    }
  }
  o.batch = static_cast<int>(f.batch);
  o.packed = f.packed;
  o.evidence = static_cast<int>(f.evidence);
  o.input = f.input;

  // Metadata, report settings.
  nlohmann::json metadata;
  if (!f.metadata.empty() || !f.metadata_file.empty()) {
    if (!f.metadata.empty() && !f.metadata_file.empty()) {
      return absl::InvalidArgumentError("give one of -m and -M");
    }
    auto text = f.metadata.empty() ? ReadFileToString(f.metadata_file)
                                   : absl::StatusOr<std::string>(f.metadata);
    if (!text.ok()) return text.status();
    auto parsed = StringMap(*text, "metadata");
    if (!parsed.ok()) return parsed.status();
    metadata = *parsed;
    for (const auto& [k, v] : metadata.items())
      o.call.metadata.emplace_back(k, v.get<std::string>());
  }
  o.call.gzip = f.compress;
  o.call.reopen_streams = f.reopen_streams;
  if (!f.tags.empty()) {
    auto tags = StringMap(f.tags, "--tags");
    if (!tags.ok()) return tags.status();
    c.meta.tags = tags->get<std::map<std::string, std::string>>();
  }
  c.meta.name = f.name;
  auto format = ParseReportFormat(f.format);
  if (!format.ok()) return format.status();
  c.format = *format;
  o.details = f.details || ListsRequests(c.format);
  c.output = f.output;
  c.write_frame = f.write_frame;
  c.meta.options = OptionsEcho(f, c, data, metadata);
  return c;
}

}  // namespace

std::variant<LoadgenCommand, int> ParseCommandLine(int argc, const char* const* argv,
                                                   std::istream& in) {
  CLI::App app{
      "arginator-loadgen: load-test an arginator-server; a drop-in for ghz's command line and "
      "reports on the arginator.v1.Classifier service"};
  app.set_version_flag("-v,--version", ARGINATOR_VERSION);
  Flags flags;
  AddFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto command = Build(flags, in);
  if (!command.ok()) {
    std::cerr << "arginator-loadgen: error: " << command.status().message() << std::endl;
    return 2;
  }
  return *std::move(command);
}

}  // namespace arginator::client
