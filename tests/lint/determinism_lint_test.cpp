// The determinism lint (DESIGN.md section 2): outside sim/, live/, the CLI (cli/)
// and the benchmarks (bench/, run only by `streamsim bench`), no source may read a
// real clock, start a thread, sleep the OS thread, draw unseeded randomness, or
// block through a Boost.Fiber primitive that bypasses the virtual clock.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Hit {
  std::string file;
  int line;
  std::string what;
};

// Strips // comments so prose that names a banned API is not flagged.
std::string strip_comment(const std::string& line) {
  auto p = line.find("//");
  return p == std::string::npos ? line : line.substr(0, p);
}

std::vector<Hit> scan_text(const std::string& file, const std::string& text) {
  static const std::vector<std::pair<std::regex, std::string>> banned = {
      {std::regex(R"(system_clock)"), "system_clock"},
      {std::regex(R"(steady_clock\s*::\s*now)"), "steady_clock::now"},
      {std::regex(R"(high_resolution_clock)"), "high_resolution_clock"},
      {std::regex(R"((^|[^A-Za-z0-9_])s?rand\s*\()"), "rand("},
      {std::regex(R"(random_device)"), "random_device"},
      {std::regex(R"(#\s*include\s*<random>)"), "<random>"},
      {std::regex(R"(std\s*::\s*thread|std\s*::\s*jthread|pthread_create)"), "std::thread"},
      {std::regex(R"(this_thread\s*::)"), "std::this_thread"},
      // Runtime::sleep_for is the allowed spelling: a member call or its declaration.
      {std::regex(R"((^|[^.>A-Za-z0-9_])sleep_for\s*\()"), "sleep_for (not Runtime::sleep_for)"},
      {std::regex(R"(this_fiber\s*::\s*(sleep_for|sleep_until|yield))"), "boost::this_fiber wait"},
      {std::regex(R"(fibers\s*::\s*(condition_variable|mutex|timed_mutex|recursive_mutex|buffered_channel|unbuffered_channel|future|promise)\b)"),
       "Boost.Fiber blocking primitive"},
      {std::regex(R"((^|[^A-Za-z0-9_])time\s*\(\s*(NULL|nullptr|0)\s*\))"), "time(nullptr)"},
      {std::regex(R"(gettimeofday|clock_gettime)"), "OS clock"},
  };
  std::vector<Hit> hits;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string code = strip_comment(line);
    // Declarations of the Runtime's own sleep_for are allowed.
    if (code.find("void sleep_for(") != std::string::npos) continue;
    for (const auto& [re, what] : banned) {
      if (std::regex_search(code, re)) hits.push_back({file, n, what});
    }
  }
  return hits;
}

std::vector<Hit> scan_tree(const fs::path& root) {
  // Deterministic layers: everything except sim/, live/, cli/ and bench/.
  const std::vector<std::string> dirs = {"core",    "engine",  "faults",   "scenarios",
                                         "harness", "reports", "include/streamsim/core",
                                         "include/streamsim/engine", "include/streamsim/faults",
                                         "include/streamsim/scenarios", "include/streamsim/harness",
                                         "include/streamsim/reports"};
  std::vector<Hit> hits;
  for (const auto& d : dirs) {
    fs::path p = root / d;
    if (!fs::exists(p)) continue;
    for (auto it = fs::recursive_directory_iterator(p); it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file()) continue;
      auto ext = it->path().extension().string();
      if (ext != ".cpp" && ext != ".h" && ext != ".hpp" && ext != ".cc") continue;
      // bench.h only declares the benchmark entry points.
      std::ifstream f(it->path());
      std::stringstream ss;
      ss << f.rdbuf();
      auto h = scan_text(fs::relative(it->path(), root).string(), ss.str());
      hits.insert(hits.end(), h.begin(), h.end());
    }
  }
  return hits;
}

}  // namespace

TEST_CASE("lint: the lint catches each banned API", "[lint]") {
  const std::vector<std::string> bad = {
      "auto t = std::chrono::system_clock::now();", "auto t = std::chrono::steady_clock::now();",
      "int x = rand();",                            "std::random_device rd;",
      "std::thread t([]{});",                       "std::this_thread::sleep_for(1s);",
      "boost::this_fiber::sleep_for(1ms);",         "boost::fibers::condition_variable cv;",
      "sleep_for(d);",                              "time_t t = time(nullptr);",
      "#include <random>",
  };
  for (const auto& line : bad) {
    INFO(line);
    CHECK(scan_text("x.cpp", line).size() >= 1);
  }
  const std::vector<std::string> good = {
      "rt.sleep_for(Duration::millis(1));", "rt_->sleep_for(d);", "void sleep_for(Duration d) { }",
      "uint64_t operand(x);",               "// std::thread is banned here", "brand(x);",
  };
  for (const auto& line : good) {
    INFO(line);
    CHECK(scan_text("x.cpp", line).empty());
  }
}

TEST_CASE("lint: no nondeterministic API outside sim/, live/, cli/ and bench/", "[lint]") {
  auto hits = scan_tree(STREAMSIM_SOURCE_DIR);
  for (const auto& h : hits) {
    UNSCOPED_INFO(h.file << ":" << h.line << ": " << h.what);
  }
  CHECK(hits.empty());
  // The scan must have looked at real code, or it proves nothing.
  REQUIRE(fs::exists(fs::path(STREAMSIM_SOURCE_DIR) / "harness" / "runner.cpp"));
}
