// Rendering reports from the report data model (proto/report.proto): the JSON
// summary, JUnit XML for CI systems, and a self-contained HTML page with an
// inline SVG timeline. docs/reports.md describes the formats for readers.
//
// Everything here is a pure function of its input message: no clock, no file
// access (the CLI writes the strings), no dependency on the harness. The
// harness converts its RunReport into a proto::RunSummary
// (harness/report_proto.h); sweeps assemble a proto::SweepSummary.
#pragma once

#include <streamsim/proto/report.pb.h>

#include <google/protobuf/message.h>

#include <string>
#include <string_view>
#include <vector>

namespace streamsim::reports {

// ---- JSON (protobuf's util/json_util) ----

// One line of JSON (no newline inside, none at the end): proto field names,
// defaults printed. Asserts on failure (every report message is serialisable).
std::string to_json(const google::protobuf::Message& m);
// Parses JSON written by to_json (unknown fields refused). On failure returns
// false and sets *error.
bool from_json(std::string_view json, google::protobuf::Message* out, std::string* error);

// ---- Grouping failures by signature ----

// The evidence with every number replaced by "#" (digit runs, decimals, and
// words of 8+ hex digits such as hashes), and runs of white space collapsed:
// "offset 17 of clicks[2] lost (seed 9)" -> "offset # of clicks[#] lost (seed #)".
std::string normalize_evidence(std::string_view evidence);
// property + ": " + normalize_evidence(evidence).
std::string failure_signature(std::string_view property, std::string_view evidence);
// Groups the violated properties of a scenario's runs by signature: one group
// per signature with its seeds (ascending), the first seed's evidence and
// replay command. A violation of the canary's expected property is marked
// expected. Order: unexpected before expected, then larger groups first, then
// by signature.
std::vector<proto::FailureGroup> group_failures(const proto::ScenarioResult& scenario);

// ---- JUnit XML ----

// One <testsuite> with one <testcase> for the run; a violated property is a
// <failure> whose message holds the property, the evidence and the replay
// command.
std::string junit_xml(const proto::RunSummary& run);
// One <testsuite> per scenario, one <testcase> per seed, and one "scenario
// verdict" testcase for what only the whole sweep decides (a canary never
// caught, a coverage target never reached). Canary seeds that caught the
// deliberate bug pass, with the evidence in <system-out>.
std::string junit_xml(const proto::SweepSummary& sweep);
// Text made safe for XML character data and attribute values: & < > " '
// escaped; control characters other than tab, newline and carriage return
// (which XML 1.0 cannot carry at all) shown as \xNN.
std::string xml_escape(std::string_view text);

// ---- HTML ----

// Self-contained pages (inline CSS, SVG and a small inline script; no external
// URL anywhere). The script measures the drawn timeline after layout and
// writes its verdict into <body data-timeline="drawn|empty|missing"
// data-timeline-marks="N" data-timeline-width="W">, which a headless browser's
// --dump-dom shows (tests/reports/browser_test.cpp).
std::string html_report(const proto::RunSummary& run);
std::string html_report(const proto::SweepSummary& sweep);
// The inline SVG timeline of one run (part of html_report; exposed for tests).
std::string timeline_svg(const proto::Timeline& timeline, int64_t sim_time_ns);
// & < > " ' escaped; control characters shown as \xNN.
std::string html_escape(std::string_view text);

}  // namespace streamsim::reports
