// The live runtime: the kernel on the real clock, and real files.
#include <catch2/catch.hpp>

#include <streamsim/core/sync.h>
#include <streamsim/live/live_runtime.h>

#include <spdlog/sinks/null_sink.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <unistd.h>

using namespace streamsim;

namespace {

std::string temp_dir(const char* tag) {
  auto p = std::filesystem::temp_directory_path() / ("streamsim-" + std::string(tag) + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p.string();
}

live::LiveOptions options(const std::string& dir) {
  live::LiveOptions o;
  o.storage_dir = dir;
  o.seed = 7;
  o.log_sink = std::make_shared<spdlog::sinks::null_sink_st>();
  return o;
}

}  // namespace

TEST_CASE("live runtime: sleeps and timeouts take real time", "[live]") {
  const std::string dir = temp_dir("rt");
  Instant slept_from, slept_to;
  WakeReason cv_result = WakeReason::notified;
  int joined = 0;
  auto wall0 = std::chrono::steady_clock::now();
  {
    live::LiveRuntime rt(options(dir));
    rt.spawn("main", [&] {
      slept_from = rt.now();
      rt.sleep_for(Duration::millis(30));
      slept_to = rt.now();
      Mutex m;
      CondVar cv;
      UniqueLock lk(rt, m);
      cv_result = cv.wait_for(lk, Duration::millis(20));
      auto h = rt.spawn("child", [&] { rt.sleep_for(Duration::millis(5)); });
      h.join();
      ++joined;
    });
    REQUIRE(rt.run(Duration::seconds(10)) == sim::RunStop::quiescent);
  }
  double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
  CHECK(slept_to - slept_from >= Duration::millis(30));
  CHECK(cv_result == WakeReason::timed_out);
  CHECK(joined == 1);
  CHECK(wall_ms >= 55.0);    // 30 + 20 + 5 ms really passed
  CHECK(wall_ms < 5000.0);   // and the kernel did not hang
  std::filesystem::remove_all(dir);
}

TEST_CASE("live runtime: run stops at its real-time limit", "[live]") {
  const std::string dir = temp_dir("limit");
  live::LiveRuntime rt(options(dir));
  rt.spawn("forever", [&] {
    for (;;) rt.sleep_for(Duration::millis(5));
  });
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(rt.run(Duration::millis(50)) == sim::RunStop::reached);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms >= 45.0);
  CHECK(ms < 2000.0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("live file storage: the Storage contract on real files", "[live]") {
  const std::string dir = temp_dir("fs");
  live::FileStorage fs(dir);
  REQUIRE(fs.append("a/log", "hello ").ok());
  REQUIRE(fs.append("a/log", "world").ok());
  REQUIRE(fs.fsync("a/log").ok());
  REQUIRE(fs.sync_dir().ok());
  REQUIRE(*fs.read_all("a/log") == "hello world");
  REQUIRE(*fs.read("a/log", 6, 100) == "world");
  REQUIRE(fs.write("a/log", 0, "HELLO").ok());
  REQUIRE(*fs.read_all("a/log") == "HELLO world");
  REQUIRE(fs.truncate("a/log", 5).ok());
  REQUIRE(*fs.size("a/log") == 5);
  REQUIRE(fs.rename("a/log", "b/log2").ok());
  REQUIRE_FALSE(fs.exists("a/log"));
  REQUIRE(fs.exists("b/log2"));
  REQUIRE(fs.list("b/") == std::vector<std::string>{"b/log2"});
  REQUIRE(fs.remove("b/log2").ok());
  REQUIRE(fs.read_all("b/log2").error() == IoErrc::not_found);
  // Paths cannot escape the root.
  REQUIRE(fs.write("../escape", 0, "x").error() == IoErrc::invalid_argument);
  REQUIRE(fs.write("/etc/passwd", 0, "x").error() == IoErrc::invalid_argument);
  REQUIRE(fs.append("a//b", "x").error() == IoErrc::invalid_argument);
  std::filesystem::remove_all(dir);
}
