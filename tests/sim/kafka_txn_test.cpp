// Kafka transactions (KIP-98) on the simulated cluster: the transaction
// coordinator, markers, the last stable offset, read_committed filtering, zombie
// fencing, transaction timeouts and coordinator failover; plus the pure parts
// (read_committed filtering, the replica's transaction index) on their own.
#include <catch2/catch.hpp>

#include "../support/test_support.h"
#include "../../sim/kafka/read_committed.h"

#include <streamsim/sim/kafka/client.h>
#include <streamsim/sim/kafka/cluster.h>
#include <streamsim/sim/kafka/replica.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace streamsim;
using namespace streamsim::sim;
namespace k = streamsim::kafka;
using streamsim::sim::kafka::AbortedTxn;
using streamsim::sim::kafka::AbortedTxnEntry;
using streamsim::sim::kafka::Batch;
using streamsim::sim::kafka::Cluster;
using streamsim::sim::kafka::ClusterConfig;
using streamsim::sim::kafka::ControlType;
using streamsim::sim::kafka::SimKafka;
using streamsim::sim::kafka::TopicState;

namespace {

ClusterConfig txn_cluster(int32_t partitions = 3) {
  ClusterConfig c;
  c.brokers = 3;
  TopicState t;
  t.name = "t";
  t.partitions = partitions;
  t.replication = 3;
  t.min_insync_replicas = 2;
  c.topics.push_back(t);
  return c;
}

// What a client task saw. Checked after the run: a failed REQUIRE cannot unwind
// a fiber cleanly, so the task records and the test thread asserts.
struct Seen {
  std::vector<std::string> problems;
  bool done = false;
  void check(bool ok, const std::string& what) {
    if (!ok) problems.push_back(what);
  }
};

struct Read {
  int32_t partition;
  int64_t offset;
  std::string value;
};

std::string msg(const Result<void, k::Error>& r) { return r.ok() ? "ok" : r.error().message; }

// Runs body on a client node of a fresh 3-broker cluster until it returns.
void run_client(uint64_t seed, const ClusterConfig& cc, Seen& seen,
                const std::function<void(SimRuntime&, SimKafka&, Simulation&, Cluster&)>& body,
                Duration limit = Duration::seconds(600)) {
  Simulation sim(seed, streamsim::testing::quiet_config());
  Cluster cluster(sim, cc);
  sim.add_node("client", [&](SimRuntime& rt) {
    SimKafka kafka(rt);
    rt.sleep_for(Duration::seconds(1));  // brokers register with the controller
    body(rt, kafka, sim, cluster);
    seen.done = true;
    sim.kernel().request_stop();
  });
  sim.run_until(Instant::epoch() + limit);
}

std::unique_ptr<k::Producer> txn_producer(SimKafka& kafka, Cluster& cluster, const std::string& id,
                                          std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", cluster.bootstrap_servers()}, {"transactional.id", id}, {"linger.ms", "1"}};
  props.insert(props.end(), extra.begin(), extra.end());
  auto cfg = k::Config::make(k::Role::producer, props);
  REQUIRE(cfg.ok());
  return std::move(*kafka.producer(*cfg));
}

std::unique_ptr<k::Producer> plain_producer(SimKafka& kafka, Cluster& cluster) {
  auto cfg = k::Config::make(k::Role::producer, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                                 {"enable.idempotence", "true"}, {"linger.ms", "1"}});
  REQUIRE(cfg.ok());
  return std::move(*kafka.producer(*cfg));
}

void produce(k::Producer& p, const std::string& value, int32_t partition, Seen& seen) {
  k::ProducerRecord r;
  r.topic = "t";
  r.partition = partition;
  r.value = value;
  auto res = p.produce(r);
  seen.check(res.ok(), "produce " + value + ": " + msg(res));
}

// Everything a consumer with this isolation level reads from the beginning of
// `partitions` partitions of "t", until `quiet` passes without a new record.
std::vector<Read> read_all(SimRuntime& rt, SimKafka& kafka, Cluster& cluster, bool read_committed, int partitions = 3,
                           Duration quiet = Duration::seconds(2)) {
  auto cfg = k::Config::make(k::Role::consumer,
                             {{"bootstrap.servers", cluster.bootstrap_servers()},
                              {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"}});
  REQUIRE(cfg.ok());
  auto c = std::move(*kafka.consumer(*cfg));
  std::vector<k::TopicPartitionOffset> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back({{"t", p}, k::KafkaOffset::beginning(), std::nullopt});
  (void)c->assign(parts);
  std::vector<Read> out;
  Instant last = rt.now();
  for (int round = 0; round < 1000 && rt.now() - last < quiet; ++round) {
    auto got = c->poll(Duration::millis(100), 1000);
    if (!got.ok() || got->empty()) continue;
    for (auto& r : *got) out.push_back(Read{r.tp.partition, r.offset.value, r.value.value_or("")});
    last = rt.now();
  }
  return out;
}

std::vector<std::string> values(const std::vector<Read>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.value);
  return out;
}

std::multiset<std::string> value_set(const std::vector<Read>& rs) {
  std::multiset<std::string> out;
  for (const auto& r : rs) out.insert(r.value);
  return out;
}

int64_t latest_offset(SimKafka& kafka, Cluster& cluster, int32_t partition, bool read_committed) {
  auto cfg = k::Config::make(k::Role::admin, {{"bootstrap.servers", cluster.bootstrap_servers()}});
  auto admin = std::move(*kafka.admin(*cfg));
  auto r = admin->list_offsets({{"t", partition}}, k::OffsetSpec::latest, read_committed, Duration::seconds(5));
  if (!r.ok() || r->size() != 1 || (*r)[0].error) return -1;
  return (*r)[0].offset.value;
}

// The broker leading the __transaction_state partition of `id`, or -1.
int32_t coordinator_of(SimKafka& kafka, Cluster& cluster, const std::string& id) {
  auto cfg = k::Config::make(k::Role::admin, {{"bootstrap.servers", cluster.bootstrap_servers()}});
  auto admin = std::move(*kafka.admin(*cfg));
  auto r = admin->describe_topics({"__transaction_state"}, Duration::seconds(5));
  if (!r.ok() || r->empty()) return -1;
  const int32_t n = static_cast<int32_t>((*r)[0].partitions.size());
  if (n == 0) return -1;
  const int32_t p = streamsim::sim::kafka::coordinator_partition(id, n);
  for (const auto& info : (*r)[0].partitions) {
    if (info.partition == p) return info.leader;
  }
  return -1;
}

}  // namespace

// --- read_committed filtering (pure) ---

namespace {

Batch data(int64_t base, int n, int64_t pid, bool txn, const std::string& prefix) {
  Batch b;
  b.base_offset = base;
  b.producer_id = pid;
  b.producer_epoch = 0;
  b.base_sequence = pid >= 0 ? 0 : -1;
  b.transactional = txn;
  for (int i = 0; i < n; ++i) {
    streamsim::sim::kafka::Record r;
    r.value = prefix + std::to_string(i);
    b.records.push_back(r);
  }
  return b;
}

Batch marker(int64_t offset, int64_t pid, bool commit) {
  Batch b = streamsim::sim::kafka::make_marker(pid, 0, 0, commit, 0);
  b.base_offset = offset;
  return b;
}

std::vector<std::string> visible_values(const std::vector<Batch>& bs, const std::vector<AbortedTxn>& aborted, bool rc,
                                        int64_t from = 0, size_t max = 1000, int64_t* next = nullptr) {
  std::vector<streamsim::sim::kafka::BatchPtr> shared;
  for (const Batch& b : bs) shared.push_back(std::make_shared<streamsim::sim::kafka::SealedBatch>(streamsim::sim::kafka::SealedBatch{b, 0, 0, {}}));
  auto v = streamsim::sim::kafka::visible_records(shared, aborted, rc, from, max);
  if (next) *next = v.next_offset;
  std::vector<std::string> out;
  for (const auto& r : v.records) out.push_back(r.record.value.value_or("?"));
  return out;
}

}  // namespace

TEST_CASE("kafka txn: read_committed drops aborted data and every marker", "[kafka_txn]") {
  // Producer 1 commits a0,a1 (marker at 2); producer 2 aborts b0,b1 (3-4, marker
  // at 6) while plain record c0 (5) sits in between; producer 1 then aborts d0 (7, marker 8).
  std::vector<Batch> bs = {data(0, 2, 1, true, "a"),   marker(2, 1, true), data(3, 2, 2, true, "b"),
                           data(5, 1, -1, false, "c"), marker(6, 2, false), data(7, 1, 1, true, "d"),
                           marker(8, 1, false)};
  std::vector<AbortedTxn> aborted = {{1, 7}, {2, 3}};  // any order
  int64_t next = -1;
  CHECK(visible_values(bs, aborted, true, 0, 1000, &next) == std::vector<std::string>{"a0", "a1", "c0"});
  CHECK(next == 9);  // past the last marker: nothing here is fetched again
  // read_uncommitted keeps aborted data but still never shows a marker.
  CHECK(visible_values(bs, aborted, false) == std::vector<std::string>{"a0", "a1", "b0", "b1", "c0", "d0"});
  // Without the aborted list (a fetch that names none) everything is kept.
  CHECK(visible_values(bs, {}, true) == std::vector<std::string>{"a0", "a1", "b0", "b1", "c0", "d0"});
}

TEST_CASE("kafka txn: read_committed keeps a producer's data after its abort marker", "[kafka_txn]") {
  // Producer 1 aborts x0 (0, marker 1), then commits y0,y1 (2-3, marker 4): the
  // aborted range ends at its marker.
  std::vector<Batch> bs = {data(0, 1, 1, true, "x"), marker(1, 1, false), data(2, 2, 1, true, "y"),
                           marker(4, 1, true)};
  CHECK(visible_values(bs, {{1, 0}}, true) == std::vector<std::string>{"y0", "y1"});
}

TEST_CASE("kafka txn: read_committed filtering starts at the position and respects max_records", "[kafka_txn]") {
  std::vector<Batch> bs = {data(0, 4, 1, true, "a"), marker(4, 1, true), data(5, 3, -1, false, "p")};
  int64_t next = -1;
  CHECK(visible_values(bs, {}, true, 2, 3, &next) == std::vector<std::string>{"a2", "a3", "p0"});
  CHECK(next == 6);  // the next record not returned
  CHECK(visible_values(bs, {}, true, 6, 10, &next) == std::vector<std::string>{"p1", "p2"});
  CHECK(next == 8);
  // Only a marker left: nothing visible, but the position moves past it.
  CHECK(visible_values({marker(4, 1, true)}, {}, true, 4, 10, &next).empty());
  CHECK(next == 5);
}

// --- The replica's transaction state (no network) ---

TEST_CASE("kafka txn: replica tracks the last stable offset and aborted index, and load() rebuilds them",
          "[kafka_txn]") {
  using namespace streamsim::sim::kafka;
  Seen seen;
  Simulation sim(3, streamsim::testing::quiet_config());
  sim.add_node("broker", [&](SimRuntime& rt) {
    PartitionConfig pc;
    std::vector<AbortedTxnEntry> before;
    int64_t lso_open = -1, lso_after = -1, hw = -1;
    {
      PartitionLog log(rt.storage(), LogConfig{"p", 4096});
      seen.check(log.recover().ok(), "recover");
      Replica r(0, log, pc);
      r.load();
      r.become_leader(1, {0}, {0}, rt.now());
      Batch t = data(0, 2, 7, true, "t");  // producer 7, epoch 0, sequences 0-1
      seen.check(r.append(t, 1).error == Errc::no_error, "txn data");
      Batch plain = data(0, 1, -1, false, "p");
      seen.check(r.append(plain, 1).error == Errc::no_error, "plain data");
      lso_open = r.last_stable_offset();
      seen.check(r.read(0, 1 << 20, true).ok() && r.read(0, 1 << 20, true)->empty(), "read_committed reads nothing");
      // An older coordinator epoch is refused once a newer one wrote for the producer.
      seen.check(r.append(make_marker(7, 0, 5, false, 0), 1).error == Errc::no_error, "abort marker");
      seen.check(r.append(make_marker(7, 0, 4, true, 0), 1).error == Errc::transaction_coordinator_fenced,
                 "stale coordinator refused");
      // A marker with a bumped epoch fences the producer's old epoch.
      seen.check(r.append(make_marker(7, 1, 5, false, 0), 1).error == Errc::no_error, "fencing marker");
      Batch zombie = data(0, 1, 7, true, "z");
      zombie.base_sequence = 2;
      seen.check(r.append(zombie, 1).error == Errc::invalid_producer_epoch, "zombie refused");
      seen.check(r.append(make_marker(7, 0, 5, true, 0), 1).error == Errc::producer_fenced, "old-epoch marker refused");
      lso_after = r.last_stable_offset();
      hw = r.high_watermark();
      before = r.aborted_between(0, hw);
    }
    PartitionLog log2(rt.storage(), LogConfig{"p", 4096});
    seen.check(log2.recover().ok(), "recover again");
    Replica r2(0, log2, pc);
    r2.load();
    r2.become_leader(2, {0}, {0}, rt.now());
    seen.check(lso_open == 0, "LSO at the open transaction's first offset, got " + std::to_string(lso_open));
    seen.check(hw == 5 && lso_after == 5, "LSO reaches the high watermark once decided");
    seen.check(before == std::vector<AbortedTxnEntry>{{7, 0, 3}}, "one aborted transaction 0..3");
    seen.check(r2.aborted_between(0, 5) == before, "aborted index rebuilt by load()");
    seen.check(r2.aborted_between(4, 5).empty(), "aborted index filtered by range");
    seen.check(r2.last_stable_offset() == r2.high_watermark(), "LSO rebuilt by load()");
    Batch zombie = data(0, 1, 7, true, "z");
    zombie.base_sequence = 2;
    seen.check(r2.append(zombie, 1).error == Errc::invalid_producer_epoch, "fencing survives load()");
    seen.done = true;
  });
  sim.run_until(Instant::epoch() + Duration::seconds(10));
  INFO(Catch::Detail::stringify(seen.problems));
  REQUIRE(seen.done);
  REQUIRE(seen.problems.empty());
}

// --- End to end on the simulated cluster ---

TEST_CASE("kafka txn: a committed transaction is visible under read_committed", "[kafka_txn]") {
  Seen seen;
  std::vector<Read> rc, ru;
  run_client(21, txn_cluster(), seen, [&](SimRuntime& rt, SimKafka& kafka, Simulation&, Cluster& cluster) {
    auto p = txn_producer(kafka, cluster, "tx-commit");
    seen.check(p->init_transactions(Duration::seconds(30)).ok(), "init_transactions");
    seen.check(p->begin_transaction().ok(), "begin");
    for (int i = 0; i < 30; ++i) produce(*p, "c" + std::to_string(i), i % 3, seen);
    auto c = p->commit_transaction(Duration::seconds(30));
    seen.check(c.ok(), "commit: " + msg(c));
    int delivered = 0;
    for (const auto& d : p->poll(Duration::zero())) delivered += d.error ? 0 : 1;
    seen.check(delivered == 30, "30 delivery reports");
    rc = read_all(rt, kafka, cluster, true);
    ru = read_all(rt, kafka, cluster, false);
  });
  INFO(Catch::Detail::stringify(seen.problems));
  REQUIRE(seen.done);
  REQUIRE(seen.problems.empty());
  std::multiset<std::string> want;
  for (int i = 0; i < 30; ++i) want.insert("c" + std::to_string(i));
  CHECK(value_set(rc) == want);
  CHECK(value_set(ru) == want);  // never a marker as a record
}

TEST_CASE("kafka txn: an aborted transaction is invisible under read_committed, visible under read_uncommitted",
          "[kafka_txn]") {
  Seen seen;
  std::vector<Read> rc, ru;
  run_client(22, txn_cluster(), seen, [&](SimRuntime& rt, SimKafka& kafka, Simulation&, Cluster& cluster) {
    auto p = txn_producer(kafka, cluster, "tx-abort");
    seen.check(p->init_transactions(Duration::seconds(30)).ok(), "init_transactions");
    seen.check(p->begin_transaction().ok(), "begin 1");
    for (int i = 0; i < 5; ++i) produce(*p, "c" + std::to_string(i), 0, seen);
    seen.check(p->commit_transaction(Duration::seconds(30)).ok(), "commit 1");
    seen.check(p->begin_transaction().ok(), "begin 2");
    for (int i = 0; i < 5; ++i) produce(*p, "a" + std::to_string(i), 0, seen);
    seen.check(p->flush(Duration::seconds(30)).ok(), "flush 2");  // in the log before the abort
    auto a = p->abort_transaction(Duration::seconds(30));
    seen.check(a.ok(), "abort 2: " + msg(a));
    seen.check(p->begin_transaction().ok(), "begin 3");
    for (int i = 5; i < 10; ++i) produce(*p, "c" + std::to_string(i), 0, seen);
    seen.check(p->commit_transaction(Duration::seconds(30)).ok(), "commit 3");
    rc = read_all(rt, kafka, cluster, true);
    ru = read_all(rt, kafka, cluster, false);
  });
  INFO(Catch::Detail::stringify(seen.problems));
  REQUIRE(seen.done);
  REQUIRE(seen.problems.empty());
  CHECK(values(rc) == std::vector<std::string>{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"});
  CHECK(values(ru) == std::vector<std::string>{"c0", "c1", "c2", "c3", "c4", "a0", "a1", "a2", "a3", "a4", "c5", "c6",
                                               "c7", "c8", "c9"});
  // Each marker takes an offset: c0-c4 at 0-4, COMMIT 5, a0-a4 6-10, ABORT 11, c5 at 12.
  REQUIRE(ru.size() == 15);
  CHECK(ru[5].offset == 6);
  CHECK(ru[10].offset == 12);
  REQUIRE(rc.size() == 10);
  CHECK(rc[5].offset == 12);
}

TEST_CASE("kafka txn: the last stable offset holds read_committed consumers back while a transaction is open",
          "[kafka_txn]") {
  Seen seen;
  std::vector<Read> rc_open, ru_open, rc_done;
  int64_t lso_open = -2, hw_open = -2, lso_done = -2;
  run_client(23, txn_cluster(), seen, [&](SimRuntime& rt, SimKafka& kafka, Simulation&, Cluster& cluster) {
    auto p = txn_producer(kafka, cluster, "tx-lso");
    seen.check(p->init_transactions(Duration::seconds(30)).ok(), "init_transactions");
    seen.check(p->begin_transaction().ok(), "begin");
    for (int i = 0; i < 5; ++i) produce(*p, "x" + std::to_string(i), 0, seen);
    seen.check(p->flush(Duration::seconds(30)).ok(), "flush");
    // A plain record after the open transaction's first offset is held back too.
    auto plain = plain_producer(kafka, cluster);
    produce(*plain, "y0", 0, seen);
    seen.check(plain->flush(Duration::seconds(30)).ok(), "plain flush");
    rc_open = read_all(rt, kafka, cluster, true, 1);
    ru_open = read_all(rt, kafka, cluster, false, 1);
    lso_open = latest_offset(kafka, cluster, 0, true);
    hw_open = latest_offset(kafka, cluster, 0, false);
    seen.check(p->commit_transaction(Duration::seconds(30)).ok(), "commit");
    rc_done = read_all(rt, kafka, cluster, true, 1);
    lso_done = latest_offset(kafka, cluster, 0, true);
  });
  INFO(Catch::Detail::stringify(seen.problems));
  REQUIRE(seen.done);
  REQUIRE(seen.problems.empty());
  CHECK(rc_open.empty());
  CHECK(values(ru_open) == std::vector<std::string>{"x0", "x1", "x2", "x3", "x4", "y0"});
  CHECK(lso_open == 0);
  CHECK(hw_open == 6);
  CHECK(values(rc_done) == std::vector<std::string>{"x0", "x1", "x2", "x3", "x4", "y0"});
  CHECK(lso_done == 7);  // past the COMMIT marker at 6
}

TEST_CASE("kafka txn: a second producer with the same transactional.id fences the first and aborts its transaction",
          "[kafka_txn]") {
  Seen seen;
  std::vector<Read> rc, ru;
  std::optional<k::Error> zombie_commit, zombie_begin;
  run_client(24, txn_cluster(), seen, [&](SimRuntime& rt, SimKafka& kafka, Simulation&, Cluster& cluster) {
    auto p1 = txn_producer(kafka, cluster, "tx-zombie");
    seen.check(p1->init_transactions(Duration::seconds(30)).ok(), "p1 init");
    seen.check(p1->begin_transaction().ok(), "p1 begin");
    for (int i = 0; i < 5; ++i) produce(*p1, "z1-" + std::to_string(i), i % 3, seen);
    seen.check(p1->flush(Duration::seconds(30)).ok(), "p1 flush");
    auto p2 = txn_producer(kafka, cluster, "tx-zombie");
    auto i2 = p2->init_transactions(Duration::seconds(30));
    seen.check(i2.ok(), "p2 init: " + msg(i2));
    // The zombie goes on as if nothing happened.
    produce(*p1, "z1-late", 0, seen);
    auto c1 = p1->commit_transaction(Duration::seconds(30));
    if (!c1.ok()) zombie_commit = c1.error();
    auto b1 = p1->begin_transaction();
    if (!b1.ok()) zombie_begin = b1.error();
    seen.check(p2->begin_transaction().ok(), "p2 begin");
    for (int i = 0; i < 3; ++i) produce(*p2, "z2-" + std::to_string(i), i % 3, seen);
    auto c2 = p2->commit_transaction(Duration::seconds(30));
    seen.check(c2.ok(), "p2 commit: " + msg(c2));
    rc = read_all(rt, kafka, cluster, true);
    ru = read_all(rt, kafka, cluster, false);
  });
  INFO(Catch::Detail::stringify(seen.problems));
  REQUIRE(seen.done);
  REQUIRE(seen.problems.empty());
  REQUIRE(zombie_commit.has_value());
  CHECK(zombie_commit->fatal);
  CHECK(zombie_commit->code == k::Errc::local_fenced);
  REQUIRE(zombie_begin.has_value());
  CHECK(zombie_begin->fatal);
  CHECK(value_set(rc) == std::multiset<std::string>{"z2-0", "z2-1", "z2-2"});
  // The zombie's first records reached the log and were aborted; its late one never got in.
  auto all = value_set(ru);
  for (int i = 0; i < 5; ++i) CHECK(all.count("z1-" + std::to_string(i)) == 1);
  CHECK(all.count("z1-late") == 0);
}

TEST_CASE("kafka txn: the coordinator aborts a transaction that outlives its timeout and fences its producer",
          "[kafka_txn]") {
  Seen seen;
  std::vector<Read> rc, ru;
  std::optional<k::Error> late_commit;
  run_client(25, txn_cluster(), seen, [&](SimRuntime& rt, SimKafka& kafka, Simulation&, Cluster& cluster) {
    auto p = txn_producer(kafka, cluster, "tx-timeout", {{"transaction.timeout.ms", "1000"}});
    seen.check(p->init_transactions(Duration::seconds(30)).ok(), "init");
    seen.check(p->begin_transaction().ok(), "begin");
    for (int i = 0; i < 5; ++i) produce(*p, "t" + std::to_string(i), 0, seen);
    seen.check(p->flush(Duration::seconds(30)).ok(), "flush");
    rt.sleep_for(Duration::seconds(3));  // the producer hangs past its transaction timeout
    auto plain = plain_producer(kafka, cluster);
    produce(*plain, "u0", 0, seen);
    seen.check(plain->flush(Duration::seconds(30)).ok(), "plain flush");
    auto c = p->commit_transaction(Duration::seconds(30));
    if (!c.ok()) late_commit = c.error();
    rc = read_all(rt, kafka, cluster, true, 1);
    ru = read_all(rt, kafka, cluster, false, 1);
  });
  INFO(Catch::Detail::stringify(seen.problems));
  REQUIRE(seen.done);
  REQUIRE(seen.problems.empty());
  REQUIRE(late_commit.has_value());
  CHECK(late_commit->fatal);
  CHECK(late_commit->code == k::Errc::local_fenced);
  // The abort freed the last stable offset: the later plain record is readable.
  CHECK(values(rc) == std::vector<std::string>{"u0"});
  CHECK(values(ru) == std::vector<std::string>{"t0", "t1", "t2", "t3", "t4", "u0"});
}

TEST_CASE("kafka txn: a new coordinator loads an open transaction after the old one crashes, and commits it",
          "[kafka_txn]") {
  Seen seen;
  std::vector<Read> rc;
  int32_t before = -1, after = -1;
  run_client(26, txn_cluster(), seen, [&](SimRuntime& rt, SimKafka& kafka, Simulation& sim, Cluster& cluster) {
    auto p = txn_producer(kafka, cluster, "tx-failover", {{"transaction.timeout.ms", "60000"}});
    seen.check(p->init_transactions(Duration::seconds(30)).ok(), "init");
    seen.check(p->begin_transaction().ok(), "begin");
    for (int i = 0; i < 30; ++i) produce(*p, "f" + std::to_string(i), i % 3, seen);
    seen.check(p->flush(Duration::seconds(30)).ok(), "flush");
    before = coordinator_of(kafka, cluster, "tx-failover");
    seen.check(before >= 0, "a coordinator before the crash");
    if (before < 0) return;
    sim.crash(cluster.broker_node(before));
    rt.sleep_for(Duration::seconds(3));  // the controller moves leadership
    after = coordinator_of(kafka, cluster, "tx-failover");
    auto c = p->commit_transaction(Duration::seconds(60));
    seen.check(c.ok(), "commit through the new coordinator: " + msg(c));
    sim.restart(cluster.broker_node(before));
    rc = read_all(rt, kafka, cluster, true);
  });
  INFO(Catch::Detail::stringify(seen.problems));
  REQUIRE(seen.done);
  REQUIRE(seen.problems.empty());
  CHECK(after >= 0);
  CHECK(after != before);
  std::multiset<std::string> want;
  for (int i = 0; i < 30; ++i) want.insert("f" + std::to_string(i));
  CHECK(value_set(rc) == want);
}

TEST_CASE("kafka txn: a coordinator crash during commit never leaves a transaction half visible", "[kafka_txn]") {
  // The crash lands at different points of the commit (before EndTxn arrives,
  // between PrepareCommit and the markers, among the markers), with a
  // transaction timeout that the failover outlasts (1 s: the new coordinator aborts
  // and the producer is fenced) or not (the commit goes through the new
  // coordinator). Afterwards each transaction is wholly visible or wholly
  // invisible, and visible if commit_transaction said so.
  const int delays_us[] = {0, 500, 1500, 3000, 6000, 12000};
  std::map<std::string, int> outcomes;
  for (int timeout_ms : {1000, 5000, 30000}) {
    for (int d : delays_us) {
      INFO("crash " << d << " us into the commit, transaction.timeout.ms " << timeout_ms);
      Seen seen;
      std::vector<Read> rc;
      bool committed = false;
      run_client(static_cast<uint64_t>(40 + d + timeout_ms), txn_cluster(), seen,
                 [&](SimRuntime& rt, SimKafka& kafka, Simulation& sim, Cluster& cluster) {
                   auto p = txn_producer(kafka, cluster, "tx-crash",
                                         {{"transaction.timeout.ms", std::to_string(timeout_ms)}});
                   seen.check(p->init_transactions(Duration::seconds(30)).ok(), "init");
                   seen.check(p->begin_transaction().ok(), "begin");
                   for (int i = 0; i < 30; ++i) produce(*p, "h" + std::to_string(i), i % 3, seen);
                   seen.check(p->flush(Duration::seconds(30)).ok(), "flush");
                   const int32_t coord = coordinator_of(kafka, cluster, "tx-crash");
                   seen.check(coord >= 0, "a coordinator");
                   if (coord < 0) return;
                   rt.spawn("nemesis", [&rt, &sim, &cluster, coord, d] {
                     rt.sleep_for(Duration::micros(d));
                     sim.crash(cluster.broker_node(coord));
                   });
                   // With a 1 s timeout the producer also dawdles past it: a refused
                   // connection lets a prompt commit reach the new coordinator before
                   // its timeout task runs, so only a late commit meets the abort.
                   if (timeout_ms == 1000) rt.sleep_for(Duration::seconds(3));
                   committed = p->commit_transaction(Duration::seconds(60)).ok();
                   rt.sleep_for(Duration::seconds(10));  // timeouts and marker retries settle
                   sim.restart(cluster.broker_node(coord));
                   rt.sleep_for(Duration::seconds(5));
                   rc = read_all(rt, kafka, cluster, true);
                 });
      INFO(Catch::Detail::stringify(seen.problems));
      REQUIRE(seen.done);
      REQUIRE(seen.problems.empty());
      const auto got = value_set(rc);
      CHECK((got.size() == 0 || got.size() == 30));
      for (const auto& v : got) CHECK(got.count(v) == 1);
      if (committed) CHECK(got.size() == 30);
      ++outcomes[std::string(committed ? "committed" : "failed") + (got.empty() ? ", invisible" : ", visible")];
    }
  }
  std::string summary;
  for (const auto& [what, n] : outcomes) summary += what + ": " + std::to_string(n) + "; ";
  INFO(summary);
  // Both paths were exercised: commits through a new coordinator, and
  // transactions the new coordinator aborted.
  CHECK(outcomes["committed, visible"] > 0);
  CHECK(outcomes["failed, invisible"] > 0);
}
