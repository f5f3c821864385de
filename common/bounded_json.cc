#include "common/bounded_json.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace arginator {
namespace {

using nlohmann::json;

// nlohmann's SAX interface, building the DOM as its own builder does, with an explicit stack and
// the limits checked at every value. Returning false stops the parse.
class BoundedDomBuilder {
 public:
  explicit BoundedDomBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return Add(json(nullptr)); }
  bool boolean(bool v) { return Add(json(v)); }
  bool number_integer(json::number_integer_t v) { return Add(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return Add(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return Add(json(v)); }
  bool string(json::string_t& v) { return Add(json(std::move(v))); }
  bool binary(json::binary_t& v) { return Add(json::binary(std::move(v))); }
  bool start_object(size_t) { return Open(json::object()); }
  bool start_array(size_t) { return Open(json::array()); }
  bool key(json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& e) {
    if (error_.empty()) error_ = absl::StrCat("not valid JSON at byte ", position);
    return false;
  }

  json& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  bool Count(bool container) {
    if (++values_ > limits_.max_values) {
      return Fail(absl::StrCat("has more than ", limits_.max_values, " values"));
    }
    if (container && ++containers_ > limits_.max_containers) {
      return Fail(absl::StrCat("has more than ", limits_.max_containers, " arrays and objects"));
    }
    return true;
  }
  bool Fail(std::string why) {
    error_ = std::move(why);
    return false;
  }
  json* Place(json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }
  bool Add(json value) {
    if (!Count(false)) return false;
    Place(std::move(value));
    return true;
  }
  bool Open(json container) {
    if (!Count(true)) return false;
    if (stack_.size() + 1 > limits_.max_depth) {
      return Fail(absl::StrCat("is nested more than ", limits_.max_depth, " deep"));
    }
    stack_.push_back(Place(std::move(container)));
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  const JsonLimits limits_;
  json root_;
  std::vector<json*> stack_;  // the open containers; pointers stay valid: only the last grows
  std::string key_;
  size_t values_ = 0, containers_ = 0;
  std::string error_;
};

}  // namespace

absl::StatusOr<json> ParseBoundedJson(std::string_view text, const JsonLimits& limits,
                                      const std::string& what) {
  BoundedDomBuilder builder(limits);
  const bool ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                                  /*strict=*/true);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", builder.error().empty() ? std::string("is not valid JSON") : builder.error()));
  }
  return std::move(builder.root());
}

std::string DumpJson(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Utf8Prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;  // text[end] is the first byte left out: it must not continue a sequence
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

}  // namespace arginator
