#include "server/rest/rest_routes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace arginator::server {
namespace {

using ::testing::HasSubstr;

RestRoute Route(const std::string& target) {
  absl::StatusOr<RestRoute> r = ParseRestTarget(target);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RestRoute{};
}

TEST(RestRoutesTest, EveryEndpointOfTheSpecIsRoutedWithItsNameAndVersion) {
  EXPECT_EQ(Route("/v2").endpoint, RestRoute::kServer);
  EXPECT_EQ(Route("/v2/health/live").endpoint, RestRoute::kLive);
  EXPECT_EQ(Route("/v2/health/ready?x=1").endpoint, RestRoute::kReady);
  RestRoute r = Route("/v2/models/m%2Fx/versions/3/infer");
  EXPECT_EQ(r.endpoint, RestRoute::kInfer);
  EXPECT_EQ(r.name, "m/x");  // an escaped slash is part of the name, not a separator
  EXPECT_EQ(r.version, "3");
  r = Route("/v2/models/m/ready");
  EXPECT_EQ(r.endpoint, RestRoute::kModelReady);
  EXPECT_EQ(r.version, "");
  EXPECT_EQ(Route("/v2/models/m").endpoint, RestRoute::kModel);
  for (const char* none : {"/", "/v2/", "/v1", "/v2/models", "/v2/models//infer",
                           "/v2/models/m/versions//ready", "/v2/models/m/explain", "x/v2"}) {
    EXPECT_EQ(Route(none).endpoint, RestRoute::kNone) << none;
  }
}

TEST(RestRoutesTest, PercentEscapesDecodeToAnyByteAndMalformedOnesAreRefused) {
  EXPECT_EQ(Route("/v2/models/%FF").name, "\xff");
  EXPECT_EQ(*PercentDecode("a%20b%c3%a9"), "a b\xc3\xa9");
  for (const char* bad : {"%", "%F", "%G1", "a%2"}) {
    EXPECT_EQ(PercentDecode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// Issue 23, item 1: the 404 for /v2/%FF, and the 256-byte cut of /v2/x + 200 x "é", threw from
// the JSON encoder outside any try/catch and aborted the server.
TEST(RestRoutesTest, ErrorBodiesAreValidJsonWhateverTheTargetHeld) {
  std::string split = "/v2/x";
  for (int i = 0; i < 200; ++i) split += "\xc3\xa9";
  for (const std::string& target : {std::string("/v2/\xff"), split}) {
    HttpResponse r = RestErrorResponse(404, NoSuchEndpoint("GET", target));
    EXPECT_EQ(r.status, 404);
    nlohmann::json j = nlohmann::json::parse(r.body);  // throws on invalid UTF-8
    EXPECT_THAT(j["error"].get<std::string>(), HasSubstr("no such endpoint: GET /v2/"));
  }
}

}  // namespace
}  // namespace arginator::server
