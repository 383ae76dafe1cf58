// Conformance: streamsim's Kafka error codes carry librdkafka's numbers and names,
// so the live adapter maps errors by number and reports read the same in both worlds.
#include <catch2/catch.hpp>

#include <streamsim/kafka.h>

#include <librdkafka/rdkafka.h>

using streamsim::kafka::Errc;

TEST_CASE("conformance: error codes and names equal librdkafka's", "[conformance]") {
  const Errc all[] = {
      Errc::no_error, Errc::offset_out_of_range, Errc::corrupt_message, Errc::unknown_topic_or_partition,
      Errc::leader_not_available, Errc::not_leader_or_follower, Errc::request_timed_out, Errc::message_too_large,
      Errc::coordinator_load_in_progress, Errc::coordinator_not_available, Errc::not_coordinator,
      Errc::not_enough_replicas, Errc::not_enough_replicas_after_append, Errc::illegal_generation,
      Errc::inconsistent_group_protocol, Errc::unknown_member_id, Errc::invalid_session_timeout,
      Errc::rebalance_in_progress, Errc::topic_already_exists, Errc::invalid_partitions,
      Errc::invalid_replication_factor, Errc::not_controller, Errc::out_of_order_sequence_number, Errc::duplicate_sequence_number,
      Errc::invalid_producer_epoch, Errc::invalid_txn_state, Errc::invalid_producer_id_mapping,
      Errc::invalid_transaction_timeout, Errc::concurrent_transactions, Errc::transaction_coordinator_fenced, Errc::unknown_producer_id,
      Errc::fenced_leader_epoch, Errc::unknown_leader_epoch, Errc::member_id_required, Errc::unstable_offset_commit,
      Errc::producer_fenced,
      Errc::local_bad_msg, Errc::local_transport, Errc::local_msg_timed_out, Errc::local_partition_eof,
      Errc::local_all_brokers_down, Errc::local_invalid_arg, Errc::local_timed_out, Errc::local_queue_full,
      Errc::local_state, Errc::local_purge_queue, Errc::local_fatal, Errc::local_fenced, Errc::local_assignment_lost,
  };
  for (Errc e : all) {
    const char* theirs = rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(static_cast<int>(e)));
    INFO("code " << static_cast<int>(e));
    CHECK(std::string(streamsim::kafka::to_string(e)) == theirs);
  }
}
