// `streamsim live`: the command-line half of live mode (docs/live.md). The run
// itself is harness::run_live (harness/live_run.cpp); this file parses flags,
// makes the run's unique topic prefix from the real clock and the process id,
// turns Ctrl-C into "stop the input, drain, check, report", prints the verdict,
// and writes the report files.
//
// Exit codes (DESIGN.md section 6): 0 every property held; 1 a property was
// violated; 2 usage, scenario, configuration or connection error, or a verdict
// that cannot be trusted (inconclusive).
#include <streamsim/harness/live_run.h>
#include <streamsim/harness/report_proto.h>
#include <streamsim/kafka/config.h>
#include <streamsim/reports/report.h>
#include <streamsim/scenarios/scenario.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace streamsim;

namespace {

constexpr int kOk = 0, kViolated = 1, kUsage = 2;

const char* kLiveUsage =
    "usage: streamsim live SCENARIO (--bootstrap HOST:PORT | --mock-brokers N) [--config k=v ...]\n"
    "                      [--config-file FILE] [--duration D] [--report DIR] [--seed N]\n"
    "                      [--status-interval D] [--connect-timeout D] [--log-level L] [--no-sim]\n"
    "                      [--fault-command KIND=CMD ...]\n"
    "  D: 30s, 2m, 500ms (a bare number is seconds). Ctrl-C ends the input early, then drains and checks.\n"
    "  --fault-command (with --bootstrap): a broker fault KIND (CRASH, PAUSE, ISOLATE, LATENCY_SPIKE,\n"
    "  SLOW_NODE, CLOG, PACKET_LOSS, LEADER_MOVE) is carried out by running\n"
    "  `CMD start|stop BROKER DURATION_MS KIND` (BROKER counts from 1) when it begins and after it ends.\n";

volatile std::sig_atomic_t g_interrupted = 0;

void on_sigint(int) {
  g_interrupted = 1;
  // A second Ctrl-C ends the process the default way.
  std::signal(SIGINT, SIG_DFL);
}

struct Bad {
  std::string message;
};

int64_t duration_ms(const std::string& flag, const std::string& v) {
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  const std::string unit = v.substr(digits);
  int64_t mult = 0;
  if (unit.empty() || unit == "s") mult = 1000;
  else if (unit == "ms") mult = 1;
  else if (unit == "m" || unit == "min") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  if (digits == 0 || digits > 12 || mult == 0)
    throw Bad{flag + ": expected a duration such as 30s, 2m or 500ms, got '" + v + "'"};
  return std::stoll(v.substr(0, digits)) * mult;
}

uint64_t number(const std::string& flag, const std::string& v) {
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
    throw Bad{flag + ": expected a non-negative integer, got '" + v + "'"};
  return std::stoull(v);
}

std::pair<std::string, std::string> key_value(const std::string& where, const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Bad{where + ": expected key=value"};
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

// Topic names allow [a-zA-Z0-9._-].
std::string topic_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '-';
  return out;
}

std::string quote(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,") ==
                        std::string::npos)
    return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

int run(int argc, char** argv) {
  std::vector<std::string> positional;
  harness::LiveRunOptions opt;
  std::string report_dir, config_file;
  std::vector<std::string> replay_flags;  // the flags worth repeating (no --config values: secrets)
  std::map<proto::FaultKind, std::string> fault_commands;  // --fault-command KIND=CMD
  bool have_seed = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Bad{a + " needs a value"};
      return argv[++i];
    };
    if (a == "--bootstrap") {
      opt.bootstrap = value();
      if (opt.bootstrap.empty()) throw Bad{"--bootstrap: empty"};
      replay_flags.push_back("--bootstrap " + quote(opt.bootstrap));
    } else if (a == "--mock-brokers") {
      const uint64_t n = number(a, value());
      if (n < 1 || n > 16) throw Bad{"--mock-brokers: expected 1..16, got " + std::to_string(n)};
      opt.mock_brokers = static_cast<int>(n);
      replay_flags.push_back("--mock-brokers " + std::to_string(n));
    } else if (a == "--config") {
      opt.client_config.push_back(key_value("--config", value()));
    } else if (a == "--config-file") {
      config_file = value();
    } else if (a == "--duration") {
      const std::string v = value();
      opt.duration = Duration::millis(duration_ms(a, v));
      replay_flags.push_back("--duration " + v);
    } else if (a == "--report") {
      report_dir = value();
    } else if (a == "--seed") {
      opt.seed = number(a, value());
      have_seed = true;
    } else if (a == "--status-interval") {
      opt.status_interval = Duration::millis(std::max<int64_t>(100, duration_ms(a, value())));
    } else if (a == "--connect-timeout") {
      opt.connect_timeout = Duration::millis(std::max<int64_t>(100, duration_ms(a, value())));
    } else if (a == "--log-level") {
      opt.log_level = value();
      static const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "err", "critical", "off"};
      if (std::find(levels.begin(), levels.end(), opt.log_level) == levels.end())
        throw Bad{"--log-level: expected one of trace, debug, info, warn, err, critical, off; got '" + opt.log_level + "'"};
    } else if (a == "--fault-command") {
      const auto [kind_name, cmd] = key_value("--fault-command", value());
      proto::FaultKind kind{};
      if (!proto::FaultKind_Parse(kind_name, &kind) || !harness::live_fault_delegable(kind))
        throw Bad{"--fault-command: '" + kind_name +
                  "' is not a broker fault kind (CRASH, PAUSE, ISOLATE, LATENCY_SPIKE, SLOW_NODE, CLOG, PACKET_LOSS, "
                  "LEADER_MOVE)"};
      if (cmd.empty()) throw Bad{"--fault-command: " + kind_name + " needs a command after '='"};
      if (fault_commands.count(kind)) throw Bad{"--fault-command: " + kind_name + " given twice"};
      fault_commands[kind] = cmd;
    } else if (a == "--no-sim") {
      opt.compare_with_simulation = false;
    } else if (a.rfind("--", 0) == 0) {
      throw Bad{"live: unknown flag " + a};
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 1) throw Bad{"live takes exactly one SCENARIO file"};
  if (opt.bootstrap.empty() == (opt.mock_brokers == 0))
    throw Bad{"live needs exactly one of --bootstrap HOST:PORT and --mock-brokers N"};
  if (!fault_commands.empty() && opt.mock_brokers > 0)
    throw Bad{"--fault-command: only with --bootstrap (the mock cluster carries out broker faults itself)"};
  if (!fault_commands.empty()) {
    // The operator's command runs through the shell with the fault's details
    // appended; it blocks the run's thread while it runs, so it should be quick
    // (stop a broker and return). Its output goes to ours.
    for (const auto& [kind, cmd] : fault_commands) opt.delegated_faults.insert(kind);
    opt.run_fault = [fault_commands](proto::FaultKind kind, const std::string& phase, int broker, Duration dur) {
      const std::string line = fault_commands.at(kind) + " " + phase + " " + std::to_string(broker) + " " +
                               std::to_string(dur.ns() / 1'000'000) + " " + proto::FaultKind_Name(kind);
      std::cout << std::flush;
      const int status = std::system(line.c_str());
      return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    };
  }
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) {
      std::cerr << config_file << ": error: cannot read configuration file: " << std::strerror(errno) << "\n";
      return kUsage;
    }
    std::string line;
    std::vector<std::pair<std::string, std::string>> from_file;
    for (int n = 1; std::getline(in, line); ++n) {
      const size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string::npos || line[b] == '#') continue;
      const size_t e = line.find_last_not_of(" \t\r");
      const std::string kv = line.substr(b, e - b + 1);
      try {
        from_file.push_back(key_value(config_file + ":" + std::to_string(n) + ":" + std::to_string(b + 1), kv));
      } catch (const Bad& bad) {
        std::cerr << bad.message << "\n";
        return kUsage;
      }
    }
    // The command line's --config wins over the file's.
    from_file.insert(from_file.end(), opt.client_config.begin(), opt.client_config.end());
    opt.client_config = std::move(from_file);
  }
  // Connection timeout from the user's librdkafka settings when given.
  for (const auto& [k, v] : opt.client_config)
    if (k == "socket.connection.setup.timeout.ms" && !v.empty() && v.find_first_not_of("0123456789") == std::string::npos)
      opt.connect_timeout = Duration::millis(std::stoll(v));

  const std::string path = positional[0];
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << path << ": error: cannot read scenario: " << std::strerror(errno) << "\n";
    return kUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  proto::Scenario s;
  scenarios::ScenarioError se;
  if (!scenarios::parse_scenario(text.str(), path, &s, &se)) {
    std::cerr << se.format() << "\n";
    return kUsage;
  }
  if (!report_dir.empty()) {
    std::error_code ec;
    fs::create_directories(report_dir, ec);
    if (ec) {
      std::cerr << report_dir << ": error: cannot create report directory: " << ec.message() << "\n";
      return kUsage;
    }
  }

  // A prefix no other run shares: the scenario, the wall clock and the pid.
  const uint64_t now_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  char hex[40];
  std::snprintf(hex, sizeof hex, "%" PRIx64, (now_ns / 1000) ^ (static_cast<uint64_t>(::getpid()) << 44));
  std::string name = s.name();
  if (name.rfind("pipeline/", 0) == 0) name = name.substr(9);
  opt.topic_prefix = "ss-" + topic_safe(name) + "-" + hex + "-";
  opt.storage_dir = (fs::temp_directory_path() / ("streamsim-" + opt.topic_prefix + "data")).string();
  opt.stop_requested = [] { return g_interrupted != 0; };
  opt.print = [](const std::string& line) { std::cout << line << "\n" << std::flush; };

  std::cout << "scenario: " << s.name() << " (" << path << ")\n" << "mode: live\n" << std::flush;
  std::signal(SIGINT, on_sigint);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = harness::run_live(s, opt);
  std::signal(SIGINT, SIG_DFL);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::error_code ec;
  fs::remove_all(opt.storage_dir, ec);
  if (!r.ok()) {
    std::cerr << "streamsim live: error: " << r.error().message << "\n";
    return kUsage;
  }
  const harness::LiveRunResult& res = *r;
  for (const auto& p : res.report.properties) {
    if (p.held) std::cout << "property " << p.name << ": held\n";
    else std::cout << "property " << p.name << ": VIOLATED " << p.evidence << "\n";
  }
  char line[512];
  std::snprintf(line, sizeof line,
                "throughput: %.1f events/s live (%" PRIu64 " events in %.1fs) | simulation: %s\n",
                res.live.throughput_events_per_s, res.live.events, static_cast<double>(res.live.input_phase.ns()) / 1e9,
                res.sim ? (std::to_string(static_cast<int64_t>(res.sim->throughput_events_per_s + 0.5)) + " events/s").c_str()
                        : "not run");
  std::cout << line;
  std::snprintf(line, sizeof line,
                "latency: p50 %.0f ms, p99 %.0f ms, max %.0f ms live (%" PRIu64 " events, %" PRIu64
                " unmeasured) | simulation: p50 %.0f ms, p99 %.0f ms\n",
                res.live.latency_p50_ms, res.live.latency_p99_ms, res.live.latency_max_ms, res.live.latency_events,
                res.live.latency_unmeasured, res.sim ? res.sim->latency_p50_ms : 0.0, res.sim ? res.sim->latency_p99_ms : 0.0);
  std::cout << line;
  std::cout << "end: " << res.report.stop << "\n";
  std::snprintf(line, sizeof line, "wall: %.1fs\n", wall);
  std::cout << line;

  std::string replay = quote(argv[0]) + " live " + quote(path);
  for (const auto& f : replay_flags) replay += " " + f;
  replay += " --seed " + std::to_string(res.seed);
  if (!report_dir.empty()) {
    const proto::RunSummary sum = harness::to_summary(res.report, s, path, replay, wall);
    const fs::path dir(report_dir);
    const fs::path json = dir / "summary.json", html = dir / "report.html", junit = dir / "junit.xml";
    if (!write_file(json, reports::to_json(sum) + "\n") || !write_file(html, reports::html_report(sum)) ||
        !write_file(junit, reports::junit_xml(sum))) {
      std::cerr << report_dir << ": error: cannot write the report files\n";
      return kUsage;
    }
    std::cout << "report: " << json.string() << " " << html.string() << " " << junit.string() << "\n";
  }
  if (!res.inconclusive.empty()) {
    std::cout << "INCONCLUSIVE: " << res.inconclusive << "\n";
    return kUsage;
  }
  if (const auto* v = res.report.first_violation()) {
    std::cout << "FAILED: " << res.report.scenario << " (" << path << ") live seed " << res.seed << " violated " << v->name
              << "\n";
    std::cout << "evidence: " << (v->evidence.empty() ? "(none given)" : v->evidence) << "\n";
    std::cout << "rerun: " << replay << (have_seed ? "" : "") << "\n";
    return kViolated;
  }
  std::cout << "PASSED: every checked property held" << (res.interrupted ? " (input ended by Ctrl-C)" : "") << "\n";
  return kOk;
}

}  // namespace

// Called by the dispatcher in cli/main.cpp for `streamsim live ...`.
int streamsim_cli_live(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Bad& b) {
    std::cerr << "streamsim: " << b.message << "\n" << kLiveUsage;
    return kUsage;
  }
}
