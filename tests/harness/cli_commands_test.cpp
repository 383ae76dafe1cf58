// End-to-end tests of the harness commands added for issue 5: sweep's time
// budget, sharding and progress output, coverage targets, replay with a full
// trace, and shrink. Like cli_test.cpp they run the built binary
// (STREAMSIM_BINARY) from the source tree; each test stays within seconds by
// using the kernel scenarios and few seeds.
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

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string line_value(const std::string& out, const std::string& key) {
  for (const auto& line : lines_of(out)) {
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

// The seeds a sweep ran, from its plain progress lines ("[i/n t] FILE seed S: ...").
std::set<uint64_t> seeds_run(const Result& r) {
  static const std::regex re(R"(^\[\d+/\d+ [0-9.]+s\] \S+ seed (\d+): (ok|violated [a-z_]+)$)");
  std::set<uint64_t> out;
  for (const auto& line : lines_of(r.output)) {
    std::smatch m;
    if (std::regex_match(line, m, re)) out.insert(std::stoull(m[1]));
  }
  return out;
}

}  // namespace

TEST_CASE("sweep: progress is one plain line per run when not on a terminal, and a rate line ends it", "[cli][sweep]") {
  Result r = run_cli("sweep " + kSafe + " --seeds 3 --jobs 2");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find('\r') == std::string::npos);
  CHECK(r.output.find('\033') == std::string::npos);
  CHECK(seeds_run(r) == std::set<uint64_t>{1, 2, 3});
  static const std::regex rate(R"(\nsweep: 3 seeds in [0-9.]+ s \([0-9.]+ seeds/min\); scenarios: 1 passed, 0 failed\n)");
  CHECK(std::regex_search(r.output, rate));
}

TEST_CASE("sweep: --shard I/N splits the seeds disjointly and completely", "[cli][sweep]") {
  std::set<uint64_t> all;
  size_t total = 0;
  for (int i = 0; i < 3; ++i) {
    Result r = run_cli("sweep " + kSafe + " --seeds 7 --first-seed 10 --jobs 2 --shard " + std::to_string(i) + "/3");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    const auto s = seeds_run(r);
    CHECK_FALSE(s.empty());
    total += s.size();
    all.insert(s.begin(), s.end());
  }
  CHECK(total == 7);  // no seed ran in two shards
  CHECK(all == std::set<uint64_t>{10, 11, 12, 13, 14, 15, 16});
}

TEST_CASE("sweep: --time-budget stops starting seeds and reports how many ran", "[cli][sweep]") {
  Result r = run_cli("sweep " + kSafe + " --seeds 10000 --jobs 2 --time-budget 1500ms");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  static const std::regex spent(R"(time budget of 1500ms spent: ran (\d+) of 10000 runs)");
  std::smatch m;
  REQUIRE(std::regex_search(r.output, m, spent));
  const uint64_t ran = std::stoull(m[1]);
  CHECK(ran >= 1);
  CHECK(ran < 10000);
  CHECK(seeds_run(r).size() == ran);
  CHECK_THAT(r.output, Catch::Contains("PASS " + kSafe + ": " + std::to_string(ran) + " seeds"));

  Result bad = run_cli("sweep " + kSafe + " --seeds 2 --time-budget 10parsecs");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Catch::Contains("--time-budget"));
}

TEST_CASE("coverage: run reports marks and targets, and the JSON summary includes them", "[cli][coverage]") {
  TempDir dir;
  const std::string file = dir.str("targets.textproto");
  std::ofstream(file) << read_all(std::string(STREAMSIM_SOURCE_DIR) + "/" + kSafe)
                      << "\nexpect { targets: [\"kafka.leader_epoch_change\"] }\n";
  Result r = run_cli("run " + quote(file) + " --seed 3 --report " + quote(dir.str("rep")));
  INFO(r.output);
  CHECK(r.exit_code == 0);  // a single run does not fail on a missed target
  CHECK_THAT(r.output, Catch::Contains("\ncoverage: "));
  CHECK_THAT(r.output, Catch::Contains("target kafka.leader_epoch_change: missed"));
  const std::string json = read_all(dir.str("rep/summary.json"));
  CHECK_THAT(json, Catch::Contains("\"targets_missed\":[\"kafka.leader_epoch_change\"]"));
  streamsim::proto::RunSummary parsed;
  std::string err;
  REQUIRE(streamsim::reports::from_json(json, &parsed, &err));
  CHECK_THAT(json, Catch::Contains("\"coverage\":["));  // printed even when no mark was reached
  REQUIRE(parsed.targets_missed_size() == 1);
  CHECK(parsed.targets_missed(0) == "kafka.leader_epoch_change");
}

TEST_CASE("coverage: a sweep in which a target is never reached fails and names it", "[cli][coverage]") {
  TempDir dir;
  const std::string file = dir.str("never.textproto");
  // The counter workload has no Kafka cluster: no seed can elect a leader.
  std::ofstream(file) << read_all(std::string(STREAMSIM_SOURCE_DIR) + "/" + kSafe)
                      << "\nexpect { targets: [\"kafka.leader_epoch_change\"] }\n";
  Result r = run_cli("sweep " + quote(file) + " --seeds 2 --jobs 2");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("FAIL " + file + ": target kafka.leader_epoch_change was never reached in 2 seeds"));
  CHECK_THAT(r.output, Catch::Contains("1 failed"));
}

TEST_CASE("coverage: an unknown target is a scenario error at file:line:column", "[cli][coverage][usage]") {
  TempDir dir;
  const std::string file = dir.str("typo.textproto");
  std::ofstream(file) << "name: \"typo\"\ncounter {}\nexpect {\n  targets: \"kafka.leader_epoch_change\"\n"
                      << "  targets: \"kafka.leader_epoch_chnage\"\n}\n";
  Result r = run_cli("run " + quote(file) + " --seed 1");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains(file + ":5:3: error: expect.targets: unknown coverage mark 'kafka.leader_epoch_chnage'"));
  Result s = run_cli("sweep " + quote(file) + " --seeds 1");
  CHECK(s.exit_code == 2);
}

TEST_CASE("replay: reproduces the trace hash and writes the full trace", "[cli][trace]") {
  TempDir dir;
  Result run = run_cli("run " + kSafe + " --seed 11");
  REQUIRE(run.exit_code == 0);
  const std::string trace = dir.str("t.jsonl");
  Result rep = run_cli("replay " + kSafe + " --seed 11 --trace " + quote(trace));
  INFO(rep.output);
  CHECK(rep.exit_code == 0);
  CHECK(trace_hash(rep) == trace_hash(run));
  static const std::regex events_re(R"(  events: (\d+)  )");
  std::smatch m;
  const std::string sim = line_value(rep.output, "sim-time: ");
  REQUIRE(std::regex_search(sim, m, events_re));
  CHECK(lines_of(read_all(trace)).size() == std::stoull(m[1]));
}

TEST_CASE("shrink: a canary's failing seed becomes a smaller scenario with explicit faults that still fails",
          "[cli][shrink]") {
  // A failing seed of the canary (the sweep prints the first).
  Result sw = run_cli("sweep " + kCanary + " --seeds 20 --jobs 2");
  INFO(sw.output);
  REQUIRE(sw.exit_code == 0);
  static const std::regex first_re(R"(first: seed (\d+)\))");
  std::smatch m;
  REQUIRE(std::regex_search(sw.output, m, first_re));
  const std::string seed = m[1];

  TempDir dir;
  const std::string out = dir.str("small.textproto");
  Result sh = run_cli("shrink " + kCanary + " --seed " + seed + " --out " + quote(out) + " --max-runs 40");
  INFO(sh.output);
  REQUIRE(sh.exit_code == 1);
  REQUIRE(fs::exists(out));
  static const std::regex counts(R"(shrink: (\d+) faults -> (\d+), (\d+) runs)");
  std::smatch c;
  REQUIRE(std::regex_search(sh.output, c, counts));
  const size_t original = std::stoul(c[1]), shrunk = std::stoul(c[2]), runs = std::stoul(c[3]);
  CHECK(shrunk <= original);
  CHECK(runs <= 40);
  CHECK_THAT(sh.output, Catch::Contains("violated acked_durable"));

  const std::string text = read_all(out);
  CHECK_THAT(text, Catch::StartsWith("# Shrunk by `streamsim shrink` from " + kCanary + " at seed " + seed));
  CHECK_THAT(text, Catch::Contains("# Property violated: acked_durable"));
  CHECK_THAT(text, !Catch::Contains("random {"));
  size_t scripted = 0;
  for (size_t p = text.find("scripted {"); p != std::string::npos; p = text.find("scripted {", p + 1)) ++scripted;
  CHECK(scripted == shrunk);

  // The written file loads and fails the same property again, as printed.
  const std::string replay = line_value(sh.output, "replay: ");
  REQUIRE_FALSE(replay.empty());
  CHECK_THAT(replay, Catch::Contains(" run "));
  Result again = run_shell(replay);
  INFO(again.output);
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.output, Catch::Contains("property acked_durable: VIOLATED"));
}

TEST_CASE("shrink: a seed that fails nothing exits 0, usage errors exit 2", "[cli][shrink][usage]") {
  TempDir dir;
  Result ok = run_cli("shrink " + kSafe + " --seed 5 --out " + quote(dir.str("x.textproto")));
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::Contains("violates no property"));
  CHECK_FALSE(fs::exists(dir.str("x.textproto")));

  CHECK(run_cli("shrink " + kSafe).exit_code == 2);                        // no --seed
  CHECK(run_cli("shrink --seed 1").exit_code == 2);                        // no scenario
  CHECK(run_cli("shrink " + kSafe + " --seed 1 --max-runs 1").exit_code == 2);
  CHECK(run_cli("shrink " + kSafe + " --seed 1 --out " + quote(dir.str("no/such/dir/f"))).exit_code == 2);
}
