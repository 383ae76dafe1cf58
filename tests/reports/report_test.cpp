// The report formats (reports/report.h): JUnit XML is well formed and escapes
// whatever evidence a checker writes, the JSON summary parses back into the
// proto it came from, the HTML page is self-contained and carries the replay
// command, failures group by signature, and no secret reaches any format.
#include <streamsim/core/trace.h>
#include <streamsim/harness/report_proto.h>
#include <streamsim/harness/runner.h>
#include <streamsim/reports/report.h>
#include <streamsim/reports/timeline.h>
#include <streamsim/scenarios/scenario.h>

#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace streamsim;

namespace {

// A small XML 1.0 well-formedness check, enough for what junit_xml writes:
// one root element, balanced and properly nested tags, quoted attributes,
// every '&' an entity, no '<' in text, and no control characters that XML
// cannot carry. Returns "" when well formed, else what is wrong and where.
std::string xml_problem(const std::string& x) {
  std::vector<std::string> stack;
  size_t i = 0, roots = 0;
  auto at = [&](size_t p) { return " at byte " + std::to_string(p); };
  auto check_entity = [&](size_t p) -> bool {
    static const std::regex ent(R"(^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)");
    return std::regex_search(x.begin() + static_cast<long>(p), x.end(), ent);
  };
  if (x.rfind("<?xml ", 0) == 0) i = x.find("?>") + 2;
  while (i < x.size()) {
    const unsigned char c = static_cast<unsigned char>(x[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return "control character" + at(i);
    if (c == '&') {
      if (!check_entity(i)) return "bare &" + at(i);
      ++i;
      continue;
    }
    if (c == '>') return "bare > outside a tag" + at(i);  // we always escape it
    if (c != '<') {
      if (stack.empty() && c != ' ' && c != '\n' && c != '\t' && c != '\r') return "text outside the root" + at(i);
      ++i;
      continue;
    }
    // A tag.
    const bool closing = i + 1 < x.size() && x[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    size_t name_start = j;
    while (j < x.size() && (std::isalnum(static_cast<unsigned char>(x[j])) || x[j] == '-' || x[j] == '_' || x[j] == ':'))
      ++j;
    const std::string name = x.substr(name_start, j - name_start);
    if (name.empty()) return "tag without a name" + at(i);
    bool self_closing = false;
    // Attributes: name="value" with no '<' and only entity '&' inside.
    for (;;) {
      while (j < x.size() && x[j] == ' ') ++j;
      if (j >= x.size()) return "unterminated tag" + at(i);
      if (x[j] == '>') {
        ++j;
        break;
      }
      if (x[j] == '/' && j + 1 < x.size() && x[j + 1] == '>') {
        self_closing = true;
        j += 2;
        break;
      }
      if (closing) return "attributes in a closing tag" + at(j);
      size_t a = j;
      while (j < x.size() && (std::isalnum(static_cast<unsigned char>(x[j])) || x[j] == '-' || x[j] == '_')) ++j;
      if (j == a || j + 1 >= x.size() || x[j] != '=' || x[j + 1] != '"') return "malformed attribute" + at(a);
      j += 2;
      while (j < x.size() && x[j] != '"') {
        const unsigned char v = static_cast<unsigned char>(x[j]);
        if (v == '<') return "< in an attribute" + at(j);
        if (v < 0x20 && v != '\t' && v != '\n' && v != '\r') return "control character in an attribute" + at(j);
        if (v == '&' && !check_entity(j)) return "bare & in an attribute" + at(j);
        ++j;
      }
      if (j >= x.size()) return "unterminated attribute" + at(a);
      ++j;
    }
    if (closing) {
      if (stack.empty() || stack.back() != name) return "mismatched </" + name + ">" + at(i);
      stack.pop_back();
    } else if (!self_closing) {
      if (stack.empty()) ++roots;
      stack.push_back(name);
    } else if (stack.empty()) {
      ++roots;
    }
    i = j;
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return std::to_string(roots) + " root elements";
  return "";
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

const std::string kNasty = std::string("offset 17 <lost> & \"dup\" 'x' \x01\x1b end");

proto::RunSummary failing_run(uint64_t seed, const std::string& evidence) {
  proto::RunSummary r;
  r.set_scenario("canary/example");
  r.set_scenario_file("scenarios/canary/example.textproto");
  r.set_seed(seed);
  r.set_passed(false);
  r.set_trace_hash("0123456789abcdef");
  r.set_replay("./streamsim replay scenarios/canary/example.textproto --seed " + std::to_string(seed));
  auto* ok = r.add_properties();
  ok->set_name("no_task_failure");
  ok->set_held(true);
  auto* bad = r.add_properties();
  bad->set_name("no_duplicates");
  bad->set_held(false);
  bad->set_evidence(evidence);
  return r;
}

proto::Timeline sample_timeline() {
  proto::Timeline tl;
  tl.set_end_ns(10'000'000'000);
  tl.set_heal_ns(6'000'000'000);
  auto ev = [&](int64_t t, const char* kind, const char* node, const char* detail) {
    auto* e = tl.add_events();
    e->set_t_ns(t);
    e->set_kind(kind);
    e->set_node(node);
    e->set_detail(detail);
  };
  ev(1'000'000'000, "fault", "sim", "partition broker-0 | broker-1");
  ev(2'000'000'000, "crash", "broker-1", "broker-1 crashed");
  ev(2'500'000'000, "leader_election", "controller-0", "partition leader broker-2, epoch 3");
  ev(3'000'000'000, "restart", "broker-1", "broker-1 restarted");
  ev(6'000'000'000, "heal", "sim", "network");
  std::vector<int64_t> acks;
  for (int64_t t = 0; t < 10'000'000'000; t += 7'000'000) acks.push_back(t);
  *tl.add_series() = reports::count_series("throughput", "events/s", acks, 0, tl.end_ns(), 400, true);
  *tl.add_series() = reports::sample_series("watermark_ms", "ms", {{1'000'000'000, 100}, {5'000'000'000, 4000}}, 0,
                                            tl.end_ns(), 400);
  return tl;
}

}  // namespace

TEST_CASE("the XML checker of these tests rejects broken XML", "[reports][junit]") {
  CHECK(xml_problem("<a><b x=\"1\"/></a>").empty());
  CHECK_FALSE(xml_problem("<a><b></a>").empty());
  CHECK_FALSE(xml_problem("<a>x & y</a>").empty());
  CHECK_FALSE(xml_problem("<a>x < y</a>").empty());
  CHECK_FALSE(xml_problem(std::string("<a>\x01</a>")).empty());
  CHECK_FALSE(xml_problem("<a x=\"<\"/>").empty());
}

TEST_CASE("JUnit XML of a run is well formed and escapes the evidence", "[reports][junit]") {
  proto::RunSummary r = failing_run(7, kNasty);
  const std::string x = reports::junit_xml(r);
  INFO(x);
  CHECK(xml_problem(x).empty());
  CHECK(xml_problem(x) == "");
  CHECK(count(x, "<testcase ") == 1);
  CHECK(count(x, "<failure ") == 1);
  CHECK_THAT(x, Catch::Contains("failures=\"1\""));
  // The property, the evidence (escaped) and the replay command, in the message
  // attribute and in the body.
  CHECK_THAT(x, Catch::Contains("message=\"no_duplicates violated: offset 17 &lt;lost&gt; &amp; &quot;dup&quot; &apos;x&apos; "
                                "\\x01\\x1b end | replay: ./streamsim replay scenarios/canary/example.textproto --seed 7\""));
  CHECK_THAT(x, Catch::Contains("evidence: offset 17 &lt;lost&gt; &amp;"));
  CHECK_THAT(x, Catch::Contains("replay: ./streamsim replay scenarios/canary/example.textproto --seed 7"));
  CHECK(x.find('\x01') == std::string::npos);
  CHECK(x.find('\x1b') == std::string::npos);

  r.set_passed(true);
  r.mutable_properties(1)->set_held(true);
  const std::string ok = reports::junit_xml(r);
  CHECK(xml_problem(ok).empty());
  CHECK(count(ok, "<failure") == 0);
}

TEST_CASE("JUnit XML of a sweep has one testcase per scenario and seed", "[reports][junit]") {
  proto::SweepSummary s;
  s.set_seeds(3);
  s.set_first_seed(1);
  auto* safe = s.add_scenarios();
  safe->set_scenario("kafka/safe");
  safe->set_scenario_file("scenarios/kafka/safe.textproto");
  safe->set_kind("safe");
  safe->set_verdict("FAIL");
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    proto::RunSummary r = failing_run(seed, "lost offset " + std::to_string(seed));
    r.set_scenario("kafka/safe");
    if (seed != 2) {
      r.set_passed(true);
      r.mutable_properties(1)->set_held(true);
    }
    *safe->add_runs() = r;
  }
  auto* canary = s.add_scenarios();
  canary->set_scenario("canary/example");
  canary->set_kind("canary");
  canary->set_verdict("FAIL");
  canary->set_reason("canary never caught liveness in 2 seeds");
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    proto::RunSummary r = failing_run(seed, kNasty);
    r.set_expect_violation("liveness");
    *canary->add_runs() = r;
  }
  const std::string x = reports::junit_xml(s);
  INFO(x);
  CHECK(xml_problem(x).empty());
  CHECK(count(x, "<testsuite ") == 2);
  CHECK(count(x, "<testcase ") == 3 + 1 + 2 + 1);  // seeds plus one verdict per scenario
  // Safe scenario: only seed 2 fails. Canary: its seeds are not failures (the
  // canary violated something else than its bug), its verdict is.
  CHECK(count(x, "<failure type=\"no_duplicates\"") == 1);
  CHECK_THAT(x, Catch::Contains("<failure type=\"verdict\" message=\"canary never caught liveness in 2 seeds\">"));
  CHECK_THAT(x, Catch::Contains("also violated no_duplicates"));
  CHECK_THAT(x, Catch::Contains("tests=\"7\" failures=\"2\""));
}

TEST_CASE("summary JSON parses back into the same proto", "[reports][json]") {
  proto::RunSummary r = failing_run(18446744073709551615ULL, kNasty);
  *r.mutable_timeline() = sample_timeline();
  auto* m = r.add_metrics();
  m->set_name("throughput_events_per_s");
  m->set_value(1234.5);
  r.add_client_config("producer: acks=all");
  const std::string json = reports::to_json(r);
  CHECK(json.find('\n') == std::string::npos);  // one line: the sweep's line protocol relies on it
  CHECK_THAT(json, Catch::Contains("\"seed\":\"18446744073709551615\""));
  CHECK_THAT(json, Catch::Contains("\"trace_hash\":\"0123456789abcdef\""));
  CHECK_THAT(json, Catch::Contains("\"passed\":false"));  // defaults are printed
  proto::RunSummary back;
  std::string err;
  REQUIRE(reports::from_json(json, &back, &err));
  CHECK(google::protobuf::util::MessageDifferencer::Equals(r, back));

  proto::SweepSummary sw;
  auto* sc = sw.add_scenarios();
  *sc->add_runs() = r;
  proto::SweepSummary sw_back;
  REQUIRE(reports::from_json(reports::to_json(sw), &sw_back, &err));
  CHECK(google::protobuf::util::MessageDifferencer::Equals(sw, sw_back));

  CHECK_FALSE(reports::from_json("{\"seed\":\"1\",\"no_such_field\":1}", &back, &err));
  CHECK_THAT(err, Catch::Contains("no_such_field"));
}

TEST_CASE("failures group by signature, numbers stripped", "[reports][grouping]") {
  CHECK(reports::normalize_evidence("offset 17 of clicks[2] lost (seed 9), hash 0123abcd4567ef89, 1.5s late") ==
        "offset # of clicks[#] lost (seed #), hash #, #s late");
  CHECK(reports::normalize_evidence("value  p0-12\tmissing") == "value p#-# missing");
  CHECK(reports::failure_signature("lost_writes", "offset 3") == "lost_writes: offset #");

  proto::ScenarioResult sc;
  sc.set_scenario("canary/example");
  sc.set_scenario_file("scenarios/canary/example.textproto");
  for (uint64_t seed = 1000; seed >= 1; --seed) {  // out of order on purpose
    proto::RunSummary r = failing_run(seed, "value v" + std::to_string(seed * 7) + " at offsets " +
                                                std::to_string(seed) + " and " + std::to_string(seed + 40));
    r.set_expect_violation("no_duplicates");
    if (seed % 100 == 0) {
      r.mutable_properties(0)->set_held(false);
      r.mutable_properties(0)->set_evidence("task " + std::to_string(seed / 100) + " failed");
    }
    *sc.add_runs() = r;
  }
  const auto groups = reports::group_failures(sc);
  REQUIRE(groups.size() == 2);
  // Unexpected failures first, then the canary's expected bug.
  CHECK(groups[0].property() == "no_task_failure");
  CHECK_FALSE(groups[0].expected());
  CHECK(groups[0].count() == 10);
  CHECK(groups[1].property() == "no_duplicates");
  CHECK(groups[1].expected());
  CHECK(groups[1].count() == 1000);
  CHECK(groups[1].signature() == "no_duplicates: value v# at offsets # and #");
  REQUIRE(groups[1].seeds_size() == 1000);
  CHECK(groups[1].seeds(0) == 1);
  CHECK(groups[1].seeds(999) == 1000);
  CHECK(groups[1].example_evidence() == "value v7 at offsets 1 and 41");
  CHECK_THAT(groups[1].example_replay(), Catch::EndsWith("--seed 1"));

  // The sweep page shows them as two groups with their counts.
  proto::SweepSummary sw;
  *sw.add_scenarios() = sc;
  for (const auto& g : groups) *sw.mutable_scenarios(0)->add_groups() = g;
  const std::string html = reports::html_report(sw);
  CHECK(count(html, "class=\"failure group") == 2);
  CHECK_THAT(html, Catch::Contains("data-count=\"1000\""));
  CHECK_THAT(html, Catch::Contains("no_duplicates: value v# at offsets # and #"));
  CHECK_THAT(html, Catch::Contains("all 1000 seeds"));
}

TEST_CASE("HTML is self-contained, escapes evidence and shows the replay command", "[reports][html]") {
  proto::RunSummary r = failing_run(5, "<script>alert(1)</script> https://evil.example/x.png");
  *r.mutable_timeline() = sample_timeline();
  const std::string html = reports::html_report(r);
  // No external asset: no src= or href= at all, and no URL of ours.
  static const std::regex external(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase);
  CHECK_FALSE(std::regex_search(html, external));
  CHECK(count(html, "src=") == 0);
  CHECK(count(html, "href=") == 0);
  CHECK(count(html, "<link") == 0);
  CHECK(count(html, "http://") == 0);
  CHECK(count(html, "@import") == 0);
  // The evidence is text, not markup (its https:// is escaped text, harmless).
  CHECK(count(html, "<script>alert") == 0);
  CHECK_THAT(html, Catch::Contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_THAT(html, Catch::Contains("./streamsim replay scenarios/canary/example.textproto --seed 5"));
  CHECK_THAT(html, Catch::Contains("<svg class=\"timeline\""));
  CHECK_THAT(html, Catch::Contains("class=\"mark fault\""));
  CHECK_THAT(html, Catch::Contains("class=\"mark down\""));
  CHECK_THAT(html, Catch::Contains("class=\"mark leader_election\""));
  CHECK_THAT(html, Catch::Contains("class=\"mark throughput\""));
  CHECK_THAT(html, Catch::Contains("class=\"mark watermark\""));
  CHECK_THAT(html, Catch::Contains("no_duplicates violated"));
}

TEST_CASE("series are bounded and bucketed", "[reports][timeline]") {
  std::vector<int64_t> t;
  for (int64_t i = 0; i < 100'000; ++i) t.push_back(i * 36'000'000);  // one hour
  const auto s = reports::count_series("x", "events/s", t, 0, 3'600'000'000'000, 400, true);
  CHECK(s.points_size() <= 401);
  CHECK(s.points_size() >= 200);
  double total = 0;
  for (const auto& p : s.points()) total += p.value() * static_cast<double>(s.bucket_ns()) / 1e9;
  CHECK(total == Approx(100'000));
  std::vector<std::pair<int64_t, double>> samples;
  for (int64_t i = 0; i < 10'000; ++i) samples.push_back({i * 1'000'000, static_cast<double>(i)});
  const auto w = reports::sample_series("w", "ms", samples, 0, 10'000'000'000, 400);
  CHECK(w.points_size() <= 400);
  CHECK(w.points(w.points_size() - 1).value() == 9999);
}

TEST_CASE("recording the timeline forwards every event and leaves the trace hash alone", "[reports][timeline]") {
  std::ifstream in(std::string(STREAMSIM_SOURCE_DIR) + "/scenarios/kernel/network-faults.textproto");
  std::stringstream ss;
  ss << in.rdbuf();
  proto::Scenario sc;
  scenarios::ScenarioError e;
  REQUIRE(scenarios::parse_scenario(ss.str(), "network-faults.textproto", &sc, &e));
  struct Counter final : TraceSink {
    uint64_t n = 0;
    void on_event(const TraceEvent&, std::string_view) override { ++n; }
  } counter;
  harness::RunOptions with;
  with.seed = 11;
  with.log_level = "off";
  with.trace = &counter;
  harness::RunOptions without = with;
  without.trace = nullptr;
  const auto a = harness::run_scenario(sc, with);
  const auto b = harness::run_scenario(sc, without);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(counter.n == a.trace_events);  // the user's sink saw every event through the recorder
  CHECK(a.timeline.end_ns() == a.sim_time_ns);
  size_t faults = 0;
  for (const auto& ev : a.timeline.events()) faults += ev.kind() == "fault" ? 1 : 0;
  CHECK(faults > 0);
  const proto::RunSummary sum = harness::to_summary(a, sc, "x.textproto", "streamsim replay x.textproto --seed 11", 0);
  const std::string svg = reports::timeline_svg(sum.timeline(), sum.sim_time_ns());
  CHECK(count(svg, "class=\"mark fault\"") == faults);
}

TEST_CASE("Kafka client secrets never reach a report", "[reports][secrets]") {
  proto::Scenario sc;
  scenarios::ScenarioError e;
  const std::string text = R"(name: "secret/example"
kafka {
  producer_config { key: "acks" value: "all" }
  producer_config { key: "sasl.password" value: "hunter2" }
  producer_config { key: "ssl.key.password" value: "s3cret-key" }
  consumer_config { key: "sasl.username" value: "alice" }
  consumer_config { key: "sasl.password" value: "hunter2" }
})";
  REQUIRE(scenarios::parse_scenario(text, "secret.textproto", &sc, &e));
  const auto lines = harness::describe_client_config(sc);
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::StartsWith("producer: "));
  CHECK_THAT(lines[0], Catch::Contains("sasl.password=[redacted]"));
  CHECK_THAT(lines[1], Catch::Contains("sasl.username=alice"));

  harness::RunReport rr;
  rr.scenario = sc.name();
  rr.seed = 3;
  const proto::RunSummary sum = harness::to_summary(rr, sc, "secret.textproto", "streamsim replay secret.textproto --seed 3", 0);
  REQUIRE(sum.client_config_size() == 2);
  for (const std::string& out : {reports::to_json(sum), reports::html_report(sum), reports::junit_xml(sum)}) {
    CHECK(out.find("hunter2") == std::string::npos);
    CHECK(out.find("s3cret-key") == std::string::npos);
  }
  CHECK_THAT(reports::html_report(sum), Catch::Contains("sasl.password=[redacted]"));
}
