// The report flags of the command line (docs/reports.md): `run --report DIR`
// writes the three files and names them, `sweep --junit FILE --report DIR`
// writes one testcase per scenario and seed and a summary that parses back
// into proto::SweepSummary, and unwritable destinations are exit-2 errors that
// name the path.
#include <streamsim/proto/report.pb.h>
#include <streamsim/reports/report.h>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "../harness/cli_test_util.h"

namespace fs = std::filesystem;
using streamsim::testing::cli::quote;
using streamsim::testing::cli::read_all;
using streamsim::testing::cli::TempDir;
using streamsim::testing::cli::Result;
using streamsim::testing::cli::run_cli;

namespace {

const std::string kSafe = "scenarios/kernel/network-faults.textproto";
const std::string kCanary = "scenarios/canary/throughput-below-expectation.textproto";

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("cli: run --report writes summary.json, report.html and junit.xml of a failing run", "[reports][cli]") {
  TempDir dir;
  const std::string rep = dir.str("a/b/rep");  // parents are created
  Result r = run_cli("run " + kCanary + " --seed 2 --report " + quote(rep));
  INFO(r.output);
  REQUIRE(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("report: " + rep + "/summary.json " + rep + "/report.html " + rep + "/junit.xml"));
  streamsim::proto::RunSummary sum;
  std::string err;
  REQUIRE(streamsim::reports::from_json(read_all(rep + "/summary.json"), &sum, &err));
  CHECK(sum.seed() == 2);
  CHECK_FALSE(sum.passed());
  CHECK(sum.expect_violation() == "throughput");
  CHECK_THAT(sum.replay(), Catch::EndsWith("replay " + kCanary + " --seed 2"));
  CHECK(sum.timeline().series_size() > 0);
  CHECK(sum.metrics_size() > 5);
  const std::string junit = read_all(rep + "/junit.xml");
  CHECK(count(junit, "<testcase ") == 1);
  CHECK_THAT(junit, Catch::Contains("<failure type=\"throughput\""));
  const std::string html = read_all(rep + "/report.html");
  CHECK_THAT(html, Catch::Contains(sum.replay()));
  CHECK_THAT(html, Catch::Contains("throughput violated"));
}

TEST_CASE("cli: sweep --junit and --report cover every scenario and seed", "[reports][cli]") {
  TempDir dir;
  const std::string junit = dir.str("out/junit.xml");
  fs::create_directories(dir.path / "out");
  const std::string rep = dir.str("rep");
  Result r = run_cli("sweep " + kSafe + " " + kCanary + " --seeds 3 --jobs 2 --junit " + quote(junit) + " --report " +
                     quote(rep));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);  // the canary is caught, the safe scenario holds
  CHECK_THAT(r.output, Catch::Contains("report: " + junit + " " + rep + "/summary.json " + rep + "/report.html"));
  const std::string x = read_all(junit);
  CHECK(count(x, "<testsuite ") == 2);
  CHECK(count(x, "<testcase ") == 2 * (3 + 1));
  CHECK(count(x, "<failure") == 0);
  CHECK_THAT(x, Catch::Contains("canary caught throughput"));
  streamsim::proto::SweepSummary sw;
  std::string err;
  REQUIRE(streamsim::reports::from_json(read_all(rep + "/summary.json"), &sw, &err));
  REQUIRE(sw.scenarios_size() == 2);
  CHECK(sw.runs() == 6);
  const auto& safe = sw.scenarios(0);
  const auto& canary = sw.scenarios(1);
  CHECK(safe.verdict() == "pass");
  CHECK(canary.verdict() == "caught");
  REQUIRE(canary.runs_size() == 3);
  for (const auto& run : safe.runs()) CHECK_FALSE(run.has_timeline());  // passing seeds: summary only
  for (const auto& run : canary.runs()) CHECK(run.has_timeline());     // failing seeds: with their timeline
  REQUIRE(canary.groups_size() == 1);
  CHECK(canary.groups(0).count() == 3);
  CHECK(canary.groups(0).expected());
  const std::string html = read_all(rep + "/report.html");
  CHECK(count(html, "<svg class=\"timeline\"") == 3);
  CHECK_THAT(html, Catch::Contains("throughput (canary caught)"));
}

TEST_CASE("cli: unwritable report destinations are errors naming the path", "[reports][cli][usage]") {
  TempDir dir;
  const std::string file = dir.str("a-file");
  std::ofstream(file) << "x";
  Result run = run_cli("run " + kSafe + " --seed 1 --report " + quote(file));
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.output, Catch::Contains(file + ": error: cannot create report directory"));

  Result sweep_dir = run_cli("sweep " + kSafe + " --seeds 1 --report " + quote(file + "/sub"));
  CHECK(sweep_dir.exit_code == 2);
  CHECK_THAT(sweep_dir.output, Catch::Contains(file + "/sub: error: cannot create report directory"));
  CHECK_THAT(sweep_dir.output, !Catch::Contains("sweep: 1 scenario"));  // refused before any seed ran

  const std::string junit = dir.str("no/such/dir/junit.xml");
  Result sweep_junit = run_cli("sweep " + kSafe + " --seeds 1 --junit " + quote(junit));
  CHECK(sweep_junit.exit_code == 2);
  CHECK_THAT(sweep_junit.output, Catch::Contains(junit + ": error: cannot write JUnit file"));
}
