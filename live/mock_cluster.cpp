#include <streamsim/live/mock_cluster.h>

#include <streamsim/core/assert.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace streamsim::live {

Result<MockCluster*, MockErrc> MockCluster::start(int brokers, std::string* error_text) {
  SS_ASSERT(brokers >= 1, "a mock cluster needs at least one broker");
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster needs a host client instance; it is never used to produce.
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    if (error_text) *error_text = errstr;
    rd_kafka_conf_destroy(conf);
    return unexpected(MockErrc::create_failed);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    if (error_text) *error_text = errstr;
    return unexpected(MockErrc::create_failed);
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    if (error_text) *error_text = "rd_kafka_mock_cluster_new failed";
    rd_kafka_destroy(rk);
    return unexpected(MockErrc::create_failed);
  }
  auto* c = new MockCluster();
  c->rk_ = rk;
  c->mc_ = mc;
  c->bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc);
  c->brokers_ = brokers;
  SS_ASSERT(!c->bootstraps_.empty(), "mock cluster without bootstrap servers");
  return c;
}

MockCluster::~MockCluster() {
  if (mc_) rd_kafka_mock_cluster_destroy(mc_);
  if (rk_) rd_kafka_destroy(rk_);
}

Result<void, MockErrc> MockCluster::create_topic(const std::string& topic, int partitions, int replication) {
  SS_ASSERT(partitions >= 1 && replication >= 1, "topic needs partitions and replicas");
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc_, topic.c_str(), partitions, replication);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(MockErrc::topic_failed);
  return {};
}

void MockCluster::set_broker_down(int broker_id, bool down) {
  rd_kafka_resp_err_t err = down ? rd_kafka_mock_broker_set_down(mc_, broker_id) : rd_kafka_mock_broker_set_up(mc_, broker_id);
  SS_ASSERT(err == RD_KAFKA_RESP_ERR_NO_ERROR, "mock broker state change failed");
}

void MockCluster::set_broker_rtt(int broker_id, int rtt_ms) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_rtt(mc_, broker_id, rtt_ms);
  SS_ASSERT(err == RD_KAFKA_RESP_ERR_NO_ERROR, "mock broker rtt change failed");
}

void MockCluster::push_request_errors(int16_t api_key, int count, int32_t error) {
  std::vector<rd_kafka_resp_err_t> errs(static_cast<size_t>(count), static_cast<rd_kafka_resp_err_t>(error));
  rd_kafka_mock_push_request_errors_array(mc_, api_key, errs.size(), errs.data());
}

bool MockCluster::set_partition_leader(const std::string& topic, int32_t partition, int broker_id) {
  return rd_kafka_mock_partition_set_leader(mc_, topic.c_str(), partition, broker_id) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool MockCluster::set_coordinator(const std::string& key_type, const std::string& key, int broker_id) {
  return rd_kafka_mock_coordinator_set(mc_, key_type.c_str(), key.c_str(), broker_id) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace streamsim::live
