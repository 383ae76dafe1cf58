// The loader's checks of the throughput and latency expectations: they belong
// to the pipeline workload, and a throughput or latency property named without
// its bound is an error at the name (it would hold vacuously).
#include <streamsim/scenarios/scenario.h>

#include <algorithm>
#include <string>

#include <catch2/catch.hpp>

using streamsim::scenarios::known_properties;
using streamsim::scenarios::parse_scenario;

namespace {

const char* kPipeline =
    "name: \"t/perf\"\n"
    "pipeline {\n"
    "  pipeline {\n"
    "    name: \"click-counts\"\n"
    "    params { key: \"window\" value: \"2s\" }\n"
    "    params { key: \"late_events\" value: \"route\" }\n"
    "  }\n"
    "}\n";

std::string error_of(const std::string& text) {
  auto r = parse_scenario(text, "t.textproto");
  REQUIRE_FALSE(r.ok());
  return r.error().format();
}

}  // namespace

TEST_CASE("perf expectations: bounds on a pipeline parse and name their properties", "[loader]") {
  auto r = parse_scenario(std::string(kPipeline) +
                              "expect { min_throughput_events_per_s: 100 max_p99_latency_ms: 5000 "
                              "properties: [\"throughput\", \"latency_p99\"] }\n",
                          "t.textproto");
  if (!r.ok()) FAIL(r.error().format());
  const auto known = known_properties(*r);
  CHECK(std::find(known.begin(), known.end(), "throughput") != known.end());
  CHECK(std::find(known.begin(), known.end(), "latency_p99") != known.end());
}

TEST_CASE("perf expectations: a property without its bound is an error at the name", "[loader]") {
  const std::string text = std::string(kPipeline) + "expect {\n  properties: [\"liveness\", \"throughput\"]\n}\n";
  CHECK_THAT(error_of(text), Catch::Contains("t.textproto:10:") && Catch::Contains("expect.properties") &&
                                 Catch::Contains("needs expect.min_throughput_events_per_s"));
  // As a canary's expected violation too (no properties list at all: the
  // error must not look up a list entry that does not exist).
  CHECK_THAT(error_of(std::string(kPipeline) + "expect { expect_violation: \"latency_p99\" }\n"),
             Catch::Contains("expect.expect_violation") && Catch::Contains("needs expect.max_p99_latency_ms"));
}

TEST_CASE("perf expectations: only the pipeline workload measures them, and they are finite", "[loader]") {
  CHECK_THAT(error_of("name: \"x\"\ncounter {}\nexpect { min_throughput_events_per_s: 5 }\n"),
             Catch::Contains("t.textproto:3:") && Catch::Contains("need the pipeline workload"));
  CHECK_THAT(error_of("name: \"x\"\ncounter {}\nexpect { max_p99_latency_ms: 5 }\n"),
             Catch::Contains("expect.max_p99_latency_ms"));
  CHECK_THAT(error_of(std::string(kPipeline) + "expect { min_throughput_events_per_s: -1 }\n"),
             Catch::Contains("must be a finite number"));
}
