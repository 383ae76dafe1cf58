// Unit tests of harness::check_counter on hand-built histories.
//
// Each test starts from a history in which every property holds, breaks exactly
// one thing, and checks that precisely the matching property is reported (with
// evidence naming the culprit) while the others still hold. A checker that
// ignored the breakage, or blamed the wrong property, fails the test.
#include <streamsim/harness/checkers.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using streamsim::Instant;
using streamsim::harness::check_counter;
using streamsim::scenarios::CounterEntry;
using streamsim::scenarios::CounterHistory;
using streamsim::scenarios::CounterOp;
using streamsim::scenarios::PropertyResult;

namespace {

const std::vector<std::string> kOrder = {"acked_durable", "no_duplicates", "replicas_agree", "values_consistent",
                                         "liveness"};

CounterOp acked(uint32_t client, uint64_t req, uint64_t value, int64_t t_ms) {
  CounterOp op;
  op.client = client;
  op.req = req;
  op.invoked = Instant::from_ns(t_ms * 1'000'000);
  op.acked = true;
  op.acked_at = Instant::from_ns((t_ms + 3) * 1'000'000);
  op.value = value;
  op.attempts = 1;
  return op;
}

// Three replicas, two clients, four acknowledged increments. r0 and r1 hold the
// whole log; r2 lags one entry behind (a prefix is allowed).
CounterHistory good_history() {
  CounterHistory h;
  h.ops = {acked(0, 1, 1, 10), acked(1, 1, 2, 11), acked(0, 2, 3, 20), acked(1, 2, 4, 21)};
  std::vector<CounterEntry> log = {{0, 1}, {1, 1}, {0, 2}, {1, 2}};
  std::vector<CounterEntry> lagging(log.begin(), log.end() - 1);
  h.final_logs = {log, log, lagging};
  h.final_read_done = true;
  return h;
}

std::map<std::string, PropertyResult> by_name(const std::vector<PropertyResult>& rs) {
  std::map<std::string, PropertyResult> out;
  for (const auto& r : rs) out[r.name] = r;
  return out;
}

// Every property except `broken` holds (with empty evidence); `broken` is
// violated with non-empty evidence, which is returned.
std::string only_violated(const std::vector<PropertyResult>& rs, const std::string& broken) {
  REQUIRE(rs.size() == kOrder.size());
  std::string evidence;
  for (size_t i = 0; i < rs.size(); ++i) {
    INFO("property " << rs[i].name << ": " << (rs[i].held ? "held" : "VIOLATED ") << rs[i].evidence);
    CHECK(rs[i].name == kOrder[i]);
    if (rs[i].name == broken) {
      CHECK_FALSE(rs[i].held);
      CHECK_FALSE(rs[i].evidence.empty());
      evidence = rs[i].evidence;
    } else {
      CHECK(rs[i].held);
      CHECK(rs[i].evidence.empty());
    }
  }
  return evidence;
}

}  // namespace

TEST_CASE("check_counter: a correct history holds all five properties", "[checker]") {
  auto rs = check_counter(good_history(), 3);
  REQUIRE(rs.size() == 5);
  for (size_t i = 0; i < rs.size(); ++i) {
    INFO(rs[i].name << ": " << rs[i].evidence);
    CHECK(rs[i].name == kOrder[i]);
    CHECK(rs[i].held);
    CHECK(rs[i].evidence.empty());
  }
}

TEST_CASE("check_counter: a correct history with an empty log and no ops holds", "[checker]") {
  CounterHistory h;
  h.final_logs = {std::vector<CounterEntry>{}, std::vector<CounterEntry>{}, std::vector<CounterEntry>{}};
  h.final_read_done = true;
  auto rs = check_counter(h, 3);
  REQUIRE(rs.size() == 5);
  for (const auto& r : rs) {
    INFO(r.name << ": " << r.evidence);
    CHECK(r.held);
  }
}

TEST_CASE("check_counter: an acknowledged op missing from r0's final log violates acked_durable", "[checker]") {
  CounterHistory h = good_history();
  // Client 1's request 2 (value 4) was acknowledged, but every replica lost it.
  h.final_logs[0]->pop_back();
  h.final_logs[1]->pop_back();
  std::string ev = only_violated(check_counter(h, 3), "acked_durable");
  CHECK_THAT(ev, Catch::Contains("client 1 request 2"));
  CHECK_THAT(ev, Catch::Contains("value 4"));
  CHECK_THAT(ev, Catch::Contains("r0"));
}

TEST_CASE("check_counter: an acked op missing only from r0 (backups have it) still violates acked_durable",
          "[checker]") {
  CounterHistory h = good_history();
  // r0 lost its last entry; r1 still has it, which also makes r1 longer than r0.
  h.final_logs[0]->pop_back();
  auto m = by_name(check_counter(h, 3));
  CHECK_FALSE(m["acked_durable"].held);
  CHECK_THAT(m["acked_durable"].evidence, Catch::Contains("client 1 request 2"));
  CHECK_FALSE(m["replicas_agree"].held);
  CHECK_THAT(m["replicas_agree"].evidence, Catch::Contains("r1"));
  CHECK(m["no_duplicates"].held);
  CHECK(m["values_consistent"].held);
  CHECK(m["liveness"].held);
}

TEST_CASE("check_counter: a duplicated entry violates no_duplicates", "[checker]") {
  CounterHistory h = good_history();
  // Client 0's request 1 appended a second time (a retry applied twice) on
  // every replica that holds the full log.
  for (int r : {0, 1}) h.final_logs[r]->push_back({0, 1});
  std::string ev = only_violated(check_counter(h, 3), "no_duplicates");
  CHECK_THAT(ev, Catch::Contains("client 0 request 1"));
  CHECK_THAT(ev, Catch::Contains("positions 1 and 5"));
}

TEST_CASE("check_counter: a duplicate on a backup alone is reported too", "[checker]") {
  CounterHistory h = good_history();
  // r2 (3 entries) gets its first entry twice: still no longer than r0, but its
  // position 3 then differs from r0's, so replicas_agree breaks as well.
  (*h.final_logs[2])[2] = {0, 1};
  auto m = by_name(check_counter(h, 3));
  CHECK_FALSE(m["no_duplicates"].held);
  CHECK_THAT(m["no_duplicates"].evidence, Catch::Contains("replica r2"));
  CHECK_FALSE(m["replicas_agree"].held);
  CHECK(m["acked_durable"].held);
  CHECK(m["values_consistent"].held);
  CHECK(m["liveness"].held);
}

TEST_CASE("check_counter: a backup diverging from the primary violates replicas_agree", "[checker]") {
  CounterHistory h = good_history();
  // r1 holds the same entries as r0 but in a different order at positions 2, 3.
  auto& b = *h.final_logs[1];
  std::swap(b[1], b[2]);
  std::string ev = only_violated(check_counter(h, 3), "replicas_agree");
  CHECK_THAT(ev, Catch::Contains("r1 position 2"));
  CHECK_THAT(ev, Catch::Contains("client 0 request 2"));
  CHECK_THAT(ev, Catch::Contains("r0 holds client 1 request 1"));
}

TEST_CASE("check_counter: a backup longer than the primary violates replicas_agree", "[checker]") {
  CounterHistory h = good_history();
  h.final_logs[2] = *h.final_logs[0];
  h.final_logs[2]->push_back({2, 9});  // an entry r0 never had
  std::string ev = only_violated(check_counter(h, 3), "replicas_agree");
  CHECK_THAT(ev, Catch::Contains("r2"));
  CHECK_THAT(ev, Catch::Contains("5 entries"));
}

TEST_CASE("check_counter: a wrong acknowledged value violates values_consistent", "[checker]") {
  CounterHistory h = good_history();
  h.ops[2].value = 7;  // client 0 request 2 sits at position 3
  std::string ev = only_violated(check_counter(h, 3), "values_consistent");
  CHECK_THAT(ev, Catch::Contains("client 0 request 2"));
  CHECK_THAT(ev, Catch::Contains("value 7"));
  CHECK_THAT(ev, Catch::Contains("position 3"));
}

TEST_CASE("check_counter: an unacknowledged op violates liveness", "[checker]") {
  CounterHistory h = good_history();
  CounterOp open;
  open.client = 1;
  open.req = 3;
  open.invoked = Instant::from_ns(30'000'000);
  open.attempts = 17;
  h.ops.push_back(open);
  std::string ev = only_violated(check_counter(h, 3), "liveness");
  CHECK_THAT(ev, Catch::Contains("client 1 request 3"));
  CHECK_THAT(ev, Catch::Contains("never acknowledged"));
  CHECK_THAT(ev, Catch::Contains("17 attempts"));
}

TEST_CASE("check_counter: an unacknowledged op that did reach the log is not a safety violation", "[checker]") {
  CounterHistory h = good_history();
  h.ops[3].acked = false;  // the ack was lost in the network, the entry is in the log
  h.ops[3].value = 0;
  std::string ev = only_violated(check_counter(h, 3), "liveness");
  CHECK_THAT(ev, Catch::Contains("client 1 request 2"));
}

TEST_CASE("check_counter: a replica that could not be read violates liveness", "[checker]") {
  CounterHistory h = good_history();
  h.final_logs[2] = std::nullopt;
  std::string ev = only_violated(check_counter(h, 3), "liveness");
  CHECK_THAT(ev, Catch::Contains("r2"));
}

TEST_CASE("check_counter: an unreadable primary violates liveness and cannot confirm durability", "[checker]") {
  CounterHistory h = good_history();
  h.final_logs[0] = std::nullopt;
  auto m = by_name(check_counter(h, 3));
  CHECK_FALSE(m["liveness"].held);
  CHECK_THAT(m["liveness"].evidence, Catch::Contains("r0"));
  CHECK_FALSE(m["acked_durable"].held);
}

TEST_CASE("check_counter: final reads that never finished violate liveness", "[checker]") {
  CounterHistory h = good_history();
  h.final_read_done = false;
  auto m = by_name(check_counter(h, 3));
  CHECK_FALSE(m["liveness"].held);
  CHECK_THAT(m["liveness"].evidence, Catch::Contains("final reads"));
}

TEST_CASE("check_counter: a violation's evidence names the first culprit", "[checker]") {
  CounterHistory h = good_history();
  // Two acknowledged ops are lost; the evidence names the first in invocation order.
  for (int r : {0, 1}) h.final_logs[r]->resize(2);
  h.final_logs[2]->resize(2);
  std::string ev = only_violated(check_counter(h, 3), "acked_durable");
  CHECK_THAT(ev, Catch::Contains("client 0 request 2"));
  CHECK_THAT(ev, !Catch::Contains("client 1 request 2"));
}
