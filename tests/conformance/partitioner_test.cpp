// Conformance: streamsim's key -> partition mapping equals librdkafka's, checked
// by producing through real librdkafka (to its in-process mock cluster) and
// comparing each delivery report's partition with partition_for().
#include <catch2/catch.hpp>

#include <streamsim/kafka/partitioner.h>
#include <streamsim/live/mock_cluster.h>

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace streamsim;

namespace {

struct Reports final : RdKafka::DeliveryReportCb {
  std::vector<std::pair<std::string, int32_t>> got;  // key, partition
  int errors = 0;
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      ++errors;
      return;
    }
    got.push_back({m.key() ? *m.key() : std::string(), m.partition()});
  }
};

}  // namespace

TEST_CASE("conformance: keyed partitioning matches librdkafka for every partitioner", "[conformance]") {
  std::string err;
  auto started = live::MockCluster::start(1, &err);
  INFO(err);
  REQUIRE(started.ok());
  std::unique_ptr<live::MockCluster> mc(*started);
  const int32_t partitions = 7;
  REQUIRE(mc->create_topic("keys", partitions, 1).ok());

  std::vector<std::string> keys = {"a", "user-1", "user-2", "ab", "abc", "abcd", "abcde", "\xff\xfe\x01", "k"};
  for (int i = 0; i < 60; ++i) keys.push_back("key-" + std::to_string(i * 7919));
  for (const char* name : {"consistent", "consistent_random", "murmur2", "murmur2_random", "fnv1a", "fnv1a_random"}) {
    INFO("partitioner=" << name);
    auto p = kafka::parse_partitioner(name);
    REQUIRE(p.has_value());
    Reports reports;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    REQUIRE(conf->set("bootstrap.servers", mc->bootstraps(), err) == RdKafka::Conf::CONF_OK);
    REQUIRE(conf->set("partitioner", name, err) == RdKafka::Conf::CONF_OK);
    REQUIRE(conf->set("linger.ms", "1", err) == RdKafka::Conf::CONF_OK);
    REQUIRE(conf->set("dr_cb", &reports, err) == RdKafka::Conf::CONF_OK);
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
    REQUIRE(producer != nullptr);
    for (const auto& k : keys) {
      REQUIRE(producer->produce("keys", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                const_cast<char*>("v"), 1, k.data(), k.size(), 0, nullptr) == RdKafka::ERR_NO_ERROR);
    }
    REQUIRE(producer->flush(20'000) == RdKafka::ERR_NO_ERROR);
    REQUIRE(reports.errors == 0);
    REQUIRE(reports.got.size() == keys.size());
    Rng unused(1);
    for (const auto& [key, partition] : reports.got) {
      INFO("key=" << key);
      CHECK(kafka::partition_for(*p, std::string_view(key), partitions, unused) == partition);
    }
  }
}

TEST_CASE("partitioner: hash functions match published values", "[conformance]") {
  // CRC-32 (IEEE) check value.
  REQUIRE(kafka::crc32_ieee("123456789") == 0xCBF43926u);
  // Values from the Java client's UtilsTest.testMurmur2.
  REQUIRE(static_cast<int32_t>(kafka::murmur2("21")) == -973932308);
  REQUIRE(static_cast<int32_t>(kafka::murmur2("foobar")) == -790332482);
  REQUIRE(static_cast<int32_t>(kafka::murmur2("a-little-bit-long-string")) == -985981536);
  REQUIRE(static_cast<int32_t>(kafka::murmur2("a-little-bit-longer-string")) == -1486304829);
  REQUIRE(static_cast<int32_t>(kafka::murmur2("abc")) == 479470107);
  // FNV-1a 32 of "a" is 0xe40c292c; negative as int32, so librdkafka takes -h.
  REQUIRE(kafka::fnv1a32("a") == 0u - 0xe40c292cu);
  // The empty input hashes to the offset basis 0x811c9dc5, also negative.
  REQUIRE(kafka::fnv1a32("") == 0x7EE3623Bu);
  Rng rng(3);
  for (int i = 0; i < 100; ++i) {
    int32_t p = kafka::partition_for(kafka::Partitioner::consistent_random, std::nullopt, 5, rng);
    REQUIRE(p >= 0);
    REQUIRE(p < 5);
  }
}
