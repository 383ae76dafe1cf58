// Unit and property tests of harness::check_kafka.
//
// The unit tests start from one hand-built history in which all seven properties
// hold (with aborted transactions, unknown and failed sends, a rebalance, a
// manual consumer that seeks back), break exactly one thing, and check that only
// the matching property is reported, with evidence naming the partition, offset
// and value. The boundary tests show that what looks suspicious but is legal
// (gaps left by aborted transactions, unknown sends present or absent, re-reads
// after a rebalance) passes, and that the nearest illegal variant does not.
// The RapidCheck properties generate random consistent histories from an
// in-memory log model, require every property to hold, and then mutate them
// (drop an acked value, duplicate a value, reorder or drop a poll) and require
// the matching property to catch each mutation.
#include <streamsim/harness/kafka_history.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#if defined(__unix__)
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <catch2/catch.hpp>

#include "../support/test_support.h"
#include <rapidcheck/catch.h>

using streamsim::harness::Assignment;
using streamsim::harness::check_kafka;
using streamsim::harness::KafkaHistory;
using streamsim::harness::Poll;
using streamsim::harness::Send;
using streamsim::harness::SendOutcome;
using streamsim::harness::TopicPartition;
using streamsim::harness::TxnOutcome;
using streamsim::scenarios::PropertyResult;

namespace {

const std::vector<std::string> kOrder = {"lost_writes",     "no_duplicates",    "no_poll_skips",
                                         "monotonic_sends", "monotonic_polls",  "no_aborted_reads",
                                         "one_owner_per_generation"};

TopicPartition tp(int32_t p) { return {"orders", p}; }

Send send(uint32_t producer, uint64_t index, std::string value, int32_t part, SendOutcome outcome, int64_t offset = -1,
          int64_t txn = -1) {
  Send s;
  s.producer = producer;
  s.value = std::move(value);
  s.tp = tp(part);
  s.send_index = index;
  s.outcome = outcome;
  s.offset = offset;
  s.txn = txn;
  return s;
}

Send acked(uint32_t producer, uint64_t index, std::string value, int32_t part, int64_t offset, int64_t txn = -1) {
  return send(producer, index, std::move(value), part, SendOutcome::acked, offset, txn);
}

Poll poll(uint32_t consumer, int32_t part, int64_t offset, std::string value, int32_t generation, uint64_t seq,
          bool after_seek = false) {
  Poll p;
  p.consumer = consumer;
  p.tp = tp(part);
  p.offset = offset;
  p.value = std::move(value);
  p.generation = generation;
  p.seq = seq;
  p.after_seek = after_seek;
  return p;
}

// Topic "orders" with two partitions.
// orders-0: producer 0 (plain) and producer 1 (transactional) interleave:
//   0 a0, 1 a1, 2 t0, 3 t1 (txn 0, committed), 4 commit marker,
//   5 t2, 6 t3 (txn 1, aborted), 7 abort marker, 8 a2, 9 u0 (unknown outcome,
//   landed), 10 a3; u1 (unknown, did not land) and f0 (failed) are absent.
// orders-1: producer 2 writes b0, b1, b2 at 0, 1, 2.
// Consumers 0 and 1 share a group: generation 1 gives orders-0 to 0 and orders-1
// to 1; generation 2 swaps them, and consumer 0 re-reads orders-1 offset 2 (its
// predecessor committed before the last record). Consumer 2 reads orders-0 by
// assign() and seeks back to 0 once.
KafkaHistory good_history() {
  KafkaHistory h;
  h.sends = {acked(0, 0, "a0", 0, 0),
             acked(0, 1, "a1", 0, 1),
             acked(1, 0, "t0", 0, 2, 0),
             acked(1, 1, "t1", 0, 3, 0),
             acked(1, 2, "t2", 0, 5, 1),
             acked(1, 3, "t3", 0, 6, 1),
             acked(0, 2, "a2", 0, 8),
             send(0, 3, "u0", 0, SendOutcome::unknown),
             send(0, 4, "u1", 0, SendOutcome::unknown),
             send(0, 5, "f0", 0, SendOutcome::failed),
             acked(0, 6, "a3", 0, 10),
             acked(2, 0, "b0", 1, 0),
             acked(2, 1, "b1", 1, 1),
             acked(2, 2, "b2", 1, 2)};
  h.txns = {{1, 0, TxnOutcome::Kind::committed}, {1, 1, TxnOutcome::Kind::aborted}};
  h.final_log[tp(0)] = {{0, "a0"}, {1, "a1"}, {2, "t0"}, {3, "t1"}, {8, "a2"}, {9, "u0"}, {10, "a3"}};
  h.final_log[tp(1)] = {{0, "b0"}, {1, "b1"}, {2, "b2"}};
  h.assignments = {{0, 1, {tp(0)}}, {1, 1, {tp(1)}}, {0, 2, {tp(1)}}, {1, 2, {tp(0)}}, {2, -1, {tp(0)}}};
  h.polls = {poll(0, 0, 0, "a0", 1, 10, true),  poll(1, 1, 0, "b0", 1, 20, true),  poll(0, 0, 1, "a1", 1, 30),
             poll(0, 0, 2, "t0", 1, 40),        poll(1, 1, 1, "b1", 1, 50),        poll(0, 0, 3, "t1", 1, 60),
             poll(0, 0, 8, "a2", 1, 70),        poll(1, 1, 2, "b2", 1, 80),        poll(1, 0, 9, "u0", 2, 90, true),
             poll(0, 1, 2, "b2", 2, 100, true), poll(1, 0, 10, "a3", 2, 110),      poll(2, 0, 0, "a0", -1, 120, true),
             poll(2, 0, 1, "a1", -1, 130),      poll(2, 0, 2, "t0", -1, 140),      poll(2, 0, 0, "a0", -1, 150, true),
             poll(2, 0, 1, "a1", -1, 160)};
  h.read_committed = true;
  return h;
}

std::string describe(const std::vector<PropertyResult>& rs) {
  std::string out;
  for (const auto& r : rs) out += "\n  " + r.name + ": " + (r.held ? "held" : "VIOLATED " + r.evidence);
  return out;
}

void all_hold(const std::vector<PropertyResult>& rs) {
  INFO(describe(rs));
  REQUIRE(rs.size() == kOrder.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    CHECK(rs[i].name == kOrder[i]);
    CHECK(rs[i].held);
    CHECK(rs[i].evidence.empty());
  }
}

// Every property except `broken` holds with empty evidence; `broken` is violated
// with non-empty one-line evidence, which is returned.
std::string only_violated(const std::vector<PropertyResult>& rs, const std::string& broken) {
  INFO(describe(rs));
  REQUIRE(rs.size() == kOrder.size());
  REQUIRE(std::find(kOrder.begin(), kOrder.end(), broken) != kOrder.end());
  std::string evidence;
  for (size_t i = 0; i < rs.size(); ++i) {
    CHECK(rs[i].name == kOrder[i]);
    if (rs[i].name == broken) {
      CHECK_FALSE(rs[i].held);
      CHECK_FALSE(rs[i].evidence.empty());
      CHECK(rs[i].evidence.find('\n') == std::string::npos);
      evidence = rs[i].evidence;
    } else {
      CHECK(rs[i].held);
      CHECK(rs[i].evidence.empty());
    }
  }
  return evidence;
}

bool has(const std::string& evidence, const std::string& part) { return evidence.find(part) != std::string::npos; }

void remove_poll(KafkaHistory& h, uint64_t seq) {
  auto it = std::find_if(h.polls.begin(), h.polls.end(), [&](const Poll& p) { return p.seq == seq; });
  REQUIRE(it != h.polls.end());
  h.polls.erase(it);
}

Send& send_of(KafkaHistory& h, const std::string& value) {
  auto it = std::find_if(h.sends.begin(), h.sends.end(), [&](const Send& s) { return s.value == value; });
  REQUIRE(it != h.sends.end());
  return *it;
}

}  // namespace

TEST_CASE("check_kafka: a correct history holds all seven properties", "[kafka_checker]") {
  all_hold(check_kafka(good_history(), true));
  all_hold(check_kafka(good_history(), false));
  KafkaHistory uncommitted = good_history();
  uncommitted.read_committed = false;
  all_hold(check_kafka(uncommitted, true));
}

TEST_CASE("check_kafka: an empty history holds everything", "[kafka_checker]") {
  all_hold(check_kafka(KafkaHistory{}, true));
}

TEST_CASE("check_kafka: lost_writes", "[kafka_checker]") {
  KafkaHistory h = good_history();

  SECTION("an acked value missing from the final log") {
    h.final_log[tp(0)].erase(8);
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "\"a2\""));
    CHECK(has(ev, "producer 0"));
    CHECK(has(ev, "orders-0 offset 8"));
    CHECK(has(ev, "missing"));
  }
  SECTION("an acked value at another offset than acknowledged") {
    h.final_log[tp(1)] = {{0, "b0"}, {1, "b1"}, {3, "b2"}};
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "\"b2\""));
    CHECK(has(ev, "producer 2"));
    CHECK(has(ev, "at orders-1 offset 3, acknowledged at orders-1 offset 2"));
  }
  SECTION("another value at the acknowledged offset") {
    h.final_log[tp(1)][2] = "u1";  // an unknown send may land, but not in b2's place
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "\"b2\""));
    CHECK(has(ev, "orders-1 offset 2"));
    CHECK(has(ev, "holds \"u1\""));
  }
  SECTION("a value of a committed transaction is missing") {
    h.final_log[tp(0)].erase(2);
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "\"t0\""));
    CHECK(has(ev, "transaction 0"));
    CHECK(has(ev, "orders-0 offset 2"));
  }
  SECTION("a partition that could not be read") {
    h.final_log.erase(tp(1));
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "orders-1 could not be read"));
    CHECK(has(ev, "\"b0\""));
  }
  SECTION("the first lost value is the one reported") {
    h.final_log[tp(0)].erase(1);
    h.final_log[tp(0)].erase(10);
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "\"a1\""));
    CHECK_FALSE(has(ev, "\"a3\""));
  }
}

TEST_CASE("check_kafka: no_duplicates", "[kafka_checker]") {
  KafkaHistory h = good_history();

  SECTION("a value at two offsets of the final log") {
    h.final_log[tp(0)][11] = "a0";
    const std::string ev = only_violated(check_kafka(h, true), "no_duplicates");
    CHECK(has(ev, "\"a0\""));
    CHECK(has(ev, "orders-0 offset 0"));
    CHECK(has(ev, "orders-0 offset 11"));
  }
  SECTION("a value in two partitions of the final log") {
    h.final_log[tp(1)][3] = "a1";
    const std::string ev = only_violated(check_kafka(h, true), "no_duplicates");
    CHECK(has(ev, "\"a1\""));
    CHECK(has(ev, "orders-0 offset 1"));
    CHECK(has(ev, "orders-1 offset 3"));
  }
  SECTION("one consumer polls a value at two offsets") {
    h.polls.push_back(poll(1, 1, 3, "b1", 1, 85));
    const std::string ev = only_violated(check_kafka(h, true), "no_duplicates");
    CHECK(has(ev, "consumer 1"));
    CHECK(has(ev, "\"b1\""));
    CHECK(has(ev, "orders-1 offset 1 (seq 50)"));
    CHECK(has(ev, "orders-1 offset 3 (seq 85)"));
  }
  SECTION("re-reading the same offset, or two consumers reading one value, is not a duplicate") {
    // Good history: consumer 0 reads b2 at orders-1 offset 2 after consumer 1 did,
    // and consumer 2 reads a0 twice at offset 0 after a seek.
    all_hold(check_kafka(h, true));
    // Not in the good history: consumer 0 reads its own value again at the same offset.
    h.polls.push_back(poll(0, 0, 8, "a2", 1, 75, true));
    all_hold(check_kafka(h, true));
  }
}

TEST_CASE("check_kafka: no_poll_skips", "[kafka_checker]") {
  KafkaHistory h = good_history();

  SECTION("a consumer jumps over an acked value") {
    remove_poll(h, 50);  // consumer 1 reads orders-1 offset 0, then offset 2
    const std::string ev = only_violated(check_kafka(h, true), "no_poll_skips");
    CHECK(has(ev, "consumer 1 on orders-1"));
    CHECK(has(ev, "offset 0 (seq 20"));
    CHECK(has(ev, "offset 2 (seq 80"));
    CHECK(has(ev, "skipping offset 1 (value \"b1\")"));
  }
  SECTION("a jump after a seek is not a skip") {
    remove_poll(h, 50);
    for (auto& p : h.polls) {
      if (p.seq == 80) p.after_seek = true;
    }
    all_hold(check_kafka(h, true));
  }
  SECTION("a jump across a generation change is not a skip") {
    remove_poll(h, 50);
    for (auto& p : h.polls) {
      if (p.seq == 80) p.generation = 2;
    }
    all_hold(check_kafka(h, true));
  }
  SECTION("gaps left by an aborted transaction and its markers are not skips") {
    // Consumer 0 polls offset 3 then offset 8: 4 commit marker, 5-6 aborted, 7 abort marker.
    all_hold(check_kafka(h, true));
    // Had the transaction committed, offsets 5 and 6 were skipped.
    h.txns[1].kind = TxnOutcome::Kind::committed;
    h.final_log[tp(0)][5] = "t2";
    h.final_log[tp(0)][6] = "t3";
    const std::string ev = only_violated(check_kafka(h, true), "no_poll_skips");
    CHECK(has(ev, "consumer 0 on orders-0"));
    CHECK(has(ev, "skipping offset 5 (value \"t2\")"));
  }
  SECTION("an unknown send in the final log is not required of consumers") {
    remove_poll(h, 90);  // consumer 1 now reads orders-0 offset 10 first, after a seek
    for (auto& p : h.polls) {
      if (p.seq == 110) p.after_seek = true;
    }
    all_hold(check_kafka(h, true));
    // A manual consumer reading 8 then 10 steps over u0 at 9, whose send was not acked.
    h.polls.push_back(poll(3, 0, 8, "a2", -1, 200, true));
    h.polls.push_back(poll(3, 0, 10, "a3", -1, 210));
    all_hold(check_kafka(h, true));
    // Stepping over an acked value the same way is a skip.
    h.polls.push_back(poll(4, 0, 3, "t1", -1, 220, true));
    h.polls.push_back(poll(4, 0, 9, "u0", -1, 230));
    const std::string ev = only_violated(check_kafka(h, true), "no_poll_skips");
    CHECK(has(ev, "consumer 4 on orders-0"));
    CHECK(has(ev, "skipping offset 8 (value \"a2\")"));
  }
}

TEST_CASE("check_kafka: monotonic_sends", "[kafka_checker]") {
  KafkaHistory h = good_history();
  std::swap(send_of(h, "b1").send_index, send_of(h, "b2").send_index);
  SECTION("acked offsets go backwards in send order") {
    const std::string ev = only_violated(check_kafka(h, true), "monotonic_sends");
    CHECK(has(ev, "producer 2 on orders-1"));
    CHECK(has(ev, "send 1 (value \"b2\") acked at offset 2"));
    CHECK(has(ev, "send 2 (value \"b1\") acked at offset 1"));
  }
  SECTION("not checked when order need not hold") { all_hold(check_kafka(h, false)); }
  SECTION("two acked sends at one offset do not increase") {
    KafkaHistory g = good_history();
    send_of(g, "b2").offset = 1;  // the final log still has b2 at 2, so lost_writes objects too
    const auto rs = check_kafka(g, true);
    INFO(describe(rs));
    REQUIRE(rs.size() == kOrder.size());
    CHECK_FALSE(rs[0].held);
    CHECK_FALSE(rs[3].held);
    CHECK(has(rs[3].evidence, "send 1 (value \"b1\") acked at offset 1, then send 2 (value \"b2\") acked at offset 1"));
  }
  SECTION("unacked sends in between do not count") {
    // Producer 0's unknown and failed sends (indexes 3 to 5) have no offset.
    KafkaHistory g = good_history();
    all_hold(check_kafka(g, true));
    send_of(g, "a3").send_index = 1;
    send_of(g, "a1").send_index = 6;
    const std::string ev = only_violated(check_kafka(g, true), "monotonic_sends");
    CHECK(has(ev, "producer 0 on orders-0"));
    CHECK(has(ev, "\"a3\") acked at offset 10"));
  }
}

TEST_CASE("check_kafka: monotonic_polls", "[kafka_checker]") {
  KafkaHistory h = good_history();
  h.polls.push_back(poll(1, 1, 1, "b1", 1, 85));  // back to offset 1 after offset 2

  SECTION("offsets go backwards without a reposition") {
    const std::string ev = only_violated(check_kafka(h, true), "monotonic_polls");
    CHECK(has(ev, "consumer 1 on orders-1"));
    CHECK(has(ev, "offset 2 (seq 80, value \"b2\")"));
    CHECK(has(ev, "offset 1 (seq 85, value \"b1\")"));
    CHECK(has(ev, "generation 1"));
  }
  SECTION("the same offset twice without a reposition") {
    h.polls.back() = poll(1, 1, 2, "b2", 1, 85);
    const std::string ev = only_violated(check_kafka(h, true), "monotonic_polls");
    CHECK(has(ev, "offset 2 (seq 85"));
  }
  SECTION("a seek allows going back") {
    h.polls.back().after_seek = true;
    all_hold(check_kafka(h, true));
  }
  SECTION("a new generation allows going back") {
    h.polls.back().generation = 2;
    all_hold(check_kafka(h, true));
  }
  SECTION("order is by seq, not by position in the history") {
    KafkaHistory g = good_history();
    std::reverse(g.polls.begin(), g.polls.end());
    all_hold(check_kafka(g, true));
  }
}

TEST_CASE("check_kafka: no_aborted_reads", "[kafka_checker]") {
  KafkaHistory h = good_history();

  SECTION("a value of an aborted transaction") {
    h.polls.push_back(poll(0, 0, 5, "t2", 1, 65));
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "consumer 0 on orders-0"));
    CHECK(has(ev, "offset 5"));
    CHECK(has(ev, "\"t2\""));
    CHECK(has(ev, "producer 1"));
    CHECK(has(ev, "aborted"));
    SECTION("is allowed with read_uncommitted") {
      h.read_committed = false;
      all_hold(check_kafka(h, true));
    }
  }
  SECTION("a value of a failed send") {
    h.polls.push_back(poll(1, 0, 11, "f0", 2, 115));
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "consumer 1 on orders-0"));
    CHECK(has(ev, "offset 11"));
    CHECK(has(ev, "\"f0\""));
    CHECK(has(ev, "failed"));
  }
  SECTION("a value never sent") {
    h.polls.push_back(poll(1, 0, 11, "zz", 2, 115));
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "\"zz\""));
    CHECK(has(ev, "never sent"));
  }
  SECTION("a value of a transaction with no recorded outcome and no trace in the final log") {
    h.sends.push_back(acked(1, 4, "t4", 0, 11, 2));  // transaction 2: no TxnOutcome at all
    h.polls.push_back(poll(1, 0, 11, "t4", 2, 115));
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "\"t4\""));
    CHECK(has(ev, "transaction 2"));
    CHECK(has(ev, "no known commit"));
    // Once the final read_committed log holds it, the transaction committed.
    h.final_log[tp(0)][11] = "t4";
    all_hold(check_kafka(h, true));
  }
  SECTION("the final read_committed log holds an aborted value") {
    h.final_log[tp(0)][5] = "t2";
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "final read_committed log"));
    CHECK(has(ev, "orders-0 offset 5"));
    CHECK(has(ev, "\"t2\""));
    CHECK(has(ev, "aborted"));
  }
  SECTION("failed sends must not be visible, even in the final log") {
    h.final_log[tp(0)][11] = "f0";
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "orders-0 offset 11"));
    CHECK(has(ev, "\"f0\""));
    CHECK(has(ev, "failed"));
  }
}

TEST_CASE("check_kafka: one_owner_per_generation", "[kafka_checker]") {
  KafkaHistory h = good_history();
  SECTION("two consumers own one partition in one generation") {
    h.assignments.push_back({1, 1, {tp(1), tp(0)}});
    const std::string ev = only_violated(check_kafka(h, true), "one_owner_per_generation");
    CHECK(has(ev, "orders-0"));
    CHECK(has(ev, "consumer 0 and consumer 1"));
    CHECK(has(ev, "generation 1"));
  }
  SECTION("the same consumer listed twice, or manual assign(), is not shared ownership") {
    h.assignments.push_back({0, 1, {tp(0)}});
    h.assignments.push_back({3, -1, {tp(0)}});
    all_hold(check_kafka(h, true));
  }
}

TEST_CASE("check_kafka: unknown-outcome sends may be present or absent", "[kafka_checker]") {
  KafkaHistory h = good_history();
  // Good history: u0 landed, u1 did not.
  all_hold(check_kafka(h, true));
  SECTION("u0 absent too") {
    h.final_log[tp(0)].erase(9);
    remove_poll(h, 90);
    for (auto& p : h.polls) {
      if (p.seq == 110) p.after_seek = true;
    }
    all_hold(check_kafka(h, true));
    // The same value, had it been acked, would be lost.
    send_of(h, "u0").outcome = SendOutcome::acked;
    send_of(h, "u0").offset = 9;
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "\"u0\""));
  }
  SECTION("u1 present too") {
    h.final_log[tp(0)][11] = "u1";
    all_hold(check_kafka(h, true));
    h.polls.push_back(poll(1, 0, 11, "u1", 2, 115));
    all_hold(check_kafka(h, true));
  }
  SECTION("a transaction with an unknown outcome is judged by the final log") {
    h.txns[0].kind = TxnOutcome::Kind::unknown;  // t0, t1 are in the final log: committed
    all_hold(check_kafka(h, true));
    // Committed, so its other acked value must be there too.
    h.final_log[tp(0)].erase(2);
    const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
    CHECK(has(ev, "\"t0\""));
  }
  SECTION("a transaction with an unknown outcome that left nothing is not committed") {
    h.txns[1].kind = TxnOutcome::Kind::unknown;  // t2, t3 are not in the final log
    all_hold(check_kafka(h, true));
  }
}

TEST_CASE("check_kafka: evidence is one line even for awkward values", "[kafka_checker]") {
  KafkaHistory h = good_history();
  h.sends.push_back(acked(3, 0, "line\nbreak \"quoted\"", 1, 3));
  const std::string ev = only_violated(check_kafka(h, true), "lost_writes");
  CHECK(has(ev, "\"line\\x0abreak \\\"quoted\\\"\""));
}

#if defined(__unix__)
TEST_CASE("check_kafka: two sends with one value stop the process", "[kafka_checker]") {
  auto d = streamsim::testing::run_expecting_abort([] {
    KafkaHistory h = good_history();
    h.sends.push_back(acked(3, 0, "a0", 1, 3));
    (void)check_kafka(h, true);
  });
  INFO(d.stderr_text);
  CHECK(d.aborted);
  CHECK(d.stderr_text.find("kafka_checker.cpp:") != std::string::npos);
  CHECK(d.stderr_text.find("two sends carry the same value") != std::string::npos);
}
#endif

// --- Random consistent histories -------------------------------------------

namespace {

// Uniform in [lo, hi) at every size (inRange alone favours small values).
int pick(int lo, int hi) { return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange(lo, hi)); }
bool chance(int percent) { return pick(0, 100) < percent; }

struct Slot {
  std::string value;  // empty for a commit / abort marker
  uint32_t producer = 0;
  int64_t txn = -1;
};

// Producers append unique values to an in-memory model of each partition (with
// transactions, their markers, failed and unknown sends); group consumers then
// read the committed records in order across generations, resuming from
// committed positions (so some records are read twice), and a manual consumer
// reads one partition with seeks back. Everything in it is legal.
KafkaHistory random_history() {
  KafkaHistory h;
  const int parts = pick(1, 4);
  const int producers = pick(1, 4);
  std::vector<std::vector<Slot>> log(static_cast<size_t>(parts));
  std::map<std::pair<uint32_t, int64_t>, bool> commits;  // what really happened

  struct Producer {
    bool transactional = false;
    int64_t open_txn = -1;
    int64_t next_txn = 0;
    uint64_t next_index = 0;
    std::set<int> touched;
  };
  std::vector<Producer> ps(static_cast<size_t>(producers));
  for (auto& p : ps) p.transactional = chance(50);

  auto end_txn = [&](uint32_t id, bool commit, bool crash) {
    Producer& p = ps[id];
    commits[{id, p.open_txn}] = commit;
    for (int part : p.touched) log[static_cast<size_t>(part)].push_back({"", id, p.open_txn});
    // The producer may not learn the outcome (and a crash never does).
    if (crash || chance(20)) {
      if (chance(50)) h.txns.push_back({id, p.open_txn, TxnOutcome::Kind::unknown});
    } else {
      h.txns.push_back({id, p.open_txn, commit ? TxnOutcome::Kind::committed : TxnOutcome::Kind::aborted});
    }
    p.open_txn = -1;
    p.touched.clear();
  };

  const int steps = pick(0, 80);
  for (int step = 0; step < steps; ++step) {
    const auto id = static_cast<uint32_t>(pick(0, producers));
    Producer& p = ps[id];
    if (p.transactional && p.open_txn >= 0 && chance(25)) {
      end_txn(id, chance(60), false);
      continue;
    }
    if (p.transactional && p.open_txn < 0) p.open_txn = p.next_txn++;
    Send s;
    s.producer = id;
    s.send_index = p.next_index++;
    s.value = "p" + std::to_string(id) + "-" + std::to_string(s.send_index);
    const int part = pick(0, parts);
    s.tp = {"t", part};
    s.txn = p.open_txn;
    auto& plog = log[static_cast<size_t>(part)];
    const int roll = pick(0, 100);
    if (s.txn >= 0) {
      // Inside a transaction a send is appended; its report may be lost.
      s.outcome = roll < 80 ? SendOutcome::acked : SendOutcome::unknown;
      if (s.outcome == SendOutcome::acked) s.offset = static_cast<int64_t>(plog.size());
      plog.push_back({s.value, id, s.txn});
      p.touched.insert(part);
    } else if (roll < 70) {
      s.outcome = SendOutcome::acked;
      s.offset = static_cast<int64_t>(plog.size());
      plog.push_back({s.value, id, -1});
    } else if (roll < 85) {
      s.outcome = SendOutcome::failed;
    } else {
      s.outcome = SendOutcome::unknown;
      if (chance(50)) plog.push_back({s.value, id, -1});
    }
    h.sends.push_back(s);
  }
  for (uint32_t id = 0; id < ps.size(); ++id) {
    if (ps[id].open_txn >= 0) end_txn(id, false, true);  // crashed mid-transaction: timed out, aborted
  }

  // What a read_committed reader sees: the final log.
  std::vector<std::vector<int64_t>> visible(static_cast<size_t>(parts));
  for (int part = 0; part < parts; ++part) {
    auto& out = h.final_log[{"t", part}];
    const auto& plog = log[static_cast<size_t>(part)];
    for (size_t off = 0; off < plog.size(); ++off) {
      const Slot& s = plog[off];
      if (s.value.empty() || (s.txn >= 0 && !commits.at({s.producer, s.txn}))) continue;
      out[static_cast<int64_t>(off)] = s.value;
      visible[static_cast<size_t>(part)].push_back(static_cast<int64_t>(off));
    }
  }

  uint64_t seq = 0;
  // Reads the next committed record at or after `pos`; false at the end.
  auto read = [&](uint32_t consumer, int part, int64_t& pos, int32_t generation, bool& seeked) {
    const auto& vis = visible[static_cast<size_t>(part)];
    auto it = std::lower_bound(vis.begin(), vis.end(), pos);
    if (it == vis.end()) return false;
    Poll p;
    p.consumer = consumer;
    p.tp = {"t", part};
    p.offset = *it;
    p.value = h.final_log.at(p.tp).at(*it);
    p.generation = generation;
    p.seq = seq++;
    p.after_seek = seeked;
    seeked = false;
    h.polls.push_back(p);
    pos = *it + 1;
    return true;
  };

  const int consumers = pick(1, 4);
  const int generations = pick(1, 4);
  std::vector<int64_t> committed(static_cast<size_t>(parts), 0);
  for (int32_t gen = 1; gen <= generations; ++gen) {
    const int rotate = pick(0, consumers);
    std::vector<Assignment> as(static_cast<size_t>(consumers));
    std::vector<int> owner(static_cast<size_t>(parts));
    for (int c = 0; c < consumers; ++c) as[static_cast<size_t>(c)] = {static_cast<uint32_t>(c), gen, {}};
    for (int part = 0; part < parts; ++part) {
      owner[static_cast<size_t>(part)] = (part + rotate) % consumers;
      as[static_cast<size_t>(owner[static_cast<size_t>(part)])].partitions.push_back({"t", part});
    }
    for (auto& a : as) h.assignments.push_back(a);
    std::vector<int64_t> pos = committed;
    std::vector<bool> seeked(static_cast<size_t>(parts), true);  // first poll of a generation: repositioned
    const int reads = pick(0, 30);
    for (int r = 0; r < reads; ++r) {
      const int part = pick(0, parts);
      const auto c = static_cast<uint32_t>(owner[static_cast<size_t>(part)]);
      bool s = seeked[static_cast<size_t>(part)];
      read(c, part, pos[static_cast<size_t>(part)], gen, s);
      seeked[static_cast<size_t>(part)] = s;
      // Commit the position now and then; the next owner resumes from the last commit.
      if (chance(40)) committed[static_cast<size_t>(part)] = pos[static_cast<size_t>(part)];
    }
  }

  // A manual consumer (assign(), no group) on one partition, seeking back at times.
  const int part = pick(0, parts);
  int64_t pos = 0;
  bool seeked = true;
  const int reads = pick(0, 20);
  for (int r = 0; r < reads; ++r) {
    if (r > 0 && chance(15)) {
      pos = pick(0, static_cast<int>(pos) + 1);
      seeked = true;
    }
    read(100, part, pos, -1, seeked);
  }
  return h;
}

void rc_all_hold(const std::vector<PropertyResult>& rs) {
  RC_ASSERT(rs.size() == kOrder.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    RC_ASSERT(rs[i].name == kOrder[i]);
    if (!rs[i].held) RC_FAIL(rs[i].name + " violated: " + rs[i].evidence);
  }
}

bool violated(const std::vector<PropertyResult>& rs, const std::string& name) {
  for (const auto& r : rs) {
    if (r.name == name) return !r.held && !r.evidence.empty();
  }
  return false;
}

// The checker's own notion, restated from the model's records.
bool committed_visible(const KafkaHistory& h, const Send& s) {
  if (s.outcome != SendOutcome::acked) return false;
  if (s.txn < 0) return true;
  for (const auto& t : h.txns) {
    if (t.producer == s.producer && t.txn == s.txn) return t.kind == TxnOutcome::Kind::committed;
  }
  return false;
}

}  // namespace

TEST_CASE("check_kafka: random consistent histories hold, and each mutation is caught", "[kafka_checker][property]") {
  int dropped = 0, duplicated = 0, reordered = 0, skipped = 0;
  int gaps = 0, unknown_txn_reads = 0, rereads = 0;  // legal cases the histories must contain
  rc::prop("a random legal history holds all seven properties; mutations break the matching one", [&] {
    const KafkaHistory h = random_history();
    rc_all_hold(check_kafka(h, true));

    // Drop an acked, committed value from the final log: lost_writes.
    std::vector<const Send*> durable;
    for (const auto& s : h.sends) {
      if (committed_visible(h, s)) durable.push_back(&s);
    }
    if (!durable.empty()) {
      const Send& s = **rc::gen::elementOf(durable);
      KafkaHistory m = h;
      m.final_log.at(s.tp).erase(s.offset);
      RC_ASSERT(violated(check_kafka(m, true), "lost_writes"));
      ++dropped;
    }

    // Copy a final-log value to a fresh offset of some partition: no_duplicates.
    std::vector<std::pair<TopicPartition, std::string>> values;
    for (const auto& [t, log] : h.final_log) {
      for (const auto& [off, v] : log) values.emplace_back(t, v);
    }
    if (!values.empty()) {
      const std::string v = (*rc::gen::elementOf(values)).second;
      const auto to = static_cast<std::ptrdiff_t>(pick(0, static_cast<int>(h.final_log.size())));
      KafkaHistory m = h;
      auto& log = std::next(m.final_log.begin(), to)->second;
      const int64_t free_offset = log.empty() ? 0 : log.rbegin()->first + 1 + pick(0, 3);
      log[free_offset] = v;
      RC_ASSERT(violated(check_kafka(m, true), "no_duplicates"));
      ++duplicated;
    }

    // Consecutive polls of one consumer on one partition, in one generation, the
    // later one not repositioned (polls are recorded in seq order).
    std::vector<std::pair<size_t, size_t>> pairs;
    std::map<std::pair<uint32_t, TopicPartition>, size_t> last;
    std::vector<std::optional<size_t>> prev_of(h.polls.size());
    for (size_t i = 0; i < h.polls.size(); ++i) {
      const Poll& p = h.polls[i];
      auto [it, fresh] = last.try_emplace({p.consumer, p.tp}, i);
      if (!fresh) {
        const size_t j = it->second;
        it->second = i;
        if (!p.after_seek && h.polls[j].generation == p.generation) {
          pairs.emplace_back(j, i);
          prev_of[i] = j;
        }
      }
    }
    // Coverage of the legal but suspicious: jumps over markers and aborted data,
    // reads of transactions whose producer never learned the outcome, re-reads.
    std::map<std::string, const Send*> send_by_value;
    for (const auto& s : h.sends) send_by_value[s.value] = &s;
    if (std::any_of(pairs.begin(), pairs.end(),
                    [&](const auto& ji) { return h.polls[ji.second].offset > h.polls[ji.first].offset + 1; })) {
      ++gaps;
    }
    if (std::any_of(h.polls.begin(), h.polls.end(), [&](const Poll& p) {
          const Send& s = *send_by_value.at(p.value);
          return s.txn >= 0 && !committed_visible(h, s) && s.outcome == SendOutcome::acked;
        })) {
      ++unknown_txn_reads;
    }
    std::set<std::tuple<uint32_t, TopicPartition, int64_t>> read_at;
    for (const auto& p : h.polls) {
      if (!read_at.insert({p.consumer, p.tp, p.offset}).second) {
        ++rereads;
        break;
      }
    }

    // Swap the records of such a pair: monotonic_polls.
    if (!pairs.empty()) {
      const auto [j, i] = *rc::gen::elementOf(pairs);
      KafkaHistory m = h;
      std::swap(m.polls[j].offset, m.polls[i].offset);
      std::swap(m.polls[j].value, m.polls[i].value);
      RC_ASSERT(violated(check_kafka(m, true), "monotonic_polls"));
      ++reordered;
    }
    // Drop the middle poll of two such pairs, when it read an acked committed value: no_poll_skips.
    std::vector<size_t> middles;
    for (const auto& pair : pairs) {
      const size_t i = pair.first;  // pair.second follows i, so i is a middle if something precedes it
      if (prev_of[i] && committed_visible(h, *send_by_value.at(h.polls[i].value))) middles.push_back(i);
    }
    if (!middles.empty()) {
      const size_t i = *rc::gen::elementOf(middles);
      KafkaHistory m = h;
      m.polls.erase(m.polls.begin() + static_cast<std::ptrdiff_t>(i));
      RC_ASSERT(violated(check_kafka(m, true), "no_poll_skips"));
      ++skipped;
    }
  });
  // Each mutation must actually have been tried, or its assertion proves nothing.
  CHECK(dropped > 10);
  CHECK(duplicated > 10);
  CHECK(reordered > 10);
  CHECK(skipped > 10);
  CHECK(gaps > 10);
  CHECK(unknown_txn_reads > 5);
  CHECK(rereads > 10);
}

// --- Transactions and consumer groups, as the workload records them ---------

namespace {

using streamsim::harness::Commit;
using streamsim::harness::ConsumerInfo;

Poll member_poll(uint32_t consumer, int32_t part, int64_t offset, std::string value, int32_t generation, uint64_t seq) {
  Poll p = poll(consumer, part, offset, std::move(value), generation, seq);
  p.member_id = "m-" + std::to_string(consumer);
  return p;
}

Assignment event(uint32_t consumer, int32_t generation, std::vector<TopicPartition> parts, Assignment::Kind kind,
                 uint64_t seq) {
  Assignment a;
  a.consumer = consumer;
  a.generation = generation;
  a.partitions = std::move(parts);
  a.kind = kind;
  a.member_id = "m-" + std::to_string(consumer);
  a.seq = seq;
  return a;
}

Commit commit(uint32_t consumer, int32_t generation, int32_t part, int64_t offset, uint64_t seq) {
  return Commit{consumer, "m-" + std::to_string(consumer), generation, tp(part), offset, seq, Commit::Outcome::ok};
}

// orders-0: producer 0 writes a0 a1 a2 at 0..2; producer 1's transaction 0
//   (committed, asked to commit at seq 15) writes t0 t1 at 3, 4 (marker 5);
//   transaction 1 (aborted) writes x0 at 6 (marker 7); transaction 2 (outcome
//   unknown, asked to commit at seq 45, found committed in the final log)
//   writes u0 u1 at 8, 9 (marker 10); producer 0 writes a3 at 11.
// orders-1: producer 2 writes b0 b1 at 0, 1.
// Group members 10 and 11 (read_committed): generation 1 gives orders-0 to 10
// and orders-1 to 11. Member 10 reads 0..4 and commits 5; member 11 reads b0,
// commits 1, reads b1. Both are revoked; generation 2 gives both partitions to
// 11, which starts orders-0 at 8 (5 to 7 are a marker and aborted data: no
// skip) and re-reads b1 at orders-1 offset 1 (its commit was 1: a re-read
// after the rebalance, not a non-monotonic poll).
KafkaHistory group_history() {
  KafkaHistory h;
  h.sends = {acked(0, 0, "a0", 0, 0),    acked(0, 1, "a1", 0, 1),    acked(0, 2, "a2", 0, 2),
             acked(1, 0, "t0", 0, 3, 0), acked(1, 1, "t1", 0, 4, 0), acked(1, 2, "x0", 0, 6, 1),
             acked(1, 3, "u0", 0, 8, 2), acked(1, 4, "u1", 0, 9, 2), acked(0, 3, "a3", 0, 11),
             acked(2, 0, "b0", 1, 0),    acked(2, 1, "b1", 1, 1)};
  h.txns = {{1, 0, TxnOutcome::Kind::committed, 15}, {1, 1, TxnOutcome::Kind::aborted, -1},
            {1, 2, TxnOutcome::Kind::unknown, 45}};
  h.final_log[tp(0)] = {{0, "a0"}, {1, "a1"}, {2, "a2"}, {3, "t0"}, {4, "t1"}, {8, "u0"}, {9, "u1"}, {11, "a3"}};
  h.final_log[tp(1)] = {{0, "b0"}, {1, "b1"}};
  h.consumers[10] = ConsumerInfo{true, true, 0};
  h.consumers[11] = ConsumerInfo{true, true, 1};
  h.assignments = {event(10, 1, {tp(0)}, Assignment::Kind::assigned, 1),
                   event(11, 1, {tp(1)}, Assignment::Kind::assigned, 2),
                   event(11, 1, {tp(1)}, Assignment::Kind::revoked, 39),
                   event(10, 1, {tp(0)}, Assignment::Kind::revoked, 40),
                   event(11, 2, {tp(0), tp(1)}, Assignment::Kind::assigned, 41)};
  h.polls = {member_poll(10, 0, 0, "a0", 1, 10), member_poll(10, 0, 1, "a1", 1, 11), member_poll(10, 0, 2, "a2", 1, 12),
             member_poll(11, 1, 0, "b0", 1, 13), member_poll(10, 0, 3, "t0", 1, 20), member_poll(10, 0, 4, "t1", 1, 21),
             member_poll(11, 1, 1, "b1", 1, 32), member_poll(11, 0, 8, "u0", 2, 50), member_poll(11, 0, 9, "u1", 2, 51),
             member_poll(11, 0, 11, "a3", 2, 52), member_poll(11, 1, 1, "b1", 2, 53)};
  h.commits = {commit(10, 1, 0, 5, 30), commit(11, 1, 1, 1, 31)};
  h.commits_complete = true;
  return h;
}

Poll& poll_at(KafkaHistory& h, uint64_t seq) {
  auto it = std::find_if(h.polls.begin(), h.polls.end(), [&](const Poll& p) { return p.seq == seq; });
  REQUIRE(it != h.polls.end());
  return *it;
}

}  // namespace

TEST_CASE("check_kafka: a transactional history with a rebalancing group holds everything", "[kafka_checker]") {
  all_hold(check_kafka(group_history(), true));
}

TEST_CASE("check_kafka: aborted reads by group members", "[kafka_checker]") {
  KafkaHistory h = group_history();
  h.polls.push_back(member_poll(10, 0, 6, "x0", 1, 22));  // G1a: transaction 1 aborted

  SECTION("a read_committed member reads a value of an aborted transaction") {
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "consumer 10 on orders-0"));
    CHECK(has(ev, "offset 6 (seq 22)"));
    CHECK(has(ev, "\"x0\""));
    CHECK(has(ev, "transaction 1"));
    CHECK(has(ev, "aborted"));
  }
  SECTION("read_uncommitted does not excuse it: the run requires committed reads") {
    h.consumers[10].read_committed = false;
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "consumer 10 (read_uncommitted) on orders-0"));
    CHECK(has(ev, "aborted"));
  }
  SECTION("had the transaction committed, the read is fine") {
    h.txns[1] = {1, 1, TxnOutcome::Kind::committed, 16};
    h.final_log[tp(0)][6] = "x0";
    h.commits[0].offset = 7;  // member 10 read x0 too, so it commits past it
    all_hold(check_kafka(h, true));
  }
}

TEST_CASE("check_kafka: reads of a transaction before it asked to commit", "[kafka_checker]") {
  KafkaHistory h = group_history();
  SECTION("reading at the commit request's seq or later is fine") {
    h.txns[0].commit_seq = 20;  // t0 is read at seq 20: the request came first (seq order is strict)
    all_hold(check_kafka(h, true));
  }
  SECTION("reading before it is an uncommitted read, although the transaction committed") {
    h.txns[0].commit_seq = 21;
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "consumer 10 on orders-0"));
    CHECK(has(ev, "offset 3 (seq 20)"));
    CHECK(has(ev, "\"t0\""));
    CHECK(has(ev, "before its producer asked to commit"));
    CHECK(has(ev, "seq 21"));
  }
}

TEST_CASE("check_kafka: an unknown-outcome transaction whose values show up", "[kafka_checker]") {
  KafkaHistory h = group_history();
  SECTION("read after its commit request and found in the final log: committed, fine") {
    all_hold(check_kafka(h, true));
  }
  SECTION("read, but absent from the final log: it never committed") {
    h.final_log[tp(0)].erase(8);
    h.final_log[tp(0)].erase(9);
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "consumer 11 on orders-0"));
    CHECK(has(ev, "\"u0\""));
    CHECK(has(ev, "no known commit"));
  }
  SECTION("read before its commit request: uncommitted, even though it committed later") {
    h.txns[2].commit_seq = 51;
    const std::string ev = only_violated(check_kafka(h, true), "no_aborted_reads");
    CHECK(has(ev, "\"u0\""));
    CHECK(has(ev, "before its producer asked to commit"));
  }
}

TEST_CASE("check_kafka: two group members own one partition in one generation", "[kafka_checker]") {
  KafkaHistory h = group_history();
  SECTION("two assigned events of generation 2 name orders-0") {
    h.assignments.push_back(event(10, 2, {tp(0)}, Assignment::Kind::assigned, 42));
    const std::string ev = only_violated(check_kafka(h, true), "one_owner_per_generation");
    CHECK(has(ev, "orders-0 was assigned to consumer 11 (member m-11, seq 41)"));
    CHECK(has(ev, "consumer 10 (member m-10, seq 42)"));
    CHECK(has(ev, "in generation 2"));
  }
  SECTION("revoked and lost events, and an owner of an earlier generation, are not ownership") {
    h.assignments.push_back(event(10, 2, {tp(0)}, Assignment::Kind::lost, 42));
    h.assignments.push_back(event(10, 2, {tp(1)}, Assignment::Kind::revoked, 43));
    all_hold(check_kafka(h, true));
  }
}

TEST_CASE("check_kafka: a group handoff must start at the committed offset", "[kafka_checker]") {
  KafkaHistory h = group_history();
  SECTION("starting past the committed offset over committed data is a skip") {
    h.commits[0].offset = 2;  // member 10 asked to commit only up to a2 (exclusive)
    const std::string ev = only_violated(check_kafka(h, true), "no_poll_skips");
    CHECK(has(ev, "consumer 11 on orders-0 started in generation 2 as member m-11"));
    CHECK(has(ev, "offset 8 (seq 50"));
    CHECK(has(ev, "past the committed offset 2"));
    CHECK(has(ev, "skipping offset 2 (value \"a2\")"));
  }
  SECTION("with no commit at all the new owner must start at the log start") {
    h.commits.erase(h.commits.begin());
    const std::string ev = only_violated(check_kafka(h, true), "no_poll_skips");
    CHECK(has(ev, "past the committed offset 0"));
    CHECK(has(ev, "skipping offset 0 (value \"a0\")"));
  }
  SECTION("a commit asked for after the handoff's first read does not count") {
    h.commits[0].seq = 50;  // same seq as the first read: not before it
    const std::string ev = only_violated(check_kafka(h, true), "no_poll_skips");
    CHECK(has(ev, "past the committed offset 0"));
  }
  SECTION("any member's earlier commit counts, even a failed one (it may have been applied)") {
    h.commits[0].offset = 2;
    h.commits.push_back(commit(10, 1, 0, 5, 35));
    h.commits.back().outcome = Commit::Outcome::failed;
    all_hold(check_kafka(h, true));
  }
  SECTION("not judged when the history does not hold every commit") {
    h.commits[0].offset = 2;
    h.commits_complete = false;
    all_hold(check_kafka(h, true));
  }
}

TEST_CASE("check_kafka: re-reads after a rebalance are not non-monotonic", "[kafka_checker]") {
  KafkaHistory h = group_history();
  SECTION("a new owner starting below the committed offset re-reads, legitimately") {
    // Member 11 re-reads t0 and t1, which member 10 read and committed.
    h.polls.push_back(member_poll(11, 0, 3, "t0", 2, 46));
    h.polls.push_back(member_poll(11, 0, 4, "t1", 2, 47));
    all_hold(check_kafka(h, true));
  }
  SECTION("the same member re-reading in the next generation is fine (good history)") {
    all_hold(check_kafka(h, true));
    // The same re-read without a generation change is a non-monotonic poll.
    poll_at(h, 53).generation = 1;
    const std::string ev = only_violated(check_kafka(h, true), "monotonic_polls");
    CHECK(has(ev, "consumer 11 on orders-1"));
    CHECK(has(ev, "offset 1 (seq 32"));
    CHECK(has(ev, "offset 1 (seq 53"));
  }
  SECTION("within one assignment a jump over committed data is still a skip") {
    remove_poll(h, 51);  // u1 at 9: member 11 reads 8 then 11
    const std::string ev = only_violated(check_kafka(h, true), "no_poll_skips");
    CHECK(has(ev, "consumer 11 on orders-0"));
    CHECK(has(ev, "skipping offset 9 (value \"u1\")"));
  }
}
