// The HTML report in a real browser (ctest label `browser`): a failing canary
// run writes its report, headless Chromium (Debian package `chromium`,
// installed by `make deps`) loads it, takes a screenshot, and dumps the DOM
// after the page's own script measured the drawn timeline (reports/report.cpp
// writes data-timeline="drawn|empty|missing" on <body>). A report without a
// timeline must be judged "empty", so the check can fail.
//
// The tag is hidden ("[.browser]") so these cases are not part of the
// `reports` label; tests/CMakeLists.txt registers them as one ctest test with
// the label `browser`. A missing Chromium is a failure, not a skip.
#include <streamsim/reports/report.h>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "../harness/cli_test_util.h"

namespace fs = std::filesystem;
using streamsim::testing::cli::quote;
using streamsim::testing::cli::read_all;
using streamsim::testing::cli::TempDir;
using streamsim::testing::cli::Result;
using streamsim::testing::cli::run_cli;
using streamsim::testing::cli::run_shell;

namespace {

// Caught on every seed (a slow broker throttles the input below the expected
// throughput), and its timeline has a fault, a heal, leader changes,
// transactions, the watermark and the throughput dip.
const std::string kCanary = "scenarios/canary/throughput-below-expectation.textproto";
const std::string kShot = "/tmp/streamsim-report-shot.png";

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

// Chromium's own flags for a headless run in a test: no sandbox (root in
// containers), no GPU, a private profile so parallel runs do not collide.
std::string chromium_cmd(const std::string& bin, const fs::path& profile, const std::string& what,
                         const fs::path& html) {
  return "timeout 120 " + quote(bin) + " --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run" +
         " --user-data-dir=" + quote(profile.string()) + " --window-size=1400,2000 " + what + " " +
         quote("file://" + fs::absolute(html).string());
}

// The page's verdict after load, from --dump-dom (stderr, where Chromium logs, is discarded).
std::string dump_dom(const std::string& bin, const fs::path& profile, const fs::path& html) {
  const Result r = run_shell("(" + chromium_cmd(bin, profile, "--dump-dom", html) + " 2>/dev/null)");
  INFO("chromium --dump-dom exit " << r.exit_code);
  REQUIRE(r.exit_code == 0);
  return r.output;
}

std::string body_attr(const std::string& dom, const std::string& name) {
  const std::regex re("<body[^>]*\\s" + name + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(dom, m, re) ? std::string(m[1]) : std::string("(absent)");
}

}  // namespace

TEST_CASE("browser: the HTML report of a failing canary draws its timeline in Chromium", "[.browser]") {
  const std::string bin = chromium();
  if (bin.empty())
    FAIL("Chromium is not installed (/usr/bin/chromium): run `make deps` (Debian package `chromium`) "
         "to install it; this test cannot check the HTML report without a browser");
  TempDir dir;
  const fs::path rep = dir.path / "rep";
  const Result run = run_cli("run " + kCanary + " --seed 1 --report " + quote(rep.string()));
  INFO(run.output);
  REQUIRE(run.exit_code == 1);  // the canary's bug is caught: exit 1, and the reports are written
  REQUIRE_THAT(run.output, Catch::Contains("report: " + (rep / "summary.json").string()));
  const fs::path html = rep / "report.html";
  REQUIRE(fs::exists(html));
  REQUIRE(fs::exists(rep / "junit.xml"));
  const std::string page = read_all(html);
  CHECK_THAT(page, Catch::Contains("replay " + kCanary + " --seed 1"));

  // Screenshot: a real PNG of a drawn page (a blank 1400x2000 page compresses
  // to a few kilobytes; text and the timeline make it far larger).
  fs::remove(kShot);
  const Result shot = run_shell(chromium_cmd(bin, dir.path / "profile", "--screenshot=" + quote(kShot), html));
  INFO(shot.output);
  REQUIRE(shot.exit_code == 0);
  REQUIRE(fs::exists(kShot));
  const std::string png = read_all(kShot);
  REQUIRE(png.size() > 8);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK(png.size() > 40'000);

  // The page's script measured the timeline after layout.
  const std::string dom = dump_dom(bin, dir.path / "profile", html);
  INFO("body: data-timeline=" << body_attr(dom, "data-timeline") << " marks=" << body_attr(dom, "data-timeline-marks")
                              << " kinds=" << body_attr(dom, "data-timeline-kinds")
                              << " width=" << body_attr(dom, "data-timeline-width"));
  CHECK(body_attr(dom, "data-timeline") == "drawn");
  const std::string marks = body_attr(dom, "data-timeline-marks");
  REQUIRE(std::regex_match(marks, std::regex("[0-9]+")));
  CHECK(std::stoul(marks) >= 10);
  // Faults, heals, leader changes, the watermark, throughput, lag, commits.
  CHECK(std::stoul(body_attr(dom, "data-timeline-kinds")) >= 5);
  CHECK(std::stoul(body_attr(dom, "data-timeline-width")) >= 1000);
}

TEST_CASE("browser: a report without a timeline is judged empty", "[.browser]") {
  const std::string bin = chromium();
  if (bin.empty()) FAIL("Chromium is not installed (/usr/bin/chromium): run `make deps` (Debian package `chromium`)");
  TempDir dir;
  streamsim::proto::RunSummary r;
  r.set_scenario("canary/empty");
  r.set_seed(1);
  r.set_replay("streamsim replay x.textproto --seed 1");
  r.mutable_timeline()->set_end_ns(5'000'000'000);  // a time axis, but nothing on it
  const fs::path html = dir.path / "empty.html";
  std::ofstream(html) << streamsim::reports::html_report(r);
  const std::string dom = dump_dom(bin, dir.path / "profile", html);
  CHECK(body_attr(dom, "data-timeline") == "empty");
  CHECK(body_attr(dom, "data-timeline-marks") == "0");
}
