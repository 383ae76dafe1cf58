#include <streamsim/reports/report.h>

#include <streamsim/core/assert.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace streamsim::reports {

namespace gpu = google::protobuf::util;

// ---------------------------------------------------------------- JSON

std::string to_json(const google::protobuf::Message& m) {
  gpu::JsonPrintOptions opt;
  opt.add_whitespace = false;
  opt.always_print_primitive_fields = true;
  opt.preserve_proto_field_names = true;
  std::string out;
  const auto st = gpu::MessageToJsonString(m, &out, opt);
  SS_ASSERT(st.ok(), "a report message always converts to JSON");
  return out;
}

bool from_json(std::string_view json, google::protobuf::Message* out, std::string* error) {
  gpu::JsonParseOptions opt;
  opt.ignore_unknown_fields = false;
  const auto st = gpu::JsonStringToMessage(std::string(json), out, opt);
  if (!st.ok()) {
    *error = st.ToString();
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- grouping

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word(char c) { return is_hex(c) || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') || c == '_'; }

}  // namespace

std::string normalize_evidence(std::string_view ev) {
  std::string out;
  size_t i = 0;
  bool space = false;
  while (i < ev.size()) {
    const char c = ev[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      ++i;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    // A word of 8 or more hex digits with at least one digit (a hash, a
    // producer id in hex) is one number.
    if (is_word(c) && (i == 0 || !is_word(ev[i - 1]))) {
      size_t j = i;
      bool all_hex = true, digit = false;
      while (j < ev.size() && is_word(ev[j])) {
        all_hex = all_hex && is_hex(ev[j]);
        digit = digit || is_digit(ev[j]);
        ++j;
      }
      if (all_hex && digit && j - i >= 8) {
        out += '#';
        i = j;
        continue;
      }
    }
    if (is_digit(c)) {
      // Digits, with a decimal point or more digits after it: one number.
      size_t j = i;
      while (j < ev.size() && (is_digit(ev[j]) || (ev[j] == '.' && j + 1 < ev.size() && is_digit(ev[j + 1])))) ++j;
      if (out.empty() || out.back() != '#') out += '#';
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

std::string failure_signature(std::string_view property, std::string_view evidence) {
  return std::string(property) + ": " + normalize_evidence(evidence);
}

std::vector<proto::FailureGroup> group_failures(const proto::ScenarioResult& sc) {
  std::map<std::string, proto::FailureGroup> by_sig;
  for (const auto& run : sc.runs()) {
    for (const auto& p : run.properties()) {
      if (p.held()) continue;
      const std::string sig = failure_signature(p.name(), p.evidence());
      auto [it, fresh] = by_sig.try_emplace(sig);
      proto::FailureGroup& g = it->second;
      if (fresh) {
        g.set_scenario_file(sc.scenario_file());
        g.set_scenario(sc.scenario());
        g.set_property(p.name());
        g.set_signature(sig);
        g.set_expected(!run.expect_violation().empty() && run.expect_violation() == p.name());
      }
      // Runs arrive in seed order, so the first seed's evidence is the example.
      if (g.count() == 0 || run.seed() < g.seeds(0)) {
        g.set_example_evidence(p.evidence());
        g.set_example_replay(run.replay());
      }
      g.set_count(g.count() + 1);
      g.add_seeds(run.seed());
    }
  }
  std::vector<proto::FailureGroup> out;
  for (auto& [sig, g] : by_sig) {
    std::sort(g.mutable_seeds()->begin(), g.mutable_seeds()->end());
    out.push_back(std::move(g));
  }
  std::stable_sort(out.begin(), out.end(), [](const proto::FailureGroup& a, const proto::FailureGroup& b) {
    if (a.expected() != b.expected()) return !a.expected();
    if (a.count() != b.count()) return a.count() > b.count();
    return a.signature() < b.signature();
  });
  return out;
}

// ---------------------------------------------------------------- escaping

namespace {

void escape_into(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\x%02x", c);
          out += b;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

// For attribute values: also keeps newlines and tabs (XML would normalise them
// to spaces otherwise).
std::string attr(std::string_view s) {
  std::string out;
  for (char c : xml_escape(s)) {
    if (c == '\n') out += "&#10;";
    else if (c == '\r') out += "&#13;";
    else if (c == '\t') out += "&#9;";
    else out.push_back(c);
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string seconds(int64_t ns) { return fmt("%.3f", static_cast<double>(ns) / 1e9); }

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  escape_into(out, text);
  return out;
}

std::string html_escape(std::string_view text) { return xml_escape(text); }

// ---------------------------------------------------------------- JUnit

namespace {

const proto::PropertyOutcome* first_violation(const proto::RunSummary& r) {
  for (const auto& p : r.properties())
    if (!p.held()) return &p;
  return nullptr;
}

// The <testcase> of one run. expected_ok: a canary seed whose violations are
// the deliberate bug (or absent): reported as passing, with what it caught.
void junit_case(std::string& o, const proto::RunSummary& r, bool canary_sweep) {
  o += "    <testcase classname=\"" + attr(r.scenario()) + "\" name=\"seed " + std::to_string(r.seed()) +
       "\" file=\"" + attr(r.scenario_file()) + "\" time=\"" + fmt("%.3f", r.wall_s()) + "\">\n";
  std::string out_text = "trace-hash: " + r.trace_hash() + "\nsim-time: " + seconds(r.sim_time_ns()) + " s\n";
  for (const auto& p : r.properties()) {
    if (p.held()) continue;
    const bool expected = canary_sweep && p.name() == r.expect_violation();
    if (canary_sweep) {
      // A canary's verdict belongs to the whole sweep (the "scenario verdict"
      // testcase); each seed only says what it saw.
      out_text += std::string(expected ? "canary caught " : "also violated ") + p.name() + ": " + p.evidence() +
                  "\nreplay: " + r.replay() + "\n";
      continue;
    }
    const std::string msg = p.name() + " violated: " + p.evidence() + " | replay: " + r.replay();
    o += "      <failure type=\"" + attr(p.name()) + "\" message=\"" + attr(msg) + "\">";
    o += xml_escape("property: " + p.name() + "\nevidence: " + (p.evidence().empty() ? "(none given)" : p.evidence()) +
                    "\nreplay: " + r.replay() + "\nscenario: " + r.scenario_file() + " seed " +
                    std::to_string(r.seed()) + "\n");
    o += "</failure>\n";
  }
  o += "      <system-out>" + xml_escape(out_text) + "</system-out>\n";
  o += "    </testcase>\n";
}

}  // namespace

std::string junit_xml(const proto::RunSummary& r) {
  const size_t failures = r.passed() ? 0 : 1;
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<testsuites name=\"streamsim\" tests=\"1\" failures=\"" + std::to_string(failures) + "\" errors=\"0\" time=\"" +
       fmt("%.3f", r.wall_s()) + "\">\n";
  o += "  <testsuite name=\"" + attr(r.scenario()) + "\" tests=\"1\" failures=\"" + std::to_string(failures) +
       "\" errors=\"0\" skipped=\"0\" time=\"" + fmt("%.3f", r.wall_s()) + "\">\n";
  // A single run is judged like its exit code: any violation fails it, the
  // canary's expected one included.
  junit_case(o, r, false);
  o += "  </testsuite>\n</testsuites>\n";
  return o;
}

std::string junit_xml(const proto::SweepSummary& s) {
  size_t tests = 0, failures = 0;
  std::string body;
  for (const auto& sc : s.scenarios()) {
    const bool canary = sc.kind() == "canary";
    std::string cases;
    size_t sc_tests = 0, sc_fail = 0;
    double time = 0;
    for (const auto& r : sc.runs()) {
      junit_case(cases, r, canary);
      ++sc_tests;
      time += r.wall_s();
      if (!canary && first_violation(r)) ++sc_fail;
    }
    // What only the whole sweep decides.
    ++sc_tests;
    cases += "    <testcase classname=\"" + attr(sc.scenario()) + "\" name=\"scenario verdict\" file=\"" +
             attr(sc.scenario_file()) + "\" time=\"0\">\n";
    const bool verdict_failed = sc.verdict() == "FAIL" && (canary || !sc.targets_missed().empty());
    if (verdict_failed) {
      ++sc_fail;
      cases += "      <failure type=\"verdict\" message=\"" + attr(sc.reason()) + "\">" + xml_escape(sc.reason()) +
               "</failure>\n";
    } else {
      cases += "      <system-out>" + xml_escape(sc.verdict() + (sc.reason().empty() ? "" : ": " + sc.reason())) +
               "</system-out>\n";
    }
    cases += "    </testcase>\n";
    body += "  <testsuite name=\"" + attr(sc.scenario()) + "\" file=\"" + attr(sc.scenario_file()) + "\" tests=\"" +
            std::to_string(sc_tests) + "\" failures=\"" + std::to_string(sc_fail) +
            "\" errors=\"0\" skipped=\"0\" time=\"" + fmt("%.3f", time) + "\">\n" + cases + "  </testsuite>\n";
    tests += sc_tests;
    failures += sc_fail;
  }
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<testsuites name=\"streamsim sweep\" tests=\"" + std::to_string(tests) + "\" failures=\"" +
       std::to_string(failures) + "\" errors=\"0\" time=\"" + fmt("%.3f", s.wall_s()) + "\">\n";
  o += body + "</testsuites>\n";
  return o;
}

// ---------------------------------------------------------------- HTML: timeline

namespace {

constexpr int kWidth = 1240, kLeft = 200, kRight = 24;
constexpr int kPlot = kWidth - kLeft - kRight;

struct Svg {
  std::string s;
  int64_t end_ns = 1;
  double x(int64_t t) const {
    const double f = static_cast<double>(std::clamp<int64_t>(t, 0, end_ns)) / static_cast<double>(end_ns);
    return kLeft + f * kPlot;
  }
};

std::string num(double v) { return fmt("%.1f", v); }

// A short human form of a value for axis labels.
std::string human(double v) {
  const double a = v < 0 ? -v : v;
  if (a >= 1e9) return fmt("%.3gG", v / 1e9);
  if (a >= 1e6) return fmt("%.3gM", v / 1e6);
  if (a >= 1e4) return fmt("%.3gk", v / 1e3);
  return fmt("%.4g", v);
}

const proto::Series* find_series(const proto::Timeline& tl, const std::string& name) {
  for (const auto& s : tl.series())
    if (s.name() == name && s.points_size() > 0) return &s;
  return nullptr;
}

void lane_frame(Svg& g, int y, int h, const std::string& title, const std::string& subtitle) {
  g.s += "<g class=\"lane\"><rect class=\"frame\" x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(y) +
         "\" width=\"" + std::to_string(kPlot) + "\" height=\"" + std::to_string(h) + "\"/>";
  g.s += "<text class=\"lane-title\" x=\"8\" y=\"" + std::to_string(y + 16) + "\">" + html_escape(title) + "</text>";
  if (!subtitle.empty())
    g.s += "<text class=\"lane-sub\" x=\"8\" y=\"" + std::to_string(y + 31) + "\">" + html_escape(subtitle) + "</text>";
  g.s += "</g>";
}

void no_data(Svg& g, int y, int h, const std::string& what) {
  g.s += "<text class=\"nodata\" x=\"" + std::to_string(kLeft + 10) + "\" y=\"" + std::to_string(y + h / 2 + 4) + "\">" +
         html_escape(what) + "</text>";
}

// Polylines of one or more series sharing a y scale inside [y, y+h].
// time_axis: the values are event times in ms; the labels show the lowest one
// and how far above it the top is, in seconds (absolute event times are long).
void lines(Svg& g, int y, int h, const std::vector<std::pair<const proto::Series*, std::string>>& series,
           bool from_zero, bool time_axis = false) {
  double lo = 0, hi = 0;
  bool first = true;
  for (const auto& [s, cls] : series) {
    for (const auto& p : s->points()) {
      if (first) lo = hi = p.value();
      lo = std::min(lo, p.value());
      hi = std::max(hi, p.value());
      first = false;
    }
  }
  if (from_zero) lo = std::min(lo, 0.0);
  if (hi <= lo) hi = lo + 1;
  auto yv = [&](double v) { return y + h - 4 - (v - lo) / (hi - lo) * (h - 8); };
  const std::string hi_label = time_axis ? "+" + fmt("%.4g", (hi - lo) / 1000.0) + " s" : human(hi);
  const std::string lo_label = time_axis ? fmt("%.0f", lo) : human(lo);
  g.s += "<text class=\"axis\" x=\"" + std::to_string(kLeft - 6) + "\" y=\"" + std::to_string(y + 10) +
         "\" text-anchor=\"end\">" + hi_label + "</text>";
  g.s += "<text class=\"axis\" x=\"" + std::to_string(kLeft - 6) + "\" y=\"" + std::to_string(y + h - 2) +
         "\" text-anchor=\"end\">" + lo_label + "</text>";
  for (const auto& [s, cls] : series) {
    const int64_t w = s->bucket_ns();
    std::string pts;
    for (const auto& p : s->points()) {
      // Counted series: the value belongs to the middle of its bucket.
      pts += num(g.x(p.t_ns() + w / 2)) + "," + num(yv(p.value())) + " ";
    }
    if (s->points_size() == 1) {
      const auto& p = s->points(0);
      g.s += "<circle class=\"mark " + cls + "\" cx=\"" + num(g.x(p.t_ns())) + "\" cy=\"" + num(yv(p.value())) +
             "\" r=\"3\"><title>" + html_escape(s->name() + " " + human(p.value()) + " " + s->unit()) +
             "</title></circle>";
    } else {
      g.s += "<polyline class=\"mark " + cls + "\" points=\"" + pts + "\"><title>" +
             html_escape(s->name() + " (" + s->unit() + ")") + "</title></polyline>";
    }
  }
}

}  // namespace

std::string timeline_svg(const proto::Timeline& tl, int64_t sim_time_ns) {
  Svg g;
  g.end_ns = std::max<int64_t>({tl.end_ns(), sim_time_ns, 1});
  int y = 10;
  constexpr int kGap = 8;

  // Faults and heals.
  {
    const int h = 46;
    lane_frame(g, y, h, "Faults", "\xe2\x96\xbc fault  \xe2\x96\xb2 heal");
    size_t n = 0;
    for (const auto& e : tl.events()) {
      if (e.kind() != "fault" && e.kind() != "heal") continue;
      ++n;
      const double x = g.x(e.t_ns());
      const bool fault = e.kind() == "fault";
      const double yc = y + (fault ? 16 : 32);
      std::string pts = fault ? num(x - 5) + "," + num(yc - 5) + " " + num(x + 5) + "," + num(yc - 5) + " " + num(x) +
                                    "," + num(yc + 5)
                              : num(x - 5) + "," + num(yc + 5) + " " + num(x + 5) + "," + num(yc + 5) + " " + num(x) +
                                    "," + num(yc - 5);
      g.s += "<polygon class=\"mark " + e.kind() + "\" points=\"" + pts + "\"><title>" +
             html_escape(seconds(e.t_ns()) + " s " + e.kind() + ": " + e.detail()) + "</title></polygon>";
    }
    if (n == 0) no_data(g, y, h, "no network or process faults in this run");
    y += h + kGap;
  }

  // Nodes down: crash -> restart of the same node.
  {
    std::vector<std::string> nodes;
    struct Down {
      size_t row;
      int64_t from, to;
      std::string what;
    };
    std::vector<Down> downs;
    std::map<std::string, size_t> open;  // node -> index in downs
    for (const auto& e : tl.events()) {
      if (e.kind() == "crash") {
        auto it = std::find(nodes.begin(), nodes.end(), e.node());
        size_t row = static_cast<size_t>(it - nodes.begin());
        if (it == nodes.end()) nodes.push_back(e.node());
        open[e.node()] = downs.size();
        downs.push_back({row, e.t_ns(), g.end_ns, e.detail()});
      } else if (e.kind() == "restart") {
        auto it = open.find(e.node());
        if (it != open.end()) {
          downs[it->second].to = e.t_ns();
          downs[it->second].what += "; " + e.detail();
          open.erase(it);
        }
      }
    }
    constexpr size_t kMaxRows = 12;
    const size_t rows = std::min(nodes.size(), kMaxRows);
    const int h = std::max<int>(46, static_cast<int>(rows) * 16 + 10);
    lane_frame(g, y, h, "Nodes down", "crash \xe2\x86\x92 restart");
    for (size_t r = 0; r < rows; ++r) {
      g.s += "<text class=\"axis\" x=\"" + std::to_string(kLeft - 6) + "\" y=\"" +
             std::to_string(y + 16 + static_cast<int>(r) * 16) + "\" text-anchor=\"end\">" + html_escape(nodes[r]) +
             "</text>";
    }
    for (const auto& d : downs) {
      if (d.row >= rows) continue;
      const double x0 = g.x(d.from), x1 = std::max(g.x(d.to), x0 + 2);
      g.s += "<rect class=\"mark down\" x=\"" + num(x0) + "\" y=\"" + std::to_string(y + 6 + static_cast<int>(d.row) * 16) +
             "\" width=\"" + num(x1 - x0) + "\" height=\"12\"><title>" +
             html_escape(seconds(d.from) + "-" + seconds(d.to) + " s: " + d.what) + "</title></rect>";
    }
    if (downs.empty()) no_data(g, y, h, "no node crashed in this run");
    if (nodes.size() > rows) no_data(g, y + h - 20, 20, "(" + std::to_string(nodes.size() - rows) + " more nodes)");
    y += h + kGap;
  }

  // Leader changes.
  {
    const int h = 46;
    lane_frame(g, y, h, "Leader changes", "\xe2\x97\x8f partition  \xe2\x97\x86 controller");
    size_t n = 0;
    for (const auto& e : tl.events()) {
      const std::string& k = e.kind();
      if (k != "leader_election" && k != "unclean_election" && k != "preferred_election" && k != "controller_leader")
        continue;
      ++n;
      const double x = g.x(e.t_ns());
      const std::string title = "<title>" + html_escape(seconds(e.t_ns()) + " s " + k + " (" + e.node() + "): " +
                                                        e.detail()) + "</title>";
      if (k == "controller_leader") {
        const double yc = y + 34;
        g.s += "<polygon class=\"mark controller\" points=\"" + num(x) + "," + num(yc - 6) + " " + num(x + 6) + "," +
               num(yc) + " " + num(x) + "," + num(yc + 6) + " " + num(x - 6) + "," + num(yc) + "\">" + title +
               "</polygon>";
      } else {
        g.s += "<circle class=\"mark " + k + "\" cx=\"" + num(x) + "\" cy=\"" + std::to_string(y + 14) + "\" r=\"" +
               (k == "unclean_election" ? "7" : "4") + "\">" + title + "</circle>";
      }
    }
    if (n == 0) no_data(g, y, h, "no leader changes recorded (no Kafka cluster, or none happened)");
    y += h + kGap;
  }

  // Watermark against the maximum event time sent so far.
  {
    const int h = 110;
    lane_frame(g, y, h, "Watermark (ms)", "\xe2\x80\x94 watermark  \xe2\x80\x94 max event time");
    const auto* wm = find_series(tl, "watermark_ms");
    const auto* mx = find_series(tl, "max_event_time_ms");
    std::vector<std::pair<const proto::Series*, std::string>> ss;
    if (mx) ss.push_back({mx, "maxevent"});
    if (wm) ss.push_back({wm, "watermark"});
    if (ss.empty()) no_data(g, y, h, "no watermark in this run (not a pipeline scenario)");
    else lines(g, y, h, ss, false, true);
    y += h + kGap;
  }

  // Throughput.
  {
    const int h = 90;
    const auto* tp = find_series(tl, "throughput");
    const auto* nd = find_series(tl, "network_deliveries");
    lane_frame(g, y, h, "Throughput", tp ? "input events acked / s" : "network messages delivered / s");
    if (tp || nd) lines(g, y, h, {{tp ? tp : nd, "throughput"}}, true);
    else no_data(g, y, h, "no throughput measured");
    y += h + kGap;
  }

  // Consumer lag.
  {
    const int h = 90;
    lane_frame(g, y, h, "Consumer lag", "events acked, not yet committed");
    if (const auto* lag = find_series(tl, "consumer_lag")) lines(g, y, h, {{lag, "lag"}}, true);
    else no_data(g, y, h, "no consumer lag measured (not a pipeline scenario)");
    y += h + kGap;
  }

  // Transaction decisions: commits up, aborts down, from the middle line.
  {
    const int h = 90;
    lane_frame(g, y, h, "Transactions", "\xe2\x96\xae commits (up)  \xe2\x96\xae aborts (down)");
    const auto* c = find_series(tl, "txn_commits");
    const auto* a = find_series(tl, "txn_aborts");
    double hi = 1;
    for (const auto* s : {c, a})
      if (s)
        for (const auto& p : s->points()) hi = std::max(hi, p.value());
    const double mid = y + h / 2.0;
    size_t n = 0;
    for (const auto* s : {c, a}) {
      if (!s) continue;
      const bool up = s == c;
      const double bw = std::max(1.0, g.x(s->bucket_ns()) - g.x(0));
      for (const auto& p : s->points()) {
        if (p.value() <= 0) continue;
        ++n;
        const double len = p.value() / hi * (h / 2.0 - 4);
        g.s += "<rect class=\"mark " + std::string(up ? "commit" : "abort") + "\" x=\"" + num(g.x(p.t_ns())) +
               "\" y=\"" + num(up ? mid - len : mid) + "\" width=\"" + num(bw) + "\" height=\"" + num(len) +
               "\"><title>" + html_escape(seconds(p.t_ns()) + " s: " + human(p.value()) + (up ? " commits" : " aborts")) +
               "</title></rect>";
      }
    }
    g.s += "<text class=\"axis\" x=\"" + std::to_string(kLeft - 6) + "\" y=\"" + std::to_string(y + 10) +
           "\" text-anchor=\"end\">" + human(hi) + "</text>";
    g.s += "<line class=\"midline\" x1=\"" + std::to_string(kLeft) + "\" x2=\"" + std::to_string(kLeft + kPlot) +
           "\" y1=\"" + num(mid) + "\" y2=\"" + num(mid) + "\"/>";
    if (n == 0) no_data(g, y, h, "no transactions decided in this run");
    y += h + kGap;
  }

  // The end of the safety phase, across every lane.
  if (tl.heal_ns() > 0) {
    const double x = g.x(tl.heal_ns());
    g.s += "<line class=\"heal-line\" x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"4\" y2=\"" + std::to_string(y) +
           "\"><title>" + html_escape(seconds(tl.heal_ns()) + " s: faults healed, liveness phase starts") +
           "</title></line>";
    g.s += "<text class=\"axis\" x=\"" + num(x + 4) + "\" y=\"" + std::to_string(y + 2) + "\">healed</text>";
  }
  // Time axis: about ten ticks at a round number of seconds.
  {
    const double span_s = static_cast<double>(g.end_ns) / 1e9;
    double step = 0.001;
    while (span_s / step > 12) {
      if (span_s / (step * 2) <= 12) step *= 2;
      else if (span_s / (step * 5) <= 12) step *= 5;
      else step *= 10;
    }
    const int ay = y + 14;
    g.s += "<line class=\"axisline\" x1=\"" + std::to_string(kLeft) + "\" x2=\"" + std::to_string(kLeft + kPlot) +
           "\" y1=\"" + std::to_string(ay) + "\" y2=\"" + std::to_string(ay) + "\"/>";
    for (double t = 0; t <= span_s + 1e-9; t += step) {
      const double x = g.x(static_cast<int64_t>(t * 1e9));
      g.s += "<line class=\"axisline\" x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"" + std::to_string(ay) +
             "\" y2=\"" + std::to_string(ay + 5) + "\"/>";
      g.s += "<text class=\"axis\" x=\"" + num(x) + "\" y=\"" + std::to_string(ay + 18) + "\" text-anchor=\"middle\">" +
             fmt("%g", t) + "s</text>";
    }
    g.s += "<text class=\"axis\" x=\"8\" y=\"" + std::to_string(ay + 18) + "\">virtual time</text>";
    y = ay + 26;
  }
  std::string head = "<svg class=\"timeline\" width=\"" + std::to_string(kWidth) +
                     "\" height=\"" + std::to_string(y) + "\" viewBox=\"0 0 " + std::to_string(kWidth) + " " +
                     std::to_string(y) + "\" role=\"img\" aria-label=\"run timeline\">";
  std::string foot;
  if (tl.events_dropped() > 0)
    foot = "<p class=\"note\">" + std::to_string(tl.events_dropped()) +
           " further timeline events were counted but not kept (the list is capped).</p>";
  return head + g.s + "</svg>" + foot;
}

// ---------------------------------------------------------------- HTML: pages

namespace {

const char* kStyle = R"(<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#1d2329;background:#fff}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d5dae0;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}h4{font-size:14px;margin:12px 0 4px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:700;color:#fff}
.pass{background:#2b8a3e}.fail{background:#c92a2a}.caught{background:#5f3dc4}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #d5dae0;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f1f3f5}
pre{background:#f8f9fa;border:1px solid #dee2e6;padding:8px;white-space:pre-wrap;word-break:break-all;font-size:13px;margin:4px 0}
.failure{border-left:4px solid #c92a2a;padding:4px 12px;margin:10px 0;background:#fff5f5}
.expected{border-left-color:#5f3dc4;background:#f3f0ff}
.note{color:#5c636a;font-size:13px}
svg.timeline{display:block;border:1px solid #d5dae0;background:#fff;margin:8px 0}
svg .frame{fill:#fbfcfd;stroke:#e3e7eb}svg text{font-size:11px;fill:#343a40}
svg .lane-title{font-size:13px;font-weight:600}svg .lane-sub{fill:#6c757d}svg .nodata{fill:#868e96;font-style:italic}
svg .axis{fill:#495057}svg .axisline{stroke:#868e96}
svg .fault{fill:#e03131}svg .heal{fill:#2f9e44}svg .down{fill:#a0522d;opacity:.85}
svg .leader_election{fill:#1c7ed6}svg .preferred_election{fill:#0ca678}svg .unclean_election{fill:#e03131;stroke:#000}
svg .controller{fill:#7048e8}
svg polyline{fill:none;stroke-width:1.6}svg .watermark{stroke:#1c7ed6}svg .maxevent{stroke:#f08c00}
svg .throughput{stroke:#2f9e44}svg .lag{stroke:#e8590c}
svg .commit{fill:#2f9e44}svg .abort{fill:#e03131}svg .midline{stroke:#adb5bd}
svg .heal-line{stroke:#2f9e44;stroke-dasharray:5 4;stroke-width:1.5}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
code{font-size:13px}
</style>
)";

// Measures the timeline after layout and records the verdict on <body>, so a
// headless browser's --dump-dom shows whether anything was actually drawn.
const char* kScript = R"(<script>
(function(){
  var svgs=document.querySelectorAll('svg.timeline'),marks=0,width=0,drawn=0,lanes=0;
  for(var i=0;i<svgs.length;i++){
    var s=svgs[i],r=s.getBoundingClientRect();
    if(r.width<=0||r.height<=0)continue;
    var m=0,seen={},els=s.querySelectorAll('.mark');
    for(var j=0;j<els.length;j++){
      var e=els[j],cs=getComputedStyle(e);
      if(cs.display==='none'||cs.visibility==='hidden'||cs.opacity==='0')continue;
      var b=e.getBBox(),er=e.getBoundingClientRect();
      if(!(b.width>0||b.height>0))continue;
      if(er.right<r.left||er.left>r.right||er.bottom<r.top||er.top>r.bottom)continue;
      m++;
      var g=e.getAttribute('class').split(' ')[1]||'';seen[g]=1;
    }
    s.setAttribute('data-marks',String(m));
    marks+=m;width=Math.max(width,r.width);if(m>0)drawn++;
    lanes=Math.max(lanes,Object.keys(seen).length);
  }
  var b=document.body;
  b.setAttribute('data-timeline',svgs.length===0?'missing':(drawn>0?'drawn':'empty'));
  b.setAttribute('data-timeline-marks',String(marks));
  b.setAttribute('data-timeline-kinds',String(lanes));
  b.setAttribute('data-timeline-width',String(Math.round(width)));
})();
</script>
)";

std::string page_head(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title>\n" + kStyle + "</head>\n<body>\n";
}

std::string page_foot() { return std::string(kScript) + "</body></html>\n"; }

std::string row(const std::string& k, const std::string& v_html) {
  return "<tr><th>" + html_escape(k) + "</th><td>" + v_html + "</td></tr>";
}

std::string pre(const std::string& text) { return "<pre>" + html_escape(text) + "</pre>"; }

std::string seed_list(const google::protobuf::RepeatedField<uint64_t>& seeds) {
  std::string all;
  for (int i = 0; i < seeds.size(); ++i) all += (i ? ", " : "") + std::to_string(seeds[i]);
  if (seeds.size() <= 40) return html_escape(all);
  std::string shown;
  for (int i = 0; i < 40; ++i) shown += (i ? ", " : "") + std::to_string(seeds[i]);
  return html_escape(shown) + " \xe2\x80\xa6 <details><summary>all " + std::to_string(seeds.size()) +
         " seeds</summary>" + html_escape(all) + "</details>";
}

std::string timeline_section(const proto::RunSummary& r) {
  std::string o = "<div class=\"legend note\">Hover a mark for details. Times are virtual (simulated) seconds.</div>";
  o += timeline_svg(r.has_timeline() ? r.timeline() : proto::Timeline(), r.sim_time_ns());
  if (!r.has_timeline()) o += "<p class=\"note\">No timeline was recorded for this run.</p>";
  return o;
}

std::string failures_section(const proto::RunSummary& r) {
  std::string o;
  for (const auto& p : r.properties()) {
    if (p.held()) continue;
    const bool expected = p.name() == r.expect_violation();
    o += "<div class=\"failure" + std::string(expected ? " expected" : "") + "\"><h3>" + html_escape(p.name()) +
         " violated" + (expected ? " (the bug this canary must catch)" : "") + "</h3>";
    o += "<div>Evidence:</div>" + pre(p.evidence().empty() ? "(none given)" : p.evidence());
    o += "<div>Replay this seed:</div>" + pre(r.replay()) + "</div>\n";
  }
  return o;
}

// full: a run's own page (h2 sections and every table); else a failing seed
// inside a sweep page (h4 sections, failures and timeline only).
std::string run_body(const proto::RunSummary& r, bool full) {
  const std::string h = full ? "h2" : "h4";
  std::string o;
  o += "<table>";
  o += row("scenario", html_escape(r.scenario()) + " (<code>" + html_escape(r.scenario_file()) + "</code>)");
  o += row("seed", std::to_string(r.seed()));
  o += row("trace hash", "<code>" + html_escape(r.trace_hash()) + "</code>");
  o += row("virtual time", seconds(r.sim_time_ns()) + " s, " + std::to_string(r.steps()) + " steps, " +
                               std::to_string(r.trace_events()) + " trace events, ended " + html_escape(r.stop()));
  if (r.wall_s() > 0) o += row("wall time", fmt("%.3f s", r.wall_s()));
  if (!r.expect_violation().empty()) o += row("canary", "must violate <b>" + html_escape(r.expect_violation()) + "</b>");
  o += row("replay", "<code>" + html_escape(r.replay()) + "</code>");
  o += "</table>\n";
  if (!r.passed()) o += "<" + h + ">Failures</" + h + ">\n" + failures_section(r);
  o += "<" + h + ">Timeline</" + h + ">\n" + timeline_section(r);
  if (!full) return o;
  o += "<h2>Properties</h2>\n<table><tr><th>property</th><th>result</th><th>evidence</th></tr>";
  for (const auto& p : r.properties())
    o += "<tr><td>" + html_escape(p.name()) + "</td><td>" + (p.held() ? "held" : "<b>VIOLATED</b>") + "</td><td>" +
         html_escape(p.evidence()) + "</td></tr>";
  o += "</table>\n<h2>Metrics</h2>\n<table><tr><th>metric</th><th>value</th></tr>";
  for (const auto& m : r.metrics())
    o += "<tr><td>" + html_escape(m.name()) + "</td><td>" + fmt("%.6g", m.value()) + "</td></tr>";
  o += "</table>\n<h2>Faults</h2>\n<p>" + html_escape(r.faults()) + "</p>\n";
  if (r.fault_log_size() > 0) {
    std::string log;
    const int shown = std::min(r.fault_log_size(), 500);
    for (int i = 0; i < shown; ++i) log += r.fault_log(i) + "\n";
    if (shown < r.fault_log_size()) log += "... " + std::to_string(r.fault_log_size() - shown) + " more\n";
    o += "<details><summary>fault log (" + std::to_string(r.fault_log_size()) + " entries)</summary>" + pre(log) +
         "</details>\n";
  }
  if (r.client_config_size() > 0) {
    std::string cfg;
    for (const auto& c : r.client_config()) cfg += c + "\n";
    o += "<h2>Kafka client configuration</h2>\n" + pre(cfg) + "<p class=\"note\">Secrets are redacted.</p>\n";
  }
  o += "<h2>Coverage</h2>\n<table><tr><th>mark</th><th>hits</th></tr>";
  for (const auto& c : r.coverage())
    o += "<tr><td>" + html_escape(c.name()) + "</td><td>" + std::to_string(c.hits()) + "</td></tr>";
  o += "</table>\n";
  for (const auto& t : r.targets_reached()) o += "<div>target " + html_escape(t) + ": reached</div>";
  for (const auto& t : r.targets_missed()) o += "<div>target " + html_escape(t) + ": <b>missed</b></div>";
  return o;
}

}  // namespace

std::string html_report(const proto::RunSummary& r) {
  std::string o = page_head("streamsim: " + r.scenario() + " seed " + std::to_string(r.seed()));
  const auto* v = first_violation(r);
  const bool caught = !r.passed() && v != nullptr && v->name() == r.expect_violation();
  o += "<h1>" + html_escape(r.scenario()) + " \xc2\xb7 seed " + std::to_string(r.seed()) + " <span class=\"verdict " +
       (r.passed() ? "pass\">PASS" : caught ? "caught\">FAIL (canary caught)" : "fail\">FAIL") + "</span></h1>\n";
  o += run_body(r, true);
  return o + page_foot();
}

std::string html_report(const proto::SweepSummary& s) {
  std::string o = page_head("streamsim sweep");
  o += "<h1>streamsim sweep <span class=\"verdict " + std::string(s.failed() ? "fail\">FAIL" : "pass\">PASS") +
       "</span></h1>\n<table>";
  o += row("command", "<code>" + html_escape(s.command()) + "</code>");
  o += row("seeds", std::to_string(s.first_seed()) + ".." + std::to_string(s.first_seed() + s.seeds() - 1) +
                        (s.shard().empty() ? "" : " shard " + html_escape(s.shard())));
  o += row("runs", std::to_string(s.runs()) + " in " + fmt("%.1f s", s.wall_s()) +
                       (s.budget_stopped() ? " (time budget spent)" : ""));
  o += row("scenarios", std::to_string(s.passed()) + " passed, " + std::to_string(s.failed()) + " failed" +
                            (s.skipped() ? ", " + std::to_string(s.skipped()) + " not run" : ""));
  o += "</table>\n<h2>Scenarios</h2>\n<table><tr><th>scenario</th><th>kind</th><th>seeds</th><th>violated</th>"
       "<th>result</th><th>why</th></tr>";
  for (const auto& sc : s.scenarios()) {
    const std::string cls = sc.verdict() == "FAIL" ? "fail" : sc.verdict() == "caught" ? "caught" : "pass";
    o += "<tr><td>" + html_escape(sc.scenario()) + "<br><code>" + html_escape(sc.scenario_file()) + "</code></td><td>" +
         html_escape(sc.kind()) + "</td><td>" + std::to_string(sc.seeds()) + "</td><td>" + std::to_string(sc.violated()) +
         "</td><td><span class=\"verdict " + cls + "\">" + html_escape(sc.verdict()) + "</span></td><td>" +
         html_escape(sc.reason()) + "</td></tr>";
  }
  o += "</table>\n<h2>Failures by signature</h2>\n<p class=\"note\">Violations whose property and evidence agree once "
       "numbers (offsets, seeds, times, ids) are replaced by # form one group.</p>\n";
  bool any = false;
  for (const auto& sc : s.scenarios()) {
    for (const auto& g : sc.groups()) {
      any = true;
      o += "<div class=\"failure group" + std::string(g.expected() ? " expected" : "") + "\" data-count=\"" +
           std::to_string(g.count()) + "\"><h3>" + html_escape(g.scenario()) + ": " + html_escape(g.property()) +
           (g.expected() ? " (canary caught)" : "") + " \xe2\x80\x94 " + std::to_string(g.count()) +
           (g.count() == 1 ? " seed" : " seeds") + "</h3>";
      o += "<div>Signature:</div>" + pre(g.signature());
      o += "<div>Seeds: " + seed_list(g.seeds()) + "</div>";
      o += "<div>Evidence (seed " + std::to_string(g.seeds(0)) + "):</div>" + pre(g.example_evidence());
      o += "<div>Replay:</div>" + pre(g.example_replay()) + "</div>\n";
    }
  }
  if (!any) o += "<p>No property was violated.</p>\n";
  o += "<h2>Seeds with violations</h2>\n<p class=\"note\">Each with its evidence, replay command and timeline (for a "
       "canary: the seeds that caught its bug).</p>\n";
  bool seeds_shown = false;
  for (const auto& sc : s.scenarios()) {
    for (const auto& r : sc.runs()) {
      if (r.passed() || !r.has_timeline()) continue;
      seeds_shown = true;
      o += "<h3>" + html_escape(r.scenario()) + " \xc2\xb7 seed " + std::to_string(r.seed()) + "</h3>\n";
      o += run_body(r, false);
    }
    if (sc.timelines_omitted() > 0)
      o += "<p class=\"note\">" + std::to_string(sc.timelines_omitted()) + " more failing seeds of " +
           html_escape(sc.scenario()) + " have no timeline here (capped); replay them for theirs.</p>\n";
  }
  if (!seeds_shown) o += "<p>No seed violated a property.</p>\n";
  return o + page_foot();
}

}  // namespace streamsim::reports
