// Tests of the scenario loader: the real scenario files parse, every kind of bad
// input is an error at the right file:line:column naming the right field, and
// no input at all (garbage or a mutated real file) crashes the loader.
//
// Expected positions are not hard-coded numbers: `at(text, "needle")` finds the
// one line of the text containing the needle and returns its 1-based line and
// the needle's 1-based column, so each test states *which* field the error must
// point at and the helper works out where that is.
#include <streamsim/scenarios/scenario.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

using streamsim::proto::Scenario;
using streamsim::scenarios::parse_scenario;
using streamsim::scenarios::ScenarioError;

namespace {

const std::string kSafe = "scenarios/kernel/network-faults.textproto";
const std::string kCanary = "scenarios/canary/kernel-ack-before-replicate.textproto";

std::string read_source(const std::string& rel) {
  std::ifstream in(std::string(STREAMSIM_SOURCE_DIR) + "/" + rel, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  REQUIRE_FALSE(ss.str().empty());
  return ss.str();
}

struct Pos {
  int line = 0;
  int column = 0;
};

// 1-based position of `needle`, which must occur on exactly one line of `text`.
Pos at(const std::string& text, const std::string& needle) {
  Pos found;
  int hits = 0;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto c = line.find(needle);
    if (c == std::string::npos) continue;
    ++hits;
    found = {n, static_cast<int>(c) + 1};
  }
  INFO("needle: " << needle);
  REQUIRE(hits == 1);
  return found;
}

// Parses text that must fail; returns the error.
ScenarioError fails(const std::string& text, const std::string& file = "t.textproto") {
  auto r = parse_scenario(text, file);
  INFO("text:\n" << text);
  REQUIRE_FALSE(r.ok());
  ScenarioError e = r.error();
  INFO("error: " << e.format());
  CHECK(e.file == file);
  CHECK(e.line >= 1);
  CHECK(e.column >= 1);
  CHECK_FALSE(e.message.empty());
  return e;
}

// A semantic error: names `field` and sits exactly at `needle`.
void fails_at_field(const std::string& text, const std::string& field, const std::string& needle,
                    const std::string& message_part) {
  ScenarioError e = fails(text);
  Pos p = at(text, needle);
  INFO("error: " << e.format());
  CHECK(e.field == field);
  CHECK(e.line == p.line);
  CHECK(e.column == p.column);
  CHECK_THAT(e.message, Catch::Contains(message_part));
  CHECK(e.format() == "t.textproto:" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": error: " + field +
                          ": " + e.message);
}

// A small valid scenario the semantic tests break one field at a time.
std::string base(const std::string& counter_body = "replicas: 3", const std::string& extra = "") {
  return "# a comment line\n"
         "name: \"t/base\"\n"
         "description: \"test\"\n"
         "run {\n"
         "  safety_ms: 1000\n"
         "  liveness_ms: 1000\n"
         "}\n"
         "counter {\n"
         "  " + counter_body + "\n"
         "}\n" + extra;
}

}  // namespace

TEST_CASE("loader: the real scenario files parse", "[loader]") {
  for (const auto& f : {kSafe, kCanary}) {
    INFO(f);
    std::string text = read_source(f);
    auto r = parse_scenario(text, f);
    if (!r.ok()) FAIL(r.error().format());
    CHECK(r->has_counter());
    CHECK(r->counter().replicas() == 3);
    CHECK(r->faults().random().kinds_size() > 0);
  }
  auto safe = parse_scenario(read_source(kSafe), kSafe);
  REQUIRE(safe.ok());
  CHECK(safe->name() == "kernel/network-faults");
  CHECK(safe->expect().expect_violation().empty());
  CHECK_FALSE(safe->counter().bug_ack_before_replicate());
  auto canary = parse_scenario(read_source(kCanary), kCanary);
  REQUIRE(canary.ok());
  CHECK(canary->name() == "canary/kernel-ack-before-replicate");
  CHECK(canary->expect().expect_violation() == "acked_durable");
  CHECK(canary->counter().bug_ack_before_replicate());
}

TEST_CASE("loader: the minimal valid scenario and the base text parse", "[loader]") {
  CHECK(parse_scenario("name: \"x\" counter {}", "m.textproto").ok());
  auto r = parse_scenario(base(), "b.textproto");
  if (!r.ok()) FAIL(r.error().format());
  CHECK(r->name() == "t/base");
}

TEST_CASE("loader: the pointer overload reports the same error", "[loader]") {
  const std::string text = base("replicas: 12");
  Scenario s;
  ScenarioError e;
  CHECK_FALSE(parse_scenario(text, "t.textproto", &s, &e));
  auto r = parse_scenario(text, "t.textproto");
  REQUIRE_FALSE(r.ok());
  CHECK(e.format() == r.error().format());
  CHECK(e.field == "counter.replicas");

  ScenarioError ok_err;
  CHECK(parse_scenario(base(), "t.textproto", &s, &ok_err));
  CHECK(s.name() == "t/base");
}

TEST_CASE("loader: a syntax error has the exact line and column", "[loader]") {
  SECTION("missing colon before a scalar") {
    const std::string text = "name: \"x\"\ncounter {\n  replicas 3\n}\n";
    ScenarioError e = fails(text, "bad.textproto");
    // "  replicas 3": the parser stops at the "3" on line 3, column 12.
    CHECK(e.line == 3);
    CHECK(e.column == 12);
    CHECK(e.field.empty());
    CHECK_THAT(e.message, Catch::Contains("Expected \":\""));
    CHECK(e.format() == "bad.textproto:3:12: error: " + e.message);
  }
  SECTION("a stray closing brace") {
    const std::string text = "name: \"x\"\ncounter { replicas: 3 } }\n";
    ScenarioError e = fails(text, "bad.textproto");
    CHECK(e.line == 2);
    CHECK(e.column == 25);
    CHECK(e.format() == "bad.textproto:2:25: error: " + e.message);
  }
  SECTION("an unterminated string") {
    const std::string text = "# header\nname: \"x\ncounter {}\n";
    ScenarioError e = fails(text, "bad.textproto");
    CHECK(e.line == 2);
    CHECK(e.column == 9);
    CHECK_THAT(e.message, Catch::Contains("String"));
  }
  SECTION("an unclosed block ends at end of input") {
    const std::string text = "name: \"x\"\ncounter {\n  replicas: 3\n";
    ScenarioError e = fails(text, "bad.textproto");
    CHECK(e.line == 4);
    CHECK(e.column == 1);
  }
}

TEST_CASE("loader: an unknown field name is an error naming it on its line", "[loader]") {
  SECTION("inside a message") {
    const std::string text = base("replicaz: 3");
    ScenarioError e = fails(text);
    CHECK(e.line == at(text, "replicaz").line);
    CHECK_THAT(e.message, Catch::Contains("\"replicaz\""));
    CHECK_THAT(e.format(), Catch::StartsWith("t.textproto:" + std::to_string(e.line) + ":"));
  }
  SECTION("at top level") {
    const std::string text = "name: \"x\"\n\ncounter {}\nnmae: \"y\"\n";
    ScenarioError e = fails(text);
    CHECK(e.line == 4);
    CHECK_THAT(e.message, Catch::Contains("\"nmae\""));
  }
  SECTION("an unknown enum value") {
    const std::string text = base("replicas: 3", "faults {\n  random {\n    kinds: [CRASH, CRSH]\n  }\n}\n");
    ScenarioError e = fails(text);
    CHECK(e.line == at(text, "CRSH").line);
    CHECK_THAT(e.message, Catch::Contains("CRSH"));
  }
}

TEST_CASE("loader: a value of the wrong type is an error", "[loader]") {
  SECTION("string for an integer") {
    const std::string text = base("replicas: \"three\"");
    ScenarioError e = fails(text);
    Pos p = at(text, "\"three\"");
    CHECK(e.line == p.line);
    CHECK(e.column == p.column);
    CHECK_THAT(e.message, Catch::Contains("integer"));
  }
  SECTION("fraction for an integer") {
    const std::string text = base("clients: 2.5");
    ScenarioError e = fails(text);
    CHECK(e.line == at(text, "2.5").line);
  }
  SECTION("negative for an unsigned integer") {
    const std::string text = base("clients: -2");
    ScenarioError e = fails(text);
    CHECK(e.line == at(text, "-2").line);
  }
  SECTION("out of range for uint32") {
    const std::string text = base("replicas: 99999999999");
    ScenarioError e = fails(text);
    CHECK(e.line == at(text, "99999999999").line);
  }
  SECTION("string for a double") {
    const std::string text = base("replicas: 3", "disk {\n  torn_write_probability: \"high\"\n}\n");
    ScenarioError e = fails(text);
    CHECK(e.line == at(text, "\"high\"").line);
  }
  SECTION("message for a scalar") {
    const std::string text = "name { x: 1 }\ncounter {}\n";
    fails(text);
  }
}

TEST_CASE("loader: semantic errors point at the offending field", "[loader]") {
  SECTION("counter.replicas out of range") {
    fails_at_field(base("replicas: 12"), "counter.replicas", "replicas: 12", "between 1 and 9");
  }
  SECTION("counter.clients out of range") {
    fails_at_field(base("replicas: 3\n  clients: 65"), "counter.clients", "clients: 65", "64");
  }
  SECTION("disk.torn_write_probability above 1") {
    fails_at_field(base("replicas: 3", "disk {\n  bit_flip_probability: 0.5\n  torn_write_probability: 1.5\n}\n"),
                   "disk.torn_write_probability", "torn_write_probability", "[0, 1]");
  }
  SECTION("disk.bit_flip_probability below 0") {
    fails_at_field(base("replicas: 3", "disk { bit_flip_probability: -0.25 }\n"), "disk.bit_flip_probability",
                   "bit_flip_probability", "[0, 1]");
  }
  SECTION("faults.random.max_duration_ms below min_duration_ms") {
    fails_at_field(base("replicas: 3",
                        "faults {\n  random {\n    kinds: [CRASH]\n    mean_interval_ms: 100\n"
                        "    min_duration_ms: 500\n    max_duration_ms: 400\n  }\n}\n"),
                   "faults.random.max_duration_ms", "max_duration_ms", "min_duration_ms");
  }
  SECTION("faults.random kinds with mean_interval_ms 0") {
    fails_at_field(base("replicas: 3",
                        "faults {\n  random {\n    kinds: [CRASH, PARTITION]\n    mean_interval_ms: 0\n  }\n}\n"),
                   "faults.random.mean_interval_ms", "mean_interval_ms", "positive");
  }
  SECTION("faults.random kinds with mean_interval_ms omitted: the error sits at the random block") {
    fails_at_field(base("replicas: 3", "faults {\n  random {\n    kinds: [CRASH]\n  }\n}\n"),
                   "faults.random.mean_interval_ms", "random {", "positive");
  }
  SECTION("faults.buggify.fire_probability above 1") {
    fails_at_field(base("replicas: 3", "faults {\n  buggify {\n    enabled: true\n    fire_probability: 2\n  }\n}\n"),
                   "faults.buggify.fire_probability", "fire_probability", "[0, 1]");
  }
  SECTION("faults.random kinds FAULT_UNSPECIFIED") {
    fails_at_field(base("replicas: 3",
                        "faults {\n  random {\n    kinds: [FAULT_UNSPECIFIED, CRASH]\n    mean_interval_ms: 10\n  }\n}\n"),
                   "faults.random.kinds", "kinds", "FAULT_UNSPECIFIED");
  }
  SECTION("an unknown property in expect.properties") {
    fails_at_field(base("replicas: 3",
                        "expect {\n  properties: \"acked_durable\"\n  properties: \"acked_durabel\"\n}\n"),
                   "expect.properties", "properties: \"acked_durabel\"", "unknown property 'acked_durabel'");
  }
  SECTION("an unknown property first in a list") {
    fails_at_field(base("replicas: 3", "expect {\n  properties: [\"bogus\", \"liveness\"]\n}\n"), "expect.properties",
                   "properties", "unknown property 'bogus'");
  }
  SECTION("an unknown property in expect.expect_violation") {
    fails_at_field(base("replicas: 3", "expect {\n  properties: \"liveness\"\n  expect_violation: \"acked\"\n}\n"),
                   "expect.expect_violation", "expect_violation", "unknown property 'acked'");
  }
  SECTION("a scripted fault naming an unknown node") {
    fails_at_field(base("replicas: 3",
                        "faults {\n"
                        "  scripted {\n    at_ms: 10\n    kind: CRASH\n    nodes: \"r1\"\n    duration_ms: 50\n  }\n"
                        "  scripted {\n    at_ms: 20\n    kind: ISOLATE\n    nodes: \"r0\"\n    nodes: \"r3\"\n"
                        "    duration_ms: 50\n  }\n"
                        "}\n"),
                   "faults.scripted[1].nodes", "nodes: \"r3\"", "unknown node 'r3'");
  }
  SECTION("a scripted fault's node set follows the replica count") {
    // r4 exists with replicas: 5, so the same fault is valid there...
    const std::string extra = "faults {\n  scripted {\n    kind: CRASH\n    nodes: \"r4\"\n  }\n}\n";
    auto ok = parse_scenario(base("replicas: 5", extra), "t.textproto");
    if (!ok.ok()) FAIL(ok.error().format());
    // ...but not with the default three replicas.
    fails_at_field(base("clients: 2", extra), "faults.scripted[0].nodes", "nodes", "unknown node 'r4'");
  }
  SECTION("a scripted fault without a kind") {
    fails_at_field(base("replicas: 3", "faults {\n  scripted {\n    at_ms: 10\n    kind: FAULT_UNSPECIFIED\n  }\n}\n"),
                   "faults.scripted[0].kind", "kind:", "kind");
  }
  SECTION("run.max_sim_time_ms shorter than the phases") {
    const std::string text = "name: \"x\"\ncounter {}\nrun {\n  safety_ms: 100\n  liveness_ms: 100\n"
                             "  max_sim_time_ms: 150\n}\n";
    ScenarioError e = fails(text);
    CHECK(e.field == "run.max_sim_time_ms");
    CHECK(e.line == at(text, "max_sim_time_ms").line);
  }
}

TEST_CASE("regression: an unknown property later in a list is located at the list", "[loader][regression]") {
  // Protobuf records one location for a whole list `f: [a, b]` (index 0 only);
  // an error about element 1 used to fall back to the enclosing block's line.
  fails_at_field(base("replicas: 3", "expect {\n  properties: [\"liveness\", \"bogus\"]\n}\n"), "expect.properties",
                 "properties", "unknown property 'bogus'");
}

TEST_CASE("loader: a missing workload or name is an error naming the field", "[loader]") {
  SECTION("missing workload") {
    ScenarioError e = fails("name: \"x\"\ndescription: \"no workload\"\n");
    CHECK(e.field == "counter");
    CHECK_THAT(e.message, Catch::Contains("workload"));
    // An omitted field has no line of its own: the error sits at the start.
    CHECK(e.line == 1);
    CHECK(e.column == 1);
  }
  SECTION("missing name") {
    ScenarioError e = fails("\ncounter { replicas: 3 }\n");
    CHECK(e.field == "name");
    CHECK(e.line == 1);
    CHECK(e.column == 1);
    CHECK(e.format() == "t.textproto:1:1: error: name: " + e.message);
  }
  SECTION("empty name") {
    ScenarioError e = fails("name: \"\"\ncounter {}\n");
    CHECK(e.field == "name");
  }
  SECTION("empty input") {
    ScenarioError e = fails("");
    CHECK(e.field == "name");
  }
}

// --- robustness ----------------------------------------------------------------

namespace {

// The loader's contract on any input: no crash, and an error always has a
// position and the "file:line:column: error: " form.
void check_contract(const std::string& text) {
  Scenario s;
  ScenarioError e;
  bool ok = parse_scenario(text, "fuzz.textproto", &s, &e);
  if (ok) return;
  RC_ASSERT(e.file == "fuzz.textproto");
  RC_ASSERT(e.line >= 1);
  RC_ASSERT(e.column >= 1);
  RC_ASSERT(!e.message.empty());
  const std::string prefix = "fuzz.textproto:" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": error: ";
  RC_ASSERT(e.format().rfind(prefix, 0) == 0);
}

const std::vector<std::string> kTokens = {
    "name", ":", "\"x\"", "{", "}", "[", "]", ",", "<", ">", "counter", "replicas", "clients", "12", "3", "0", "-1",
    "1.5", "1e400", "nan", "inf", "faults", "random", "scripted", "kinds", "CRASH", "FAULT_UNSPECIFIED", "nodes",
    "\"r9\"", "expect", "properties", "expect_violation", "\"liveness\"", "disk", "torn_write_probability", "run",
    "safety_ms", "max_sim_time_ms", "mean_interval_ms", "max_duration_ms", "min_duration_ms", "#", "\n", " ", "\t",
    "\"", "'", "\\", "0x1f", "true", "bug_ack_before_replicate", ";", "\xff", "[streamsim.proto.Scenario]"};

}  // namespace

TEST_CASE("loader: random garbage never crashes the loader", "[loader][fuzz]") {
  rc::prop("arbitrary bytes", [](const std::string& text) { check_contract(text); });
  rc::prop("token soup", [] {
    auto idx = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(0, kTokens.size()));
    std::string text;
    for (size_t i : idx) {
      text += kTokens[i];
      text += ' ';
    }
    check_contract(text);
  });
}

TEST_CASE("loader: mutations of a real scenario file never crash the loader", "[loader][fuzz]") {
  const std::string original = read_source(kSafe);
  // The unmutated file is valid, so the property below is not vacuous.
  REQUIRE(parse_scenario(original, "fuzz.textproto").ok());
  rc::prop("byte flips, deletions, insertions and truncation", [&original] {
    std::string text = original;
    const int edits = *rc::gen::inRange(1, 8);
    for (int i = 0; i < edits; ++i) {
      const int kind = *rc::gen::inRange(0, 4);
      if (text.empty()) break;
      const size_t pos = *rc::gen::inRange<size_t>(0, text.size());
      switch (kind) {
        case 0:  // replace a byte
          text[pos] = *rc::gen::arbitrary<char>();
          break;
        case 1:  // flip one bit
          text[pos] = static_cast<char>(text[pos] ^ (1 << *rc::gen::inRange(0, 8)));
          break;
        case 2:  // delete a run of bytes
          text.erase(pos, *rc::gen::inRange<size_t>(1, 16));
          break;
        case 3:  // truncate
          text.resize(pos);
          break;
      }
    }
    check_contract(text);
  });
  rc::prop("every truncation", [&original] {
    const size_t n = *rc::gen::inRange<size_t>(0, original.size() + 1);
    check_contract(original.substr(0, n));
  });
}
