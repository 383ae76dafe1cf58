#include <streamsim/kafka.h>

namespace streamsim::kafka {

const char* to_string(Errc e) {
  switch (e) {
    case Errc::no_error: return "NO_ERROR";
    case Errc::offset_out_of_range: return "OFFSET_OUT_OF_RANGE";
    case Errc::corrupt_message: return "INVALID_MSG";
    case Errc::unknown_topic_or_partition: return "UNKNOWN_TOPIC_OR_PART";
    case Errc::leader_not_available: return "LEADER_NOT_AVAILABLE";
    case Errc::not_leader_or_follower: return "NOT_LEADER_FOR_PARTITION";
    case Errc::request_timed_out: return "REQUEST_TIMED_OUT";
    case Errc::message_too_large: return "MSG_SIZE_TOO_LARGE";
    case Errc::coordinator_load_in_progress: return "COORDINATOR_LOAD_IN_PROGRESS";
    case Errc::coordinator_not_available: return "COORDINATOR_NOT_AVAILABLE";
    case Errc::not_coordinator: return "NOT_COORDINATOR";
    case Errc::not_enough_replicas: return "NOT_ENOUGH_REPLICAS";
    case Errc::not_enough_replicas_after_append: return "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
    case Errc::illegal_generation: return "ILLEGAL_GENERATION";
    case Errc::inconsistent_group_protocol: return "INCONSISTENT_GROUP_PROTOCOL";
    case Errc::unknown_member_id: return "UNKNOWN_MEMBER_ID";
    case Errc::invalid_session_timeout: return "INVALID_SESSION_TIMEOUT";
    case Errc::rebalance_in_progress: return "REBALANCE_IN_PROGRESS";
    case Errc::topic_already_exists: return "TOPIC_ALREADY_EXISTS";
    case Errc::invalid_partitions: return "INVALID_PARTITIONS";
    case Errc::invalid_replication_factor: return "INVALID_REPLICATION_FACTOR";
    case Errc::not_controller: return "NOT_CONTROLLER";
    case Errc::out_of_order_sequence_number: return "OUT_OF_ORDER_SEQUENCE_NUMBER";
    case Errc::duplicate_sequence_number: return "DUPLICATE_SEQUENCE_NUMBER";
    case Errc::invalid_producer_epoch: return "INVALID_PRODUCER_EPOCH";
    case Errc::invalid_txn_state: return "INVALID_TXN_STATE";
    case Errc::invalid_producer_id_mapping: return "INVALID_PRODUCER_ID_MAPPING";
    case Errc::invalid_transaction_timeout: return "INVALID_TRANSACTION_TIMEOUT";
    case Errc::concurrent_transactions: return "CONCURRENT_TRANSACTIONS";
    case Errc::transaction_coordinator_fenced: return "TRANSACTION_COORDINATOR_FENCED";
    case Errc::unknown_producer_id: return "UNKNOWN_PRODUCER_ID";
    case Errc::fenced_leader_epoch: return "FENCED_LEADER_EPOCH";
    case Errc::unknown_leader_epoch: return "UNKNOWN_LEADER_EPOCH";
    case Errc::member_id_required: return "MEMBER_ID_REQUIRED";
    case Errc::unstable_offset_commit: return "UNSTABLE_OFFSET_COMMIT";
    case Errc::producer_fenced: return "PRODUCER_FENCED";
    case Errc::local_bad_msg: return "_BAD_MSG";
    case Errc::local_transport: return "_TRANSPORT";
    case Errc::local_msg_timed_out: return "_MSG_TIMED_OUT";
    case Errc::local_partition_eof: return "_PARTITION_EOF";
    case Errc::local_all_brokers_down: return "_ALL_BROKERS_DOWN";
    case Errc::local_invalid_arg: return "_INVALID_ARG";
    case Errc::local_timed_out: return "_TIMED_OUT";
    case Errc::local_queue_full: return "_QUEUE_FULL";
    case Errc::local_state: return "_STATE";
    case Errc::local_purge_queue: return "_PURGE_QUEUE";
    case Errc::local_fatal: return "_FATAL";
    case Errc::local_fenced: return "_FENCED";
    case Errc::local_assignment_lost: return "_ASSIGNMENT_LOST";
  }
  return "UNKNOWN";
}

}  // namespace streamsim::kafka
