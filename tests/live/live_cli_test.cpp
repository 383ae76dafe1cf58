// `streamsim live` end to end against librdkafka's in-process mock cluster
// (docs/live.md): the built binary runs a pipeline scenario in real time, and
// its exit code, property lines and report files are checked. Each run takes
// its --duration plus the drain (a few seconds) plus mock group joins.
#include "../harness/cli_test_util.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using streamsim::testing::cli::quote;
using streamsim::testing::cli::run_cli;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("streamsim-live-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// Every byte of every file under dir.
std::string read_tree(const std::string& dir) {
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

}  // namespace

TEST_CASE("live cli: a broker down and up and injected request errors pass exactly-once on the mock", "[live]") {
  const std::string dir = temp_dir("bounce");
  auto r = run_cli("live scenarios/live/broker-bounce.textproto --mock-brokers 3 --duration 10s --no-sim --report " +
                   quote(dir));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.output, "fault "));  // the broker went down...
  CHECK(contains(r.output, "broker 2 up"));
  CHECK(contains(r.output, "PACKET_LOSS"));  // ...and requests failed
  for (const char* p : {"input_durable", "no_duplicates", "no_losses", "no_open_transactions", "liveness"})
    CHECK(contains(r.output, std::string("property ") + p + ": held"));
  CHECK(contains(r.output, "throughput: "));
  CHECK(contains(r.output, "PASSED"));
  CHECK(fs::exists(fs::path(dir) / "summary.json"));
  CHECK(fs::exists(fs::path(dir) / "junit.xml"));
  fs::remove_all(dir);
}

TEST_CASE("live cli: the at-least-once canary (instance abandoned between produce and commit) is caught", "[live]") {
  auto r = run_cli("live scenarios/live/at-least-once-engine-crash.textproto --mock-brokers 3 --duration 20s --no-sim");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "between produce and commit"));
  CHECK(contains(r.output, "property no_duplicates: VIOLATED"));
}

TEST_CASE("live cli: secrets given with --config appear in no output and no report file", "[live]") {
  const std::string dir = temp_dir("secrets");
  const std::string secret = "HUNTER2-SECRET-7f3a";
  auto r = run_cli("live scenarios/pipelines/click-counts.textproto --mock-brokers 1 --duration 4s --no-sim"
                   " --log-level debug --config security.protocol=plaintext --config sasl.password=" + secret +
                   " --config ssl.key.password=" + secret + "-key --report " + quote(dir));
  INFO(r.output);
  // The run went through (the properties were accepted and passed on), and
  // neither value shows anywhere, not even in librdkafka's debug lines.
  CHECK(contains(r.output, "property "));
  CHECK(r.exit_code != 2);
  CHECK_FALSE(contains(r.output, secret));
  CHECK(fs::exists(fs::path(dir) / "summary.json"));
  CHECK_FALSE(contains(read_tree(dir), secret));
  fs::remove_all(dir);
}

TEST_CASE("live cli: an unreachable bootstrap fails cleanly within its timeout", "[live]") {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_cli("live scenarios/pipelines/click-counts.textproto --bootstrap 127.0.0.1:1 --connect-timeout 3s --no-sim");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "cannot reach the cluster at 127.0.0.1:1"));
  CHECK(s < 15.0);
}

TEST_CASE("live cli: bad flags, configuration and scenarios are usage errors", "[live]") {
  auto none = run_cli("live scenarios/pipelines/click-counts.textproto");
  CHECK(none.exit_code == 2);
  CHECK(contains(none.output, "exactly one of --bootstrap"));
  auto both = run_cli("live scenarios/pipelines/click-counts.textproto --mock-brokers 1 --bootstrap x:1");
  CHECK(both.exit_code == 2);
  auto prop = run_cli("live scenarios/pipelines/click-counts.textproto --mock-brokers 1 --config no.such.property=1");
  INFO(prop.output);
  CHECK(prop.exit_code == 2);
  CHECK(contains(prop.output, "no.such.property"));
  auto kafka = run_cli("live scenarios/kafka/transactions.textproto --mock-brokers 1");
  CHECK(kafka.exit_code == 2);
  CHECK(contains(kafka.output, "pipeline scenarios only"));
  auto dur = run_cli("live scenarios/pipelines/click-counts.textproto --mock-brokers 1 --duration soon");
  CHECK(dur.exit_code == 2);
  CHECK(contains(dur.output, "--duration"));
}

TEST_CASE("live cli: against a real cluster, broker faults run the operator's --fault-command or are skipped", "[live]") {
  // The skipped-fault list is printed before the cluster is contacted, so an
  // unreachable bootstrap shows what the run would have delegated.
  const std::string base =
      "live scenarios/live/broker-bounce.textproto --bootstrap 127.0.0.1:1 --connect-timeout 2s --no-sim";
  auto without = run_cli(base);
  INFO(without.output);
  CHECK(without.exit_code == 2);
  CHECK(contains(without.output, "skipped fault CRASH: no operator command for it against a real cluster "
                                 "(give one with --fault-command CRASH=CMD)"));
  CHECK(contains(without.output, "skipped fault PACKET_LOSS"));
  auto with = run_cli(base + " --fault-command CRASH=true");
  INFO(with.output);
  CHECK(with.exit_code == 2);
  CHECK_FALSE(contains(with.output, "skipped fault CRASH"));
  CHECK(contains(with.output, "skipped fault PACKET_LOSS"));  // no command for it
}

TEST_CASE("live cli: --fault-command takes a broker fault kind and only goes with --bootstrap", "[live]") {
  auto mock = run_cli("live scenarios/live/broker-bounce.textproto --mock-brokers 1 --fault-command CRASH=true");
  CHECK(mock.exit_code == 2);
  CHECK(contains(mock.output, "--fault-command: only with --bootstrap"));
  auto bogus = run_cli("live scenarios/live/broker-bounce.textproto --bootstrap x:1 --fault-command MELTDOWN=true");
  CHECK(bogus.exit_code == 2);
  CHECK(contains(bogus.output, "'MELTDOWN' is not a broker fault kind"));
  auto engine = run_cli("live scenarios/live/broker-bounce.textproto --bootstrap x:1 --fault-command ENGINE_CRASH=true");
  CHECK(engine.exit_code == 2);
  CHECK(contains(engine.output, "'ENGINE_CRASH' is not a broker fault kind"));
  auto empty = run_cli("live scenarios/live/broker-bounce.textproto --bootstrap x:1 --fault-command CRASH=");
  CHECK(empty.exit_code == 2);
  CHECK(contains(empty.output, "CRASH needs a command"));
  auto twice = run_cli("live scenarios/live/broker-bounce.textproto --bootstrap x:1 --fault-command CRASH=a "
                       "--fault-command CRASH=b");
  CHECK(twice.exit_code == 2);
  CHECK(contains(twice.output, "CRASH given twice"));
}
