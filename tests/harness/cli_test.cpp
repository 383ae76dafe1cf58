// End-to-end tests of the streamsim command line: they run the built binary
// (STREAMSIM_BINARY) as a subprocess from the source tree and check its exit
// codes and output. Every run is a separate process, so equal trace hashes here
// mean determinism across processes, not just within one.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <streamsim/proto/report.pb.h>
#include <streamsim/reports/report.h>

#include "cli_test_util.h"

namespace fs = std::filesystem;

namespace {

const std::string kSafe = "scenarios/kernel/network-faults.textproto";
const std::string kCanary = "scenarios/canary/kernel-ack-before-replicate.textproto";

using streamsim::testing::cli::quote;
using streamsim::testing::cli::read_all;
using streamsim::testing::cli::TempDir;
using streamsim::testing::cli::Result;
using streamsim::testing::cli::run_cli;
using streamsim::testing::cli::run_shell;

// The value after "<key>" on the first line starting with it ("" if none).
std::string line_value(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return line.substr(key.size());
  }
  return "";
}

std::string trace_hash(const Result& r) {
  static const std::regex re(R"((^|\n)trace-hash: ([0-9a-f]{16})\n)");
  std::smatch m;
  INFO(r.output);
  REQUIRE(std::regex_search(r.output, m, re));
  return m[2];
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// The first seed at which the canary sweep caught its bug.
uint64_t canary_seed() {
  static uint64_t seed = [] {
    Result r = run_cli("sweep " + kCanary + " --seeds 50 --jobs 2");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE_THAT(r.output, Catch::Contains("canary caught acked_durable"));
    static const std::regex re(R"(first: seed (\d+)\))");
    std::smatch m;
    REQUIRE(std::regex_search(r.output, m, re));
    return std::stoull(m[1]);
  }();
  return seed;
}

}  // namespace

TEST_CASE("cli: run is deterministic across processes and prints the seed and hash", "[cli]") {
  Result a = run_cli("run " + kSafe + " --seed 42");
  Result b = run_cli("run " + kSafe + " --seed 42");
  INFO(a.output);
  CHECK(a.exit_code == 0);
  CHECK(b.exit_code == 0);
  CHECK(line_value(a.output, "seed: ") == "42");
  const std::string ha = trace_hash(a);
  CHECK(ha == trace_hash(b));

  Result c = run_cli("run " + kSafe + " --seed 43");
  CHECK(c.exit_code == 0);
  CHECK(line_value(c.output, "seed: ") == "43");
  CHECK(trace_hash(c) != ha);

  Result r = run_cli("replay " + kSafe + " --seed 42");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(trace_hash(r) == ha);
}

TEST_CASE("cli: a run without --seed prints a seed that reproduces it", "[cli]") {
  Result a = run_cli("run " + kSafe);
  INFO(a.output);
  REQUIRE(a.exit_code == 0);
  const std::string seed = line_value(a.output, "seed: ");
  REQUIRE_FALSE(seed.empty());
  Result b = run_cli("run " + kSafe + " --seed " + seed);
  CHECK(b.exit_code == 0);
  CHECK(trace_hash(b) == trace_hash(a));
}

TEST_CASE("cli: every property of the safe scenario is reported as held", "[cli]") {
  Result r = run_cli("run " + kSafe + " --seed 42");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  static const std::regex held(R"(property [a-z_]+: held)");
  std::set<std::string> names;
  for (const auto& line : lines_of(r.output)) {
    if (line.rfind("property ", 0) != 0) continue;
    INFO(line);
    CHECK(std::regex_match(line, held));
    names.insert(line.substr(9, line.find(':') - 9));
  }
  CHECK(names == std::set<std::string>{"acked_durable", "no_duplicates", "replicas_agree", "values_consistent",
                                       "liveness", "no_task_failure", "within_limits"});
  CHECK_THAT(r.output, !Catch::Contains("VIOLATED"));
  CHECK_THAT(r.output, !Catch::Contains("replay: "));
}

TEST_CASE("canary: ack-before-replicate is caught within 50 seeds", "[cli][canary]") {
  const uint64_t seed = canary_seed();
  CHECK(seed >= 1);
  CHECK(seed <= 50);
}

TEST_CASE("cli: the canary's failing seed exits 1 and its replay command reproduces it", "[cli][canary]") {
  const uint64_t seed = canary_seed();
  Result r = run_cli("run " + kCanary + " --seed " + std::to_string(seed));
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("property acked_durable: VIOLATED "));
  CHECK_THAT(r.output, Catch::Contains("seed " + std::to_string(seed) + " violated acked_durable"));
  const std::string hash = trace_hash(r);
  const std::string replay = line_value(r.output, "replay: ");
  REQUIRE_FALSE(replay.empty());
  CHECK_THAT(replay, Catch::Contains(" replay "));
  CHECK_THAT(replay, Catch::EndsWith("--seed " + std::to_string(seed)));

  Result again = run_shell(replay);
  INFO(again.output);
  CHECK(again.exit_code == 1);
  CHECK(trace_hash(again) == hash);
  CHECK_THAT(again.output, Catch::Contains("property acked_durable: VIOLATED "));
}

TEST_CASE("cli: a malformed scenario exits 2 with file:line:column", "[cli][usage]") {
  TempDir dir;
  const std::string file = dir.str("bad.textproto");
  std::ofstream(file) << "name: \"bad\"\ncounter {\n  replicas 3\n}\n";
  Result r = run_cli("run " + quote(file) + " --seed 1");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains(file + ":3:12: error:"));

  // A semantic error names the field too.
  std::ofstream(file) << "name: \"bad\"\ncounter {\n  replicas: 12\n}\n";
  Result s = run_cli("run " + quote(file) + " --seed 1");
  INFO(s.output);
  CHECK(s.exit_code == 2);
  CHECK_THAT(s.output, Catch::Contains(file + ":3:3: error: counter.replicas:"));

  // sweep and list reject it the same way.
  Result w = run_cli("sweep " + quote(file) + " --seeds 1");
  CHECK(w.exit_code == 2);
  CHECK_THAT(w.output, Catch::Contains(file + ":3:3: error:"));
  Result l = run_cli("list " + quote(dir.path.string()));
  CHECK(l.exit_code == 2);
  CHECK_THAT(l.output, Catch::Contains(file + ":3:3: error:"));
}

TEST_CASE("cli: usage errors exit 2", "[cli][usage]") {
  TempDir dir;
  SECTION("nonexistent scenario file") {
    Result r = run_cli("run " + quote(dir.str("nope.textproto")) + " --seed 1");
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("nope.textproto"));
  }
  SECTION("a directory as the scenario") {
    Result r = run_cli("run " + quote(dir.path.string()) + " --seed 1");
    CHECK(r.exit_code == 2);
  }
  SECTION("unknown option") {
    Result r = run_cli("run " + kSafe + " --seed 1 --frobnicate 3");
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("--frobnicate"));
  }
  SECTION("non-numeric seed") {
    Result r = run_cli("run " + kSafe + " --seed abc");
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("--seed"));
    CHECK_THAT(r.output, Catch::Contains("abc"));
  }
  SECTION("negative seed") {
    Result r = run_cli("run " + kSafe + " --seed -5");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("--seed"));
  }
  SECTION("--seed without a value") {
    Result r = run_cli("run " + kSafe + " --seed");
    CHECK(r.exit_code == 2);
  }
  SECTION("missing command") {
    Result r = run_cli("");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("usage:"));
  }
  SECTION("unknown command") {
    Result r = run_cli("frobnicate");
    CHECK(r.exit_code == 2);
  }
  SECTION("run without a scenario") {
    Result r = run_cli("run --seed 1");
    CHECK(r.exit_code == 2);
  }
  SECTION("replay without --seed") {
    Result r = run_cli("replay " + kSafe);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("--seed"));
  }
  SECTION("sweep without --seeds") {
    Result r = run_cli("sweep " + kSafe);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("--seeds"));
  }
  SECTION("sweep with a bad shard") {
    Result r = run_cli("sweep " + kSafe + " --seeds 4 --shard 2/2");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("--shard"));
  }
  SECTION("--trace to an unwritable path") {
    const std::string t = dir.str("no-such-dir/t.jsonl");
    Result r = run_cli("run " + kSafe + " --seed 1 --trace " + quote(t));
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(t));
    CHECK_FALSE(fs::exists(t));
  }
  SECTION("--report onto an existing file") {
    const std::string f = dir.str("a-file");
    std::ofstream(f) << "x";
    Result r = run_cli("run " + kSafe + " --seed 1 --report " + quote(f));
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("cli: --trace writes one JSON object per line and --report writes summary.json", "[cli][trace]") {
  TempDir dir;
  const std::string trace = dir.str("t.jsonl");
  const std::string rep = dir.str("rep");
  Result r = run_cli("run " + kSafe + " --seed 7 --trace " + quote(trace) + " --report " + quote(rep));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::exists(trace));
  const auto lines = lines_of(read_all(trace));
  REQUIRE_FALSE(lines.empty());
  size_t bad = 0;
  for (const auto& l : lines) {
    if (l.rfind("{\"t_ns\":", 0) != 0 || l.back() != '}') ++bad;
  }
  CHECK(bad == 0);
  CHECK_THAT(lines.back(), Catch::Contains("\"kind\":\"") );

  // summary.json is a proto::RunSummary in protobuf's JSON mapping (docs/reports.md).
  const std::string summary = read_all(rep + "/summary.json");
  CHECK_THAT(summary, Catch::Contains("\"trace_hash\":\"" + trace_hash(r) + "\""));
  streamsim::proto::RunSummary parsed;
  std::string err;
  REQUIRE(streamsim::reports::from_json(summary, &parsed, &err));
  CHECK(parsed.seed() == 7);
  CHECK(parsed.trace_hash() == trace_hash(r));
  CHECK(parsed.passed());
  CHECK(fs::exists(rep + "/report.html"));
  CHECK(fs::exists(rep + "/junit.xml"));

  // Tracing does not change the run.
  Result plain = run_cli("run " + kSafe + " --seed 7");
  CHECK(trace_hash(plain) == trace_hash(r));
}

TEST_CASE("regression: the trace file has exactly as many lines as the events count", "[cli][trace][regression]") {
  // The run_start event used to be hashed before the trace sink was attached (so
  // never written), and teardown events after run_end were written but not hashed.
  TempDir dir;
  const std::string trace = dir.str("t.jsonl");
  Result r = run_cli("run " + kSafe + " --seed 7 --trace " + quote(trace));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  static const std::regex events_re(R"(^sim-time: .*  events: (\d+)  )");
  std::string sim_line = line_value(r.output, "sim-time: ");
  std::smatch m;
  const std::string full = "sim-time: " + sim_line;
  REQUIRE(std::regex_search(full, m, events_re));
  const size_t events = std::stoull(m[1]);
  const auto lines = lines_of(read_all(trace));
  CHECK(lines.size() == events);
  REQUIRE_FALSE(lines.empty());
  CHECK_THAT(lines.front(), Catch::Contains("\"kind\":\"run_start\""));
  CHECK_THAT(lines.back(), Catch::Contains("\"kind\":\"run_end\""));
}

TEST_CASE("cli: sweep passes the safe scenario and shards split the seeds", "[cli][sweep]") {
  Result all = run_cli("sweep " + kSafe + " --seeds 20 --jobs 2");
  INFO(all.output);
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.output, Catch::Contains("PASS " + kSafe + ": 20 seeds"));
  CHECK_THAT(all.output, Catch::Contains("20 runs"));

  static const std::regex runs_re(R"(, (\d+) runs, )");
  auto runs = [](const Result& r) -> long {
    std::smatch m;
    if (!std::regex_search(r.output, m, runs_re)) return -1;
    return std::stol(m[1]);
  };
  Result s0 = run_cli("sweep " + kSafe + " --seeds 20 --jobs 2 --shard 0/2");
  Result s1 = run_cli("sweep " + kSafe + " --seeds 20 --jobs 2 --shard 1/2");
  INFO(s0.output);
  INFO(s1.output);
  CHECK(s0.exit_code == 0);
  CHECK(s1.exit_code == 0);
  CHECK(runs(all) == 20);
  CHECK(runs(s0) > 0);
  CHECK(runs(s1) > 0);
  CHECK(runs(s0) + runs(s1) == 20);
  CHECK_THAT(s0.output, Catch::Contains("PASS"));
  CHECK_THAT(s1.output, Catch::Contains("PASS"));
}

TEST_CASE("cli: list shows both scenarios", "[cli]") {
  Result r = run_cli("list scenarios");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains(kSafe + "  kernel/network-faults"));
  CHECK_THAT(r.output, Catch::Contains(kCanary + "  canary/kernel-ack-before-replicate  [canary: acked_durable]"));
}
