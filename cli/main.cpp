// streamsim: the command-line entry point (DESIGN.md section 6).
//
// This folder is the only non-simulation code allowed to read the real clock
// (wall time and time compression), use real entropy (a seed when none is given),
// read and write files, and start processes (sweep --jobs). Everything it runs
// underneath is deterministic library code.
//
// Exit codes: 0 every property held; 1 a property was violated (the output names
// the seed and property and prints the replay command); 2 usage, scenario or
// configuration error (the message names file:line:column and the field).
#include <streamsim/core/assert.h>
#include <streamsim/core/trace.h>
#include <streamsim/harness/bench.h>
#include <streamsim/harness/report_proto.h>
#include <streamsim/harness/runner.h>
#include <streamsim/harness/shrink.h>
#include <streamsim/reports/report.h>
#include <streamsim/reports/trace_writer.h>
#include <streamsim/scenarios/scenario.h>

#include <google/protobuf/stubs/common.h>
#include <google/protobuf/text_format.h>

#include <csignal>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace streamsim;

namespace {

constexpr int kOk = 0, kViolated = 1, kUsage = 2;

const char* kUsageText =
    "usage:\n"
    "  streamsim list [DIR]\n"
    "  streamsim run SCENARIO [--seed N] [--trace FILE] [--report DIR] [--log-level L] [--wall-timeout S]\n"
    "  streamsim replay SCENARIO --seed N [--trace FILE] [--report DIR] [--log-level L]\n"
    "  streamsim sweep SCENARIO|DIR... --seeds N [--first-seed N] [--jobs J] [--shard I/N] [--time-budget D]\n"
    "                  [--wall-timeout S] [--max-rss-mib M] [--junit FILE] [--report DIR]\n"
    "                  (D: 90s, 10m, 1h, 500ms; a bare number is seconds;\n"
    "                  M: peak resident memory per seed, default 512, 0 = unchecked)\n"
    "  streamsim shrink SCENARIO --seed N [--out FILE] [--max-runs N] [--wall-timeout S]\n"
    "  streamsim live SCENARIO (--bootstrap HOST:PORT | --mock-brokers N) [--config k=v] [--config-file FILE]\n"
    "                 [--duration D] [--report DIR] [--fault-command KIND=CMD]   (docs/live.md)\n"
    "  streamsim bench kernel [--json]\n"
    "  streamsim bench kafka [--messages N] [--json]\n"
    "  streamsim bench nexmark [--query q0|q1|q2|q5|q7|all] [--events N] [--sim-events N] [--json]\n"
    "reports (docs/reports.md): --report DIR writes DIR/summary.json and DIR/report.html, plus DIR/junit.xml\n"
    "  for run and replay; sweep --junit FILE writes JUnit XML, one testcase per scenario and seed\n"
    "exit codes: 0 all properties held, 1 a property was violated, 2 usage or scenario error\n";

struct UsageError {
  std::string message;
};

[[noreturn]] void usage_error(const std::string& msg) { throw UsageError{msg}; }

uint64_t parse_u64(const std::string& flag, const std::string& v) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size())
    usage_error(flag + ": expected a non-negative integer, got '" + v + "'");
  return out;
}

// Flags of one command: --name value pairs, boolean switches, and positionals.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::map<std::string, bool> switches;
};

Args parse_args(const std::string& cmd, int argc, char** argv, int start, const std::vector<std::string>& value_flags,
                const std::vector<std::string>& switch_flags) {
  Args a;
  for (int i = start; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      std::string name = s, value;
      bool inline_value = false;
      if (auto eq = s.find('='); eq != std::string::npos) {
        name = s.substr(0, eq);
        value = s.substr(eq + 1);
        inline_value = true;
      }
      if (std::find(switch_flags.begin(), switch_flags.end(), name) != switch_flags.end()) {
        if (inline_value) usage_error(name + " takes no value");
        a.switches[name] = true;
        continue;
      }
      if (std::find(value_flags.begin(), value_flags.end(), name) == value_flags.end())
        usage_error("unknown option '" + name + "' for '" + cmd + "'");
      if (!inline_value) {
        if (i + 1 >= argc) usage_error(name + " needs a value");
        value = argv[++i];
      }
      if (a.values.count(name)) usage_error(name + " given twice");
      a.values[name] = value;
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

bool read_file(const std::string& path, std::string* out, std::string* err) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    *err = "is a directory";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Loads a scenario or prints the error (file:line:column) and returns nullopt.
std::optional<proto::Scenario> load(const std::string& path) {
  std::string text, err;
  if (!read_file(path, &text, &err)) {
    std::cerr << path << ": error: cannot read scenario: " << err << "\n";
    return std::nullopt;
  }
  proto::Scenario s;
  scenarios::ScenarioError e;
  if (!scenarios::parse_scenario(text, path, &s, &e)) {
    std::cerr << e.format() << "\n";
    return std::nullopt;
  }
  return s;
}

std::string self_path(const char* argv0) { return argv0; }

// Writes one report file; on failure prints "PATH: error: cannot write ...: why"
// and returns false (the caller exits 2).
bool write_report_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) {
    out << text;
    out.flush();
  }
  if (!out) {
    std::cerr << path.string() << ": error: cannot write report file: " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

// Creates a --report directory (and its parents); on failure prints the path
// and the reason and returns false.
bool make_report_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec && !fs::is_directory(dir, ec)) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) {
    std::cerr << dir << ": error: cannot create report directory: " << ec.message() << "\n";
    return false;
  }
  return true;
}

// Quotes a word for a POSIX shell when it holds anything beyond safe characters.
std::string shell_quote(const std::string& w) {
  bool safe = !w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,") ==
                                std::string::npos;
  if (safe) return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string replay_command(const std::string& self, const std::string& path, uint64_t seed) {
  return shell_quote(self) + " replay " + shell_quote(path) + " --seed " + std::to_string(seed);
}

double wall_seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void print_report(const harness::RunReport& r, double wall_s) {
  for (const auto& p : r.properties) {
    if (p.held) {
      std::cout << "property " << p.name << ": held\n";
    } else {
      std::cout << "property " << p.name << ": VIOLATED " << p.evidence << "\n";
    }
  }
  double sim_s = static_cast<double>(r.sim_time_ns) / 1e9;
  char line[256];
  std::snprintf(line, sizeof line, "sim-time: %s  steps: %llu  events: %llu  wall: %.3fs  time-compression: %.1fx\n",
                format_instant(Instant::from_ns(r.sim_time_ns)).c_str(), static_cast<unsigned long long>(r.steps),
                static_cast<unsigned long long>(r.trace_events), wall_s, wall_s > 0 ? sim_s / wall_s : 0.0);
  std::cout << line;
  std::cout << "trace-hash: " << Tracer::hex(r.trace_hash) << "\n";
}

// Coverage marks reached (with hit counts) and the scenario's targets. A missed
// target does not fail a single run; a sweep fails when no seed reaches it.
void print_coverage(const harness::RunReport& r) {
  std::cout << "coverage:";
  if (r.coverage.empty()) std::cout << " (no marks reached)";
  for (size_t i = 0; i < r.coverage.size(); ++i)
    std::cout << (i ? ", " : " ") << r.coverage[i].first << " (" << r.coverage[i].second << ")";
  std::cout << "\n";
  for (const auto& t : r.targets_reached) std::cout << "target " << t << ": reached\n";
  for (const auto& t : r.targets_missed) std::cout << "target " << t << ": missed\n";
}

int cmd_run(const std::string& self, int argc, char** argv, bool replay) {
  const std::string cmd = replay ? "replay" : "run";
  Args a = parse_args(cmd, argc, argv, 2, {"--seed", "--trace", "--report", "--log-level", "--wall-timeout"}, {"--verbose"});
  if (a.positional.size() != 1) usage_error(cmd + " takes exactly one SCENARIO file");
  if (replay && !a.values.count("--seed")) usage_error("replay needs --seed N");
  const std::string path = a.positional[0];
  uint64_t seed;
  if (a.values.count("--seed")) {
    seed = parse_u64("--seed", a.values["--seed"]);
  } else {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  std::string level = a.values.count("--log-level") ? a.values["--log-level"] : (replay ? "info" : "warn");
  static const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "err", "critical", "off"};
  if (std::find(levels.begin(), levels.end(), level) == levels.end())
    usage_error("--log-level: expected one of trace, debug, info, warn, err, critical, off; got '" + level + "'");

  auto s = load(path);
  if (!s) return kUsage;

  std::ofstream trace_out;
  std::optional<reports::JsonLinesTraceWriter> writer;
  if (a.values.count("--trace")) {
    trace_out.open(a.values["--trace"], std::ios::binary | std::ios::trunc);
    if (!trace_out) {
      std::cerr << a.values["--trace"] << ": error: cannot write trace file: " << std::strerror(errno) << "\n";
      return kUsage;
    }
    writer.emplace(trace_out);
  }
  if (a.values.count("--report") && !make_report_dir(a.values["--report"])) return kUsage;

  // The seed and the chosen fault settings come first, so even a run that
  // crashes the process has said how to reproduce it.
  std::cout << "scenario: " << s->name() << " (" << path << ")\n";
  std::cout << "seed: " << seed << "\n" << std::flush;
  if (a.values.count("--wall-timeout")) {
    // Spinning tasks are invisible to the kernel's step bound; SIGALRM ends the
    // process, and the seed printed above is all a replay needs.
    uint64_t t = parse_u64("--wall-timeout", a.values["--wall-timeout"]);
    if (t > 0) ::alarm(static_cast<unsigned>(t));
  }
  harness::RunOptions opt;
  opt.seed = seed;
  opt.trace = writer ? &*writer : nullptr;
  opt.log_level = level;
  auto t0 = std::chrono::steady_clock::now();
  harness::RunReport r = harness::run_scenario(*s, opt);
  double wall = wall_seconds(t0);
  std::cout << "faults: " << r.faults << "\n";
  if (replay || a.switches.count("--verbose")) {
    for (const auto& f : r.fault_log) std::cout << "  fault " << f << "\n";
  }
  print_report(r, wall);
  print_coverage(r);
  const std::string replay_cmd = replay_command(self, path, seed);
  if (writer) trace_out.flush();
  int rc = kOk;
  if (const auto* v = r.first_violation()) {
    std::cout << "FAILED: " << r.scenario << " (" << path << ") seed " << seed << " violated " << v->name << "\n";
    std::cout << "evidence: " << (v->evidence.empty() ? "(none given)" : v->evidence) << "\n";
    std::cout << "replay: " << replay_cmd << "\n";
    rc = kViolated;
  }
  if (a.values.count("--report")) {
    // The three formats of one run (docs/reports.md), from one summary message.
    const proto::RunSummary sum = harness::to_summary(r, *s, path, replay_cmd, wall);
    const fs::path dir = a.values["--report"];
    const fs::path json = dir / "summary.json", html = dir / "report.html", junit = dir / "junit.xml";
    if (!write_report_file(json, reports::to_json(sum) + "\n") || !write_report_file(html, reports::html_report(sum)) ||
        !write_report_file(junit, reports::junit_xml(sum)))
      return kUsage;
    std::cout << "report: " << json.string() << " " << html.string() << " " << junit.string() << "\n";
  }
  return rc;
}

void collect(const std::string& arg, std::vector<std::string>* out) {
  std::error_code ec;
  if (fs::is_directory(arg, ec)) {
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(arg, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_regular_file() && it->path().extension() == ".textproto") found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    out->insert(out->end(), found.begin(), found.end());
  } else {
    out->push_back(arg);
  }
}

int cmd_list(int argc, char** argv) {
  Args a = parse_args("list", argc, argv, 2, {}, {});
  if (a.positional.size() > 1) usage_error("list takes at most one DIR");
  std::vector<std::string> files;
  collect(a.positional.empty() ? "scenarios" : a.positional[0], &files);
  int rc = kOk;
  for (const auto& f : files) {
    auto s = load(f);
    if (!s) {
      rc = kUsage;
      continue;
    }
    std::cout << f << "  " << s->name();
    if (!s->expect().expect_violation().empty()) std::cout << "  [canary: " << s->expect().expect_violation() << "]";
    std::cout << "\n";
    if (!s->description().empty()) std::cout << "    " << s->description() << "\n";
  }
  return rc;
}

struct SeedResult {
  uint64_t seed = 0;
  bool crashed = false;
  std::string hash;
  std::vector<std::pair<std::string, std::string>> violations;  // property, evidence
  std::vector<std::string> marks;                                // coverage marks reached
  double wall_s = 0;          // the child's own wall time for the run
  uint64_t max_rss_bytes = 0;  // the child's peak resident memory (getrusage)
  // The run's report summary (only when the sweep writes reports): the child
  // sends it as one line of JSON; its timeline only when the seed failed.
  std::optional<proto::RunSummary> summary;
};

// Runs one seed in a forked child and returns its result through a pipe: one
// line per violation, one per coverage mark, then the hash; with reports, one
// "R\t" line holding the run's proto::RunSummary as JSON (no newline inside).
// A child that dies is reported as crashed.
struct Child {
  pid_t pid;
  int fd;
  uint64_t seed;
  size_t scenario;
};

std::string sanitize(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return s;
}

// A duration for --time-budget: a number with unit ms, s, m or h (a bare
// number is seconds). Returns milliseconds.
uint64_t parse_duration_ms(const std::string& flag, const std::string& v) {
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  const std::string unit = v.substr(digits);
  uint64_t mult = 0;
  if (unit.empty() || unit == "s") mult = 1000;
  else if (unit == "ms") mult = 1;
  else if (unit == "m" || unit == "min") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  if (digits == 0 || mult == 0)
    usage_error(flag + ": expected a duration such as 90s, 10m, 1h or 500ms, got '" + v + "'");
  const uint64_t n = parse_u64(flag, v.substr(0, digits));
  if (n > UINT64_MAX / mult) usage_error(flag + ": duration too large: '" + v + "'");
  return n * mult;
}

// Progress of a sweep: a redrawn bar when stderr is a terminal, else one plain
// line per finished run on stdout (CI logs, pipes), so logs stay readable.
class Progress {
 public:
  Progress(size_t total, std::chrono::steady_clock::time_point t0)
      : total_(total), t0_(t0), tty_(::isatty(STDERR_FILENO) != 0) {}
  bool tty() const { return tty_; }

  void finished(const std::string& file, const SeedResult& r) {
    ++done_;
    if (!r.violations.empty()) ++with_violations_;
    const double el = wall_seconds(t0_);
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = total_ ? static_cast<int>(kWidth * done_ / total_) : kWidth;
      std::string bar(static_cast<size_t>(filled), '#');
      bar += std::string(static_cast<size_t>(kWidth - filled), '.');
      char line[200];
      std::snprintf(line, sizeof line, "\r[%s] %zu/%zu runs, %zu with violations, %.1f s", bar.c_str(), done_, total_,
                    with_violations_, el);
      std::cerr << line << std::flush;
      return;
    }
    char head[64];
    std::snprintf(head, sizeof head, "[%zu/%zu %.1fs] ", done_, total_, el);
    std::cout << head << file << " seed " << r.seed << ": ";
    if (r.violations.empty()) std::cout << "ok\n";
    else std::cout << "violated " << r.violations[0].first << "\n";
    std::cout << std::flush;
  }
  void end() {
    if (tty_ && done_ > 0) std::cerr << "\r\033[K" << std::flush;
  }

 private:
  size_t total_, done_ = 0, with_violations_ = 0;
  std::chrono::steady_clock::time_point t0_;
  bool tty_;
};

// Failing seeds per scenario whose timeline a sweep report keeps; the others
// keep their summary, evidence and replay command (docs/reports.md).
constexpr size_t kMaxFailingTimelines = 20;

// Completes a seed's report summary in the parent: a child that died sent none
// (one is made from what the parent knows), and the parent's own verdicts (a
// crash, the memory bound) join its properties. Keeps the timelines of at most
// kMaxFailingTimelines failing seeds per scenario (*kept counts them).
void add_sweep_summary(SeedResult& res, const proto::Scenario& sc, const std::string& file, const std::string& self,
                       size_t* kept, uint64_t* omitted) {
  if (!res.summary) {
    proto::RunSummary s;
    s.set_scenario(sc.name());
    s.set_scenario_file(file);
    s.set_seed(res.seed);
    s.set_expect_violation(sc.expect().expect_violation());
    s.set_replay(replay_command(self, file, res.seed));
    s.set_trace_hash(res.hash);
    s.set_wall_s(res.wall_s);
    s.set_max_rss_bytes(res.max_rss_bytes);
    res.summary = std::move(s);
  }
  proto::RunSummary& s = *res.summary;
  s.set_crashed(res.crashed);
  for (const auto& [name, evidence] : res.violations) {
    bool known = false;
    for (const auto& p : s.properties()) known = known || (p.name() == name && !p.held());
    if (known) continue;
    auto* p = s.add_properties();
    p->set_name(name);
    p->set_held(false);
    p->set_evidence(evidence);
  }
  s.set_passed(res.violations.empty());
  if (!s.passed() && s.has_timeline()) {
    if (*kept < kMaxFailingTimelines) {
      ++*kept;
    } else {
      s.clear_timeline();
      ++*omitted;
    }
  }
}

int cmd_sweep(const std::string& self, int argc, char** argv) {
  Args a = parse_args("sweep", argc, argv, 2,
                      {"--seeds", "--first-seed", "--jobs", "--shard", "--wall-timeout", "--time-budget", "--max-rss-mib",
                       "--junit", "--report"},
                      {});
  if (a.positional.empty()) usage_error("sweep needs at least one SCENARIO or DIR");
  if (!a.values.count("--seeds")) usage_error("sweep needs --seeds N");
  uint64_t seeds = parse_u64("--seeds", a.values["--seeds"]);
  if (seeds == 0) usage_error("--seeds: must be at least 1");
  uint64_t first = a.values.count("--first-seed") ? parse_u64("--first-seed", a.values["--first-seed"]) : 1;
  if (first > UINT64_MAX - seeds) usage_error("--first-seed: the seed range overflows");
  uint64_t jobs = a.values.count("--jobs") ? parse_u64("--jobs", a.values["--jobs"]) : 1;
  if (jobs == 0 || jobs > 256) usage_error("--jobs: must be between 1 and 256");
  // A task that spins without ever suspending cannot be stopped by the kernel's
  // step bound (scheduling is cooperative); the wall-clock budget catches it.
  uint64_t wall_timeout = a.values.count("--wall-timeout") ? parse_u64("--wall-timeout", a.values["--wall-timeout"]) : 600;
  // Each seed of a scenario must run within this much resident memory (0: unchecked).
  const uint64_t max_rss_bytes =
      (a.values.count("--max-rss-mib") ? parse_u64("--max-rss-mib", a.values["--max-rss-mib"]) : 512) << 20;
  // The time budget stops starting new seeds; the ones running finish.
  std::optional<uint64_t> budget_ms;
  if (a.values.count("--time-budget")) budget_ms = parse_duration_ms("--time-budget", a.values["--time-budget"]);
  uint64_t shard_i = 0, shard_n = 1;
  if (a.values.count("--shard")) {
    std::string v = a.values["--shard"];
    auto slash = v.find('/');
    if (slash == std::string::npos) usage_error("--shard: expected I/N, got '" + v + "'");
    shard_i = parse_u64("--shard", v.substr(0, slash));
    shard_n = parse_u64("--shard", v.substr(slash + 1));
    if (shard_n == 0 || shard_i >= shard_n) usage_error("--shard: need 0 <= I < N, got '" + v + "'");
  }
  std::vector<std::string> files;
  for (const auto& p : a.positional) collect(p, &files);
  if (files.empty()) usage_error("no .textproto scenario files found");
  std::vector<proto::Scenario> loaded;
  for (const auto& f : files) {
    auto s = load(f);
    if (!s) return kUsage;
    loaded.push_back(*s);
  }
  // Report destinations are checked before any seed runs: a sweep of an hour
  // must not end in "cannot write".
  const bool want_reports = a.values.count("--junit") || a.values.count("--report");
  if (a.values.count("--report") && !make_report_dir(a.values["--report"])) return kUsage;
  if (a.values.count("--junit")) {
    std::ofstream probe(a.values["--junit"], std::ios::binary | std::ios::app);
    if (!probe) {
      std::cerr << a.values["--junit"] << ": error: cannot write JUnit file: " << std::strerror(errno) << "\n";
      return kUsage;
    }
  }

  // Work list: (scenario, seed), sharded by position so shards never overlap
  // and together cover every (scenario, seed) pair exactly once.
  std::vector<std::pair<size_t, uint64_t>> work;
  uint64_t k = 0;
  for (size_t si = 0; si < files.size(); ++si) {
    for (uint64_t s = first; s < first + seeds; ++s, ++k) {
      if (k % shard_n == shard_i) work.push_back({si, s});
    }
  }
  std::cout << "sweep: " << files.size() << " scenario(s), seeds " << first << ".." << first + seeds - 1;
  if (shard_n > 1) std::cout << " shard " << shard_i << "/" << shard_n;
  std::cout << ", " << work.size() << " runs, " << jobs << " job(s)";
  if (budget_ms) std::cout << ", time budget " << a.values["--time-budget"];
  std::cout << "\n" << std::flush;

  std::vector<std::vector<SeedResult>> results(files.size());
  std::vector<size_t> failing_timelines(files.size(), 0);
  std::vector<uint64_t> timelines_omitted(files.size(), 0);
  std::vector<Child> running;
  size_t next = 0;
  auto t0 = std::chrono::steady_clock::now();
  Progress progress(work.size(), t0);
  auto budget_spent = [&] { return budget_ms && wall_seconds(t0) * 1000.0 >= static_cast<double>(*budget_ms); };
  auto launch = [&](size_t si, uint64_t seed) {
    int fds[2];
    if (::pipe(fds) != 0) {
      std::perror("pipe");
      std::exit(kUsage);
    }
    std::cout.flush();
    std::cerr.flush();
    pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      std::exit(kUsage);
    }
    if (pid == 0) {
      ::close(fds[0]);
      if (wall_timeout > 0) ::alarm(static_cast<unsigned>(wall_timeout));
      harness::RunOptions opt;
      opt.seed = seed;
      opt.log_level = "off";
      const auto run_t0 = std::chrono::steady_clock::now();
      harness::RunReport r = harness::run_scenario(loaded[si], opt);
      const double run_wall = wall_seconds(run_t0);
      std::string out;
      struct rusage ru {};
      ::getrusage(RUSAGE_SELF, &ru);
      out += "W\t" + std::to_string(run_wall) + "\n";
      if (want_reports) {
        proto::RunSummary sum =
            harness::to_summary(r, loaded[si], files[si], replay_command(self, files[si], seed), run_wall);
        sum.set_max_rss_bytes(static_cast<uint64_t>(ru.ru_maxrss) * 1024);
        // Passing seeds contribute only their summary: timelines are for failures.
        if (sum.passed()) sum.clear_timeline();
        out += "R\t" + reports::to_json(sum) + "\n";
      }
      out += "M\t" + std::to_string(static_cast<uint64_t>(ru.ru_maxrss) * 1024) + "\n";
      for (const auto& p : r.properties) {
        if (!p.held) out += "V\t" + p.name + "\t" + sanitize(p.evidence) + "\n";
      }
      for (const auto& [mark, hits] : r.coverage) out += "C\t" + sanitize(mark) + "\n";
      out += "H\t" + Tracer::hex(r.trace_hash) + "\n";
      size_t off = 0;
      while (off < out.size()) {
        ssize_t n = ::write(fds[1], out.data() + off, out.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    running.push_back(Child{pid, fds[0], seed, si});
  };
  bool budget_stopped = false;
  while ((next < work.size() && !budget_stopped) || !running.empty()) {
    while (next < work.size() && running.size() < jobs) {
      if (budget_spent()) {
        budget_stopped = true;
        break;
      }
      launch(work[next].first, work[next].second);
      ++next;
    }
    if (running.empty()) break;
    // Read the oldest child's output to its end (it exits when done writing).
    Child c = running.front();
    running.erase(running.begin());
    std::string data;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(c.fd, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    ::close(c.fd);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    SeedResult res;
    res.seed = c.seed;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      res.crashed = true;
      std::string why = !WIFSIGNALED(status) ? "the run exited with code " + std::to_string(WEXITSTATUS(status))
                        : WTERMSIG(status) == SIGALRM
                            ? "the run exceeded its wall-clock budget of " + std::to_string(wall_timeout) +
                                  " s (a task spinning without suspending?)"
                            : "the run died with signal " + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
      res.violations.push_back({"within_limits", why});
    }
    std::istringstream in(data);
    std::string line;
    while (std::getline(in, line)) {
      auto t1 = line.find('\t');
      if (line.rfind("H\t", 0) == 0) res.hash = line.substr(2);
      if (line.rfind("C\t", 0) == 0) res.marks.push_back(line.substr(2));
      if (line.rfind("W\t", 0) == 0) res.wall_s = std::strtod(line.c_str() + 2, nullptr);
      if (line.rfind("M\t", 0) == 0) res.max_rss_bytes = std::strtoull(line.c_str() + 2, nullptr, 10);
      if (line.rfind("R\t", 0) == 0) {
        proto::RunSummary sum;
        std::string err;
        if (reports::from_json(std::string_view(line).substr(2), &sum, &err)) res.summary = std::move(sum);
        else std::cerr << "sweep: seed " << c.seed << ": unreadable report line from the child: " << err << "\n";
      }
      if (line.rfind("V\t", 0) == 0) {
        auto t2 = line.find('\t', t1 + 1);
        res.violations.push_back({line.substr(t1 + 1, t2 - t1 - 1), line.substr(t2 + 1)});
      }
    }
    // Bound memory per scenario: a seed whose process grew past the bound is a
    // violation of its own, whatever its properties say.
    if (max_rss_bytes && res.max_rss_bytes > max_rss_bytes) {
      res.violations.push_back({"memory_bound", "peak resident memory " + std::to_string(res.max_rss_bytes >> 20) +
                                                    " MiB exceeds --max-rss-mib " + std::to_string(max_rss_bytes >> 20)});
    }
    if (want_reports) add_sweep_summary(res, loaded[c.scenario], files[c.scenario], self, &failing_timelines[c.scenario],
                                        &timelines_omitted[c.scenario]);
    progress.finished(files[c.scenario], res);
    results[c.scenario].push_back(std::move(res));
  }
  progress.end();
  const double wall = wall_seconds(t0);
  const size_t ran = next;
  SS_ASSERT(ran <= work.size(), "a sweep runs at most its work list");
  if (budget_stopped) {
    std::cout << "sweep: time budget of " << a.values["--time-budget"] << " spent: ran " << ran << " of " << work.size()
              << " runs; the verdict covers the runs that ran\n";
  }

  uint64_t passed = 0, failed = 0, skipped = 0;
  // Per scenario: its verdict and why, for the reports.
  std::vector<std::pair<std::string, std::string>> verdicts(files.size());
  std::vector<std::vector<std::string>> missed_targets(files.size());
  struct Row {
    std::string file, kind, verdict;
    size_t seeds = 0, violated = 0;
    double wall_s = 0;
    uint64_t rss = 0;
  };
  std::vector<Row> table;
  for (size_t si = 0; si < files.size(); ++si) {
    auto& rs = results[si];
    if (rs.empty()) {
      // Only a time budget (or a shard) leaves a scenario without runs.
      ++skipped;
      std::cout << "SKIP " << files[si] << ": no seed ran" << (budget_stopped ? " within the time budget" : "") << "\n";
      continue;
    }
    std::sort(rs.begin(), rs.end(), [](auto& x, auto& y) { return x.seed < y.seed; });
    bool scenario_failed = false;
    // Coverage: a target reached by no seed means the sweep did not test what
    // the scenario is for, whatever the properties say.
    std::map<std::string, uint64_t> reached;
    for (const auto& r : rs) {
      for (const auto& m : r.marks) ++reached[m];
    }
    std::vector<std::string> missed;
    std::string target_summary;
    for (const auto& t : loaded[si].expect().targets()) {
      auto it = reached.find(t);
      if (it == reached.end()) missed.push_back(t);
      target_summary += (target_summary.empty() ? "" : ", ") + t + " " +
                        std::to_string(it == reached.end() ? 0 : it->second) + "/" + std::to_string(rs.size());
    }
    const std::string canary = loaded[si].expect().expect_violation();
    if (!canary.empty()) {
      // A canary passes when its deliberate bug is caught; other crashes still fail.
      std::vector<uint64_t> caught;
      for (auto& r : rs) {
        for (auto& v : r.violations) {
          if (v.first == canary) {
            caught.push_back(r.seed);
            break;
          }
        }
      }
      if (!caught.empty()) {
        std::cout << (missed.empty() ? "PASS " : "FAIL ") << files[si] << ": canary caught " << canary << " in "
                  << caught.size() << " of " << rs.size() << " seeds (first: seed " << caught.front() << ")\n";
        for (auto& r : rs) {
          if (r.seed != caught.front()) continue;
          for (auto& v : r.violations) {
            if (v.first == canary) std::cout << "  evidence: " << v.second << "\n";
          }
        }
        std::cout << "  replay: " << replay_command(self, files[si], caught.front()) << "\n";
      } else {
        scenario_failed = true;
        std::cout << "FAIL " << files[si] << ": canary never caught " << canary << " in " << rs.size() << " seeds\n";
      }
    } else {
      uint64_t bad = 0;
      for (auto& r : rs) {
        if (r.violations.empty()) continue;
        ++bad;
        if (bad <= 10) {
          std::cout << "FAIL " << files[si] << " (" << loaded[si].name() << ") seed " << r.seed << ": property "
                    << r.violations[0].first << " VIOLATED " << r.violations[0].second << "\n";
          std::cout << "  replay: " << replay_command(self, files[si], r.seed) << "\n";
        }
      }
      if (bad > 10) std::cout << "  ... and " << bad - 10 << " more failing seeds\n";
      if (bad == 0 && missed.empty()) std::cout << "PASS " << files[si] << ": " << rs.size() << " seeds\n";
      scenario_failed = bad > 0;
    }
    for (const auto& t : missed) {
      std::cout << "FAIL " << files[si] << ": target " << t << " was never reached in " << rs.size() << " seeds\n";
    }
    if (!target_summary.empty()) std::cout << "  targets reached (seeds): " << target_summary << "\n";
    if (scenario_failed || !missed.empty()) ++failed;
    else ++passed;
    Row row{files[si], canary.empty() ? "safe" : "canary", "", rs.size(), 0, 0, 0};
    for (const auto& r : rs) {
      row.violated += r.violations.empty() ? 0 : 1;
      row.wall_s += r.wall_s;
      row.rss = std::max(row.rss, r.max_rss_bytes);
    }
    row.verdict = (scenario_failed || !missed.empty()) ? "FAIL" : canary.empty() ? "pass" : "caught";
    {
      std::string why;
      if (!canary.empty()) {
        uint64_t caught = 0;
        for (const auto& r : rs) {
          for (const auto& v : r.violations) {
            if (v.first == canary) {
              ++caught;
              break;
            }
          }
        }
        why = caught ? "canary caught " + canary + " in " + std::to_string(caught) + " of " + std::to_string(rs.size()) +
                           " seeds"
                     : "canary never caught " + canary + " in " + std::to_string(rs.size()) + " seeds";
      } else if (row.violated) {
        why = std::to_string(row.violated) + " of " + std::to_string(rs.size()) + " seeds violated a property";
      }
      for (const auto& t : missed)
        why += (why.empty() ? "" : "; ") + std::string("target ") + t + " was never reached in " +
               std::to_string(rs.size()) + " seeds";
      verdicts[si] = {row.verdict, why};
      missed_targets[si] = missed;
    }
    table.push_back(std::move(row));
  }
  // The summary table: one row per scenario, so a CI log or `make demo` reads
  // at a glance. Wall time is the sum of the seeds' own run times (CPU-bound,
  // so it does not depend on --jobs); memory is the largest seed's peak.
  if (!table.empty()) {
    size_t w = 8;
    for (const auto& r : table) w = std::max(w, r.file.size());
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-*s  %-6s  %5s  %8s  %-6s  %9s  %8s\n", static_cast<int>(w), "scenario", "kind",
                  "seeds", "violated", "result", "run s", "max MiB");
    std::cout << "\n" << buf;
    for (const auto& r : table) {
      std::snprintf(buf, sizeof buf, "%-*s  %-6s  %5zu  %8zu  %-6s  %9.1f  %8.0f\n", static_cast<int>(w),
                    r.file.c_str(), r.kind.c_str(), r.seeds, r.violated, r.verdict.c_str(), r.wall_s,
                    static_cast<double>(r.rss) / (1024.0 * 1024.0));
      std::cout << buf;
    }
  }
  char line[256];
  std::snprintf(line, sizeof line, "sweep: %zu seeds in %.1f s (%.1f seeds/min); scenarios: %llu passed, %llu failed",
                ran, wall, wall > 0 ? static_cast<double>(ran) * 60.0 / wall : 0.0,
                static_cast<unsigned long long>(passed), static_cast<unsigned long long>(failed));
  std::cout << line;
  if (skipped) std::cout << ", " << skipped << " not run";
  std::cout << "\n";
  if (want_reports) {
    proto::SweepSummary sw;
    std::string command = shell_quote(self);
    for (int i = 1; i < argc; ++i) command += " " + shell_quote(argv[i]);
    sw.set_command(command);
    sw.set_first_seed(first);
    sw.set_seeds(seeds);
    if (shard_n > 1) sw.set_shard(std::to_string(shard_i) + "/" + std::to_string(shard_n));
    sw.set_runs(ran);
    sw.set_wall_s(wall);
    sw.set_passed(passed);
    sw.set_failed(failed);
    sw.set_skipped(skipped);
    sw.set_budget_stopped(budget_stopped);
    for (size_t si = 0; si < files.size(); ++si) {
      if (results[si].empty()) continue;
      proto::ScenarioResult* sr = sw.add_scenarios();
      sr->set_scenario_file(files[si]);
      sr->set_scenario(loaded[si].name());
      sr->set_kind(loaded[si].expect().expect_violation().empty() ? "safe" : "canary");
      sr->set_verdict(verdicts[si].first);
      sr->set_reason(verdicts[si].second);
      sr->set_seeds(results[si].size());
      for (const auto& t : missed_targets[si]) sr->add_targets_missed(t);
      for (const auto& r : results[si]) {
        if (!r.violations.empty()) sr->set_violated(sr->violated() + 1);
        SS_ASSERT(r.summary.has_value(), "every seed of a reporting sweep has a summary");
        *sr->add_runs() = *r.summary;
      }
      sr->set_timelines_omitted(timelines_omitted[si]);
      for (auto& g : reports::group_failures(*sr)) *sr->add_groups() = std::move(g);
    }
    std::vector<std::string> written;
    if (a.values.count("--junit")) {
      if (!write_report_file(a.values["--junit"], reports::junit_xml(sw))) return kUsage;
      written.push_back(a.values["--junit"]);
    }
    if (a.values.count("--report")) {
      const fs::path dir = a.values["--report"];
      if (!write_report_file(dir / "summary.json", reports::to_json(sw) + "\n") ||
          !write_report_file(dir / "report.html", reports::html_report(sw)))
        return kUsage;
      written.push_back((dir / "summary.json").string());
      written.push_back((dir / "report.html").string());
    }
    std::cout << "report:";
    for (const auto& w : written) std::cout << " " << w;
    std::cout << "\n";
  }
  return failed ? kViolated : kOk;
}

// Writes `text` to `path` through a temporary file and a rename, so a failed
// write never leaves a truncated scenario behind.
bool write_file_atomically(const std::string& path, const std::string& text, std::string* err) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      *err = std::strerror(errno);
      return false;
    }
    out << text;
    out.flush();
    if (!out) {
      *err = std::strerror(errno);
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    *err = ec.message();
    fs::remove(tmp, ec);
    return false;
  }
  return true;
}

int cmd_shrink(const std::string& self, int argc, char** argv) {
  Args a = parse_args("shrink", argc, argv, 2, {"--seed", "--out", "--max-runs", "--wall-timeout"}, {});
  if (a.positional.size() != 1) usage_error("shrink takes exactly one SCENARIO file");
  if (!a.values.count("--seed")) usage_error("shrink needs --seed N (the failing seed)");
  const std::string path = a.positional[0];
  harness::ShrinkOptions opt;
  opt.seed = parse_u64("--seed", a.values["--seed"]);
  if (a.values.count("--max-runs")) opt.max_runs = parse_u64("--max-runs", a.values["--max-runs"]);
  if (opt.max_runs < 2) usage_error("--max-runs: must be at least 2 (the original run and one candidate)");
  opt.scenario_path = path;
  const std::string out_path = a.values.count("--out") ? a.values["--out"]
                                                        : fs::path(path).stem().string() + ".shrunk.textproto";
  opt.command = shell_quote(self);
  for (int i = 1; i < argc; ++i) opt.command += " " + shell_quote(argv[i]);
  auto s = load(path);
  if (!s) return kUsage;
  {
    // Refuse an unwritable --out before spending minutes on the search.
    std::ofstream probe_out(out_path + ".tmp", std::ios::binary | std::ios::trunc);
    if (!probe_out) {
      std::cerr << out_path << ": error: cannot write the shrunk scenario: " << std::strerror(errno) << "\n";
      return kUsage;
    }
    probe_out.close();
    std::error_code ec;
    fs::remove(out_path + ".tmp", ec);
  }
  if (a.values.count("--wall-timeout")) {
    uint64_t t = parse_u64("--wall-timeout", a.values["--wall-timeout"]);
    if (t > 0) ::alarm(static_cast<unsigned>(t));
  }
  std::cout << "shrink: " << s->name() << " (" << path << ") seed " << opt.seed << ", at most " << opt.max_runs
            << " runs\n"
            << std::flush;
  auto t0 = std::chrono::steady_clock::now();
  harness::ScenarioRunner runner = [](const proto::Scenario& sc, uint64_t seed) {
    harness::RunOptions ro;
    ro.seed = seed;
    ro.log_level = "off";
    return harness::run_scenario(sc, ro);
  };
  // A candidate must load exactly as the written file will.
  harness::ScenarioValidator valid = [&out_path](const proto::Scenario& sc) {
    std::string text;
    if (!google::protobuf::TextFormat::PrintToString(sc, &text)) return false;
    proto::Scenario back;
    scenarios::ScenarioError e;
    return scenarios::parse_scenario(text, out_path, &back, &e);
  };
  harness::ShrinkProgress progress = [](const std::string& line) { std::cout << line << "\n" << std::flush; };
  harness::ShrinkResult r = harness::shrink(*s, opt, runner, valid, progress);
  const double wall = wall_seconds(t0);
  switch (r.status) {
    case harness::ShrinkStatus::does_not_fail:
      std::cout << "shrink: seed " << opt.seed << " violates no property of " << path
                << ": nothing to shrink (exit 0)\n";
      return kOk;
    case harness::ShrinkStatus::not_reproducible:
      std::cout << "shrink: seed " << opt.seed << " violates " << r.property << ", but with its faults made explicit "
                << "no seed from " << opt.seed << " to " << opt.seed + opt.extra_seeds << " violates it again ("
                << r.runs << " runs); no file written\n";
      std::cout << "replay: " << replay_command(self, path, opt.seed) << "\n";
      return kViolated;
    case harness::ShrinkStatus::shrunk:
      break;
  }
  const std::string replay = shell_quote(self) + " run " + shell_quote(out_path) + " --seed " + std::to_string(r.seed);
  std::string err;
  if (!write_file_atomically(out_path, harness::shrunk_scenario_text(r, opt, replay), &err)) {
    std::cerr << out_path << ": error: cannot write the shrunk scenario: " << err << "\n";
    return kUsage;
  }
  if (r.seed != opt.seed)
    std::cout << "shrink: the explicit schedule no longer failed at seed " << opt.seed << "; it fails at seed " << r.seed
              << "\n";
  char line[200];
  std::snprintf(line, sizeof line, "shrink: %zu faults -> %zu, %llu runs in %.1f s%s\n", r.original_faults,
                r.final_faults, static_cast<unsigned long long>(r.runs), wall,
                r.run_limit_hit ? " (stopped at --max-runs)" : "");
  std::cout << line;
  for (const auto& step : r.steps) std::cout << "  kept: " << step << "\n";
  std::cout << "FAILED: " << s->name() << " (" << path << ") seed " << opt.seed << " violated " << r.property << "\n";
  std::cout << "evidence: " << (r.evidence.empty() ? "(none given)" : r.evidence) << "\n";
  std::cout << "wrote " << out_path << "\n";
  std::cout << "replay: " << replay << "\n";
  return kViolated;
}

int cmd_bench(int argc, char** argv) {
  Args a = parse_args("bench", argc, argv, 2, {"--query", "--scenario", "--messages", "--events", "--sim-events"},
                      {"--json"});
  if (a.positional.size() != 1) usage_error("bench takes one of: kernel, kafka, nexmark");
  const std::string what = a.positional[0];
  if (what == "kernel") {
    std::string scenario = a.values.count("--scenario") ? a.values["--scenario"] : "scenarios/kernel/network-faults.textproto";
    return bench::kernel(a.switches.count("--json") != 0, scenario);
  }
  if (what == "kafka") {
    uint64_t n = a.values.count("--messages") ? parse_u64("--messages", a.values["--messages"]) : 1'000'000;
    if (n == 0) usage_error("--messages: must be at least 1");
    return bench::kafka(a.switches.count("--json") != 0, n);
  }
  if (what == "nexmark") {
    const std::string query = a.values.count("--query") ? a.values["--query"] : "all";
    const uint64_t n = a.values.count("--events") ? parse_u64("--events", a.values["--events"]) : 10'000'000;
    if (n == 0) usage_error("--events: must be at least 1");
    std::optional<uint64_t> sim;
    if (a.values.count("--sim-events")) sim = parse_u64("--sim-events", a.values["--sim-events"]);
    return bench::nexmark(a.switches.count("--json") != 0, query, n, sim);
  }
  usage_error("bench: unknown benchmark '" + what + "' (kernel, kafka, nexmark)");
}

}  // namespace

int streamsim_cli_live(int argc, char** argv);  // cli/live.cpp

int streamsim_cli_main(int argc, char** argv) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  if (argc < 2) {
    std::cerr << kUsageText;
    return kUsage;
  }
  const std::string cmd = argv[1];
  const std::string self = self_path(argv[0]);
  try {
    if (cmd == "run") return cmd_run(self, argc, argv, false);
    if (cmd == "replay") return cmd_run(self, argc, argv, true);
    if (cmd == "sweep") return cmd_sweep(self, argc, argv);
    if (cmd == "list") return cmd_list(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kUsageText;
      return kOk;
    }
    if (cmd == "shrink") return cmd_shrink(self, argc, argv);
    if (cmd == "live") return streamsim_cli_live(argc, argv);  // cli/live.cpp
    usage_error("unknown command '" + cmd + "'");
  } catch (const UsageError& e) {
    std::cerr << "streamsim: " << e.message << "\n" << kUsageText;
    return kUsage;
  }
}
