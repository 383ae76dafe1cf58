// kafka.h over librdkafka's C API. See include/streamsim/live/kafka_client.h for
// the waiting rules (poll with timeout 0, wait on the Runtime between polls) and
// the calls that block the OS thread (transactions).
#include <streamsim/live/kafka_client.h>

#include <streamsim/core/assert.h>

#include <librdkafka/rdkafka.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace streamsim::live {

namespace {

using kafka::Config;
using kafka::ConsumerRecord;
using kafka::DeliveryReport;
using kafka::Errc;
using kafka::Error;
using kafka::KafkaOffset;
using kafka::TopicPartition;
using kafka::TopicPartitionOffset;

constexpr Duration kPollInterval = Duration::millis(1);
constexpr int kFirstSliceMs = 50;   // blocking librdkafka calls run in slices ...
constexpr int kMaxSliceMs = 500;    // ... growing to this, never past the deadline
constexpr size_t kMaxLogLines = 1000;
constexpr size_t kMaxPendingErrors = 64;
constexpr int kMaxAdminTimeoutMs = 3'600'000;  // librdkafka's AdminOptions range

int to_ms(Duration d) {
  if (d.ns() <= 0) return 0;
  int64_t ms = (d.ns() + 999'999) / 1'000'000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// Transactional timeouts: Duration::max() means librdkafka's -1 (the remaining
// transaction time for commit/abort, 2 x transaction.timeout.ms for init), which
// librdkafka recommends for commit and abort.
int txn_ms(Duration d) { return d == Duration::max() ? -1 : to_ms(d); }

Errc errc(rd_kafka_resp_err_t e) { return static_cast<Errc>(static_cast<int32_t>(e)); }

// Errors after which the same call may succeed (librdkafka retries most of these
// internally; an application may retry the call).
bool retriable_code(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
      return true;
    default:
      return false;
  }
}

// Errors that say "no broker could be reached (yet)": worth retrying until the
// call's deadline, and worth explaining with the bootstrap servers.
bool unreachable_code(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__RESOLVE ||
         e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || e == RD_KAFKA_RESP_ERR__WAIT_COORD;
}

// Owning wrappers for librdkafka objects, so every path out of a function (an
// error return or a TaskCancelled thrown by a wait) releases them.
struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using PartList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
using Queue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

PartList make_list(const std::vector<TopicPartitionOffset>& offsets) {
  PartList l(rd_kafka_topic_partition_list_new(static_cast<int>(std::max<size_t>(offsets.size(), 1))));
  for (const auto& o : offsets) {
    rd_kafka_topic_partition_list_add(l.get(), o.tp.topic.c_str(), o.tp.partition)->offset = o.offset.value;
  }
  return l;
}

PartList make_list(const std::vector<TopicPartition>& tps, int64_t offset = RD_KAFKA_OFFSET_INVALID) {
  PartList l(rd_kafka_topic_partition_list_new(static_cast<int>(std::max<size_t>(tps.size(), 1))));
  for (const auto& tp : tps) rd_kafka_topic_partition_list_add(l.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  return l;
}

std::vector<TopicPartition> to_tps(const rd_kafka_topic_partition_list_t* l) {
  std::vector<TopicPartition> out;
  if (l == nullptr) return out;
  out.reserve(static_cast<size_t>(l->cnt));
  for (int i = 0; i < l->cnt; ++i) out.push_back({l->elems[i].topic, l->elems[i].partition});
  return out;
}

std::string tp_name(const std::string& topic, int32_t partition) { return topic + "[" + std::to_string(partition) + "]"; }

// Everything the three clients share: the handle, the secrets to scrub, and the
// buffer of librdkafka log lines (written by librdkafka's threads, drained into
// the Runtime's logger by the owning task).
class ClientBase {
 public:
  ClientBase(Runtime& rt, const Config& cfg, const char* kind) : rt_(rt), kind_(kind) {
    for (const auto& [k, v] : cfg.explicit_values()) {
      if (kafka::is_secret(k) && !v.empty()) secrets_.push_back(v);
    }
    // Longest first, so a secret containing another is replaced whole.
    std::sort(secrets_.begin(), secrets_.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    auto it = cfg.explicit_values().find("bootstrap.servers");
    bootstrap_ = it == cfg.explicit_values().end() ? std::string("(unset)") : it->second;
  }
  virtual ~ClientBase() = default;
  ClientBase(const ClientBase&) = delete;
  ClientBase& operator=(const ClientBase&) = delete;

  // Replaces every configured secret value in text with [redacted].
  std::string scrub(std::string_view text) const {
    std::string s(text);
    for (const auto& secret : secrets_) {
      for (size_t pos = s.find(secret); pos != std::string::npos; pos = s.find(secret, pos + 10)) {
        s.replace(pos, secret.size(), "[redacted]");
      }
    }
    return s;
  }

  // Creates a handle of this type from the explicit properties, wired to this
  // client's callbacks (set by `extra`). Returns null and sets *err on failure.
  template <class Extra>
  rd_kafka_t* create(rd_kafka_type_t type, const Config& cfg,
                     const std::vector<std::pair<std::string, std::string>>& overrides, Extra&& extra, Error* err) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const std::string& k, const std::string& v) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        *err = Error{Errc::local_invalid_arg, scrub(kind_ + ": librdkafka rejected property " + k + ": " + errstr)};
        return false;
      }
      return true;
    };
    for (const auto& [k, v] : cfg.explicit_values()) {
      if (!set(k, v)) {
        rd_kafka_conf_destroy(conf);
        return nullptr;
      }
    }
    for (const auto& [k, v] : overrides) {
      if (!set(k, v)) {
        rd_kafka_conf_destroy(conf);
        return nullptr;
      }
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_log_cb(conf, &ClientBase::on_log);
    rd_kafka_conf_set_error_cb(conf, &ClientBase::on_error);
    extra(conf);
    rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);  // takes conf on success
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      *err = Error{Errc::local_invalid_arg, scrub(kind_ + ": rd_kafka_new failed: " + errstr)};
      drain_logs();
      return nullptr;
    }
    rt_.log().debug("rdkafka {} {} created: {}", kind_, rd_kafka_name(rk), cfg.describe());
    return rk;
  }

  // Forwards buffered librdkafka log lines to the Runtime's logger (scrubbed).
  void drain_logs() {
    std::deque<std::pair<int, std::string>> lines;
    uint64_t dropped = 0;
    {
      std::lock_guard<std::mutex> lk(log_mu_);
      lines.swap(log_lines_);
      dropped = log_dropped_;
      log_dropped_ = 0;
    }
    if (dropped > 0) rt_.log().warn("rdkafka {}: {} log lines dropped (buffer full)", kind_, dropped);
    for (auto& [level, text] : lines) {
      spdlog::level::level_enum l = level <= 3   ? spdlog::level::err
                                    : level == 4 ? spdlog::level::warn
                                    : level <= 6 ? spdlog::level::info
                                                 : spdlog::level::debug;
      rt_.log().log(l, "rdkafka {}: {}", kind_, text);
    }
  }

  std::string last_problem() const {
    std::lock_guard<std::mutex> lk(log_mu_);
    return last_problem_;
  }

  // An Error for a librdkafka error code; `what` names the call.
  Error error(rd_kafka_resp_err_t e, std::string_view what, rd_kafka_t* rk = nullptr) const {
    Error out;
    out.code = errc(e);
    std::string msg = std::string(what) + ": " + rd_kafka_err2str(e);
    if (e == RD_KAFKA_RESP_ERR__FATAL && rk != nullptr) {
      char reason[512];
      rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, reason, sizeof reason);
      msg += std::string(" (") + rd_kafka_err2name(orig) + ": " + reason + ")";
      out.fatal = true;
    }
    if (unreachable_code(e)) {
      std::string last = last_problem();
      msg += " (bootstrap.servers=" + bootstrap_ + (last.empty() ? "" : "; last client error: " + last) + ")";
    }
    out.message = scrub(msg);
    out.retriable = !out.fatal && retriable_code(e);
    return out;
  }

  // An Error from an rd_kafka_error_t (destroyed here), with its classification.
  Error error(rd_kafka_error_t* e, std::string_view what) const {
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    Error out = error(code, what);
    std::string detail = rd_kafka_error_string(e);
    if (detail != rd_kafka_err2str(code)) out.message = scrub(out.message + ": " + detail);
    out.retriable = rd_kafka_error_is_retriable(e) != 0;
    out.txn_requires_abort = rd_kafka_error_txn_requires_abort(e) != 0;
    out.fatal = rd_kafka_error_is_fatal(e) != 0;
    rd_kafka_error_destroy(e);
    return out;
  }

  // Calls f(slice_ms) -- a blocking librdkafka call -- in bounded slices until it
  // returns something `again` does not accept, or the deadline passes. Between
  // slices other tasks run.
  template <class F, class Again>
  rd_kafka_resp_err_t in_slices(Instant deadline, F&& f, Again&& again) {
    int slice = kFirstSliceMs;
    for (;;) {
      // At least 1 ms: librdkafka gives a request with timeout 0 no deadline
      // at all (rd_kafka_query_watermark_offsets to a broker that is down then
      // waits until the broker is back, blocking the whole runtime).
      int ms = std::max(1, std::min(slice, remaining_ms(deadline)));
      rd_kafka_resp_err_t err = f(ms);
      serve();
      if (!again(err) || rt_.now() >= deadline) return err;
      slice = std::min(slice * 2, kMaxSliceMs);
      wait_a_little(deadline);
    }
  }

  int remaining_ms(Instant deadline) const {
    if (deadline.is_never()) return INT_MAX;
    return to_ms(deadline - rt_.now());
  }
  void wait_a_little(Instant deadline) {
    Instant t = std::min(rt_.now() + kPollInterval, deadline);
    rt_.sleep_until(t);
  }

  // Serves whatever this client's handle delivers through rd_kafka_poll (not for
  // consumers: their queue holds messages) and forwards logs.
  virtual void serve() { drain_logs(); }

  // Callbacks cannot let exceptions (TaskCancelled from a listener) cross
  // librdkafka's C frames: they park them here and the caller rethrows.
  void rethrow_deferred() {
    if (deferred_) {
      std::exception_ptr e = std::move(deferred_);
      deferred_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 protected:
  static ClientBase* self(const rd_kafka_t* rk) { return static_cast<ClientBase*>(rd_kafka_opaque(rk)); }

  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    ClientBase* c = self(rk);
    if (c == nullptr) return;
    std::string text = c->scrub(std::string(fac) + ": " + buf);
    std::lock_guard<std::mutex> lk(c->log_mu_);
    if (level <= 3) c->last_problem_ = text;  // errors (connection refused, ...), not warnings
    if (c->log_lines_.size() >= kMaxLogLines) {
      c->log_lines_.pop_front();
      ++c->log_dropped_;
    }
    c->log_lines_.emplace_back(level, std::move(text));
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    (void)rk;
    auto* c = static_cast<ClientBase*>(opaque);
    std::string text = c->scrub(std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " + reason);
    std::lock_guard<std::mutex> lk(c->log_mu_);
    c->last_problem_ = text;
    if (c->log_lines_.size() >= kMaxLogLines) {
      c->log_lines_.pop_front();
      ++c->log_dropped_;
    }
    c->log_lines_.emplace_back(err == RD_KAFKA_RESP_ERR__FATAL ? 2 : 4, "error: " + text);
  }

  Runtime& rt_;
  std::string kind_;
  std::string bootstrap_;
  std::vector<std::string> secrets_;
  std::exception_ptr deferred_;

 private:
  mutable std::mutex log_mu_;
  std::deque<std::pair<int, std::string>> log_lines_;
  uint64_t log_dropped_ = 0;
  std::string last_problem_;
};

// Broker metadata, retried in slices until a broker answers or the deadline.
// rkt null: every topic (such a request never auto-creates one); else only rkt.
Result<Metadata, Error> fetch_metadata(ClientBase& c, rd_kafka_t* rk, rd_kafka_topic_t* rkt, Instant deadline,
                                       const std::string& what) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = c.in_slices(
      deadline,
      [&](int ms) {
        if (md != nullptr) {
          rd_kafka_metadata_destroy(md);
          md = nullptr;
        }
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, rkt == nullptr ? 1 : 0, rkt, &md, ms);
        // A topic being created answers LEADER_NOT_AVAILABLE for a while.
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && rkt != nullptr && md->topic_cnt == 1 &&
            md->topics[0].err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
          return RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
        }
        return e;
      },
      [](rd_kafka_resp_err_t e) { return unreachable_code(e) || e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE; });
  Metadata owned(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unexpected(c.error(err, what + ": no metadata within the timeout", rk));
  }
  return owned;
}

// ---------------------------------------------------------------- producer ---

class LiveProducer final : public kafka::Producer, public ClientBase {
 public:
  LiveProducer(Runtime& rt, const Config& cfg, std::shared_ptr<TxnLedger> ledger)
      : ClientBase(rt, cfg, "producer"), txn_id_(cfg.str("transactional.id")) {
    if (!txn_id_.empty()) ledger_ = std::move(ledger);  // only transactions are emulated
  }
  ~LiveProducer() override {
    // A transactional call abandoned by a cancelled task still uses the handle.
    for (auto& j : txn_jobs_) {
      j->thread.join();
      if (j->result != nullptr) rd_kafka_error_destroy(j->result);
    }
    // Destroy the handle first: its callbacks use the members below. Records
    // still queued are not flushed (call flush() first).
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }

  Result<void, Error> start(const Config& cfg) {
    Error err;
    rk_ = create(RD_KAFKA_PRODUCER, cfg, {}, [](rd_kafka_conf_t* conf) {
      rd_kafka_conf_set_dr_msg_cb(conf, &LiveProducer::on_delivery);
    }, &err);
    if (rk_ == nullptr) return unexpected(err);
    return {};
  }

  Result<void, Error> produce(kafka::ProducerRecord r) override {
    std::vector<rd_kafka_vu_t> vu;
    vu.reserve(10);
    auto add = [&](rd_kafka_vtype_t t) -> rd_kafka_vu_t& {
      vu.emplace_back();
      std::memset(&vu.back(), 0, sizeof(rd_kafka_vu_t));
      vu.back().vtype = t;
      return vu.back();
    };
    add(RD_KAFKA_VTYPE_TOPIC).u.cstr = r.topic.c_str();
    add(RD_KAFKA_VTYPE_PARTITION).u.i32 = r.partition ? *r.partition : RD_KAFKA_PARTITION_UA;
    add(RD_KAFKA_VTYPE_MSGFLAGS).u.i = RD_KAFKA_MSG_F_COPY;
    if (r.key) {
      auto& k = add(RD_KAFKA_VTYPE_KEY).u.mem;
      k.ptr = r.key->data();
      k.size = r.key->size();
    }
    if (r.value) {
      auto& v = add(RD_KAFKA_VTYPE_VALUE).u.mem;
      v.ptr = r.value->data();
      v.size = r.value->size();
    }
    // Unset: librdkafka stamps the wall clock (see the header).
    if (r.timestamp_ms) add(RD_KAFKA_VTYPE_TIMESTAMP).u.i64 = *r.timestamp_ms;
    // Emulated transaction isolation (txn_ledger.h): the record names its attempt.
    if (ledger_ && attempt_ != 0) r.headers.push_back(kafka::Header{TxnLedger::kHeader, std::to_string(attempt_)});
    add(RD_KAFKA_VTYPE_OPAQUE).u.ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(r.opaque));
    rd_kafka_headers_t* hdrs = nullptr;
    if (!r.headers.empty()) {
      hdrs = rd_kafka_headers_new(r.headers.size());
      for (const auto& h : r.headers) {
        rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value ? h.value->data() : nullptr,
                            h.value ? static_cast<ssize_t>(h.value->size()) : 0);
      }
      add(RD_KAFKA_VTYPE_HEADERS).u.headers = hdrs;
    }
    rd_kafka_error_t* e = rd_kafka_produceva(rk_, vu.data(), vu.size());
    if (e != nullptr) {
      if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);  // ownership passes only on success
      rd_kafka_resp_err_t code = rd_kafka_error_code(e);
      Error out = error(e, "produce to " + r.topic);
      out.retriable = out.retriable || retriable_code(code);
      if (code == RD_KAFKA_RESP_ERR__FATAL) out = error(code, "produce to " + r.topic, rk_);
      return unexpected(out);
    }
    ++produced_;
    return {};
  }

  std::vector<DeliveryReport> poll(Duration timeout) override {
    Instant deadline = rt_.now() + timeout;
    for (;;) {
      serve();
      if (has_reports() || rt_.now() >= deadline) break;
      wait_a_little(deadline);
    }
    std::lock_guard<std::mutex> lk(dr_mu_);
    std::vector<DeliveryReport> out(std::make_move_iterator(reports_.begin()), std::make_move_iterator(reports_.end()));
    reports_.clear();
    return out;
  }

  Result<void, Error> flush(Duration timeout) override {
    Instant deadline = rt_.now() + timeout;
    for (;;) {
      // rd_kafka_flush (not rd_kafka_poll) so linger.ms is skipped, as librdkafka
      // does while flushing; 1 ms bounds the OS-thread block.
      if (outstanding() > 0) rd_kafka_flush(rk_, 1);
      serve();
      if (outstanding() == 0) return {};
      if (rt_.now() >= deadline) {
        Error e = error(RD_KAFKA_RESP_ERR__TIMED_OUT, "flush: " + std::to_string(outstanding()) +
                                                          " records still without a delivery report");
        return unexpected(e);
      }
      wait_a_little(deadline);
    }
  }

  size_t outstanding() const override { return static_cast<size_t>(produced_ - reported_.load()); }

  Result<int32_t, Error> partition_count(const std::string& topic, Duration timeout) override {
    Instant deadline = rt_.now() + timeout;
    std::unique_ptr<rd_kafka_topic_t, TopicDeleter> rkt(rd_kafka_topic_new(rk_, topic.c_str(), nullptr));
    if (!rkt) return unexpected(error(rd_kafka_last_error(), "partition_count(" + topic + ")"));
    auto md = fetch_metadata(*this, rk_, rkt.get(), deadline, "partition_count(" + topic + ")");
    if (!md.ok()) return unexpected(md.error());
    const rd_kafka_metadata_t* m = md->get();
    if (m->topic_cnt != 1) {
      return unexpected(error(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "partition_count(" + topic + ")"));
    }
    if (m->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return unexpected(error(m->topics[0].err, "partition_count(" + topic + ")"));
    }
    return static_cast<int32_t>(m->topics[0].partition_cnt);
  }

  // The transactional calls block the OS thread for up to their timeout.
  Result<void, Error> init_transactions(Duration timeout) override {
    const int ms = txn_ms(timeout);
    auto r = txn_result(txn_call([rk = rk_, ms] { return rd_kafka_init_transactions(rk, ms); }), "init_transactions");
    if (r.ok() && ledger_) ledger_->fence(txn_id_);
    return r;
  }
  Result<void, Error> begin_transaction() override {
    auto r = txn_result(rd_kafka_begin_transaction(rk_), "begin_transaction");
    if (r.ok() && ledger_) attempt_ = ledger_->begin(txn_id_);
    return r;
  }
  Result<void, Error> send_offsets_to_transaction(const std::vector<TopicPartitionOffset>& offsets,
                                                  const kafka::GroupMetadata& group, Duration timeout) override {
    const int ms = to_ms(timeout);
    rd_kafka_error_t* e = txn_call([rk = rk_, ms, offsets, group] {
      PartList list = make_list(offsets);
      rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata_new_with_genid(
          group.group_id.c_str(), group.generation, group.member_id.c_str(),
          group.group_instance_id ? group.group_instance_id->c_str() : nullptr);
      rd_kafka_error_t* err = rd_kafka_send_offsets_to_transaction(rk, list.get(), cgmd, ms);
      rd_kafka_consumer_group_metadata_destroy(cgmd);
      return err;
    });
    auto r = txn_result(e, "send_offsets_to_transaction");
    if (r.ok() && ledger_ && attempt_ != 0) ledger_->add_offsets(attempt_, group.group_id, offsets);
    return r;
  }
  Result<void, Error> commit_transaction(Duration timeout) override {
    const int ms = txn_ms(timeout);
    auto r = txn_result(txn_call([rk = rk_, ms] { return rd_kafka_commit_transaction(rk, ms); }), "commit_transaction");
    if (r.ok() && ledger_ && attempt_ != 0) {
      ledger_->commit(attempt_);
      attempt_ = 0;
    }
    return r;
  }
  Result<void, Error> abort_transaction(Duration timeout) override {
    const int ms = txn_ms(timeout);
    auto r = txn_result(txn_call([rk = rk_, ms] { return rd_kafka_abort_transaction(rk, ms); }), "abort_transaction");
    if (r.ok() && ledger_ && attempt_ != 0) {
      ledger_->abort(attempt_);
      attempt_ = 0;
    }
    return r;
  }

  void serve() override {
    rd_kafka_poll(rk_, 0);
    drain_logs();
    if (ledger_) {
      std::vector<Delivered> d;
      {
        std::lock_guard<std::mutex> lk(dr_mu_);
        d.swap(delivered_);
      }
      for (const auto& x : d) ledger_->delivered(x.attempt, x.tp, x.offset);
    }
    rethrow_deferred();
  }
  bool has_reports() {
    std::lock_guard<std::mutex> lk(dr_mu_);
    return !reports_.empty();
  }

 private:
  // librdkafka's transactional calls block their thread, and not always within
  // their timeout: with the mock's coordinator down,
  // rd_kafka_send_offsets_to_transaction waited far past it, and with it every
  // task of the runtime (the one that would bring the broker back included).
  // So each runs on a thread of its own while this task waits on the Runtime.
  // One call at a time per producer, as librdkafka requires: the calling task
  // waits for it. A task cancelled meanwhile leaves the call to finish; the
  // destructor joins it before destroying the handle.
  struct TxnJob {
    std::atomic<bool> done{false};
    rd_kafka_error_t* result = nullptr;
    std::thread thread;
  };
  template <class F>
  rd_kafka_error_t* txn_call(F&& f) {
    auto job = std::make_unique<TxnJob>();
    TxnJob* raw = job.get();
    raw->thread = std::thread([raw, fn = std::forward<F>(f)]() mutable {
      raw->result = fn();
      raw->done.store(true);
    });
    txn_jobs_.push_back(std::move(job));
    while (!raw->done.load()) rt_.sleep_for(kPollInterval);  // TaskCancelled leaves the job to the destructor
    raw->thread.join();
    rd_kafka_error_t* e = raw->result;
    txn_jobs_.pop_back();
    return e;
  }

  Result<void, Error> txn_result(rd_kafka_error_t* e, const char* what) {
    serve();
    if (e == nullptr) return {};
    return unexpected(error(e, what));
  }

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    auto* p = static_cast<LiveProducer*>(static_cast<ClientBase*>(opaque));
    try {
      DeliveryReport r;
      r.tp = {m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "", m->partition};
      r.offset = KafkaOffset{m->offset};
      rd_kafka_timestamp_type_t tstype;
      int64_t ts = rd_kafka_message_timestamp(m, &tstype);
      r.timestamp_ms = ts < 0 ? 0 : ts;
      r.opaque = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
      switch (rd_kafka_message_status(m)) {
        case RD_KAFKA_MSG_STATUS_NOT_PERSISTED: r.status = kafka::Persistence::not_persisted; break;
        case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED: r.status = kafka::Persistence::possibly_persisted; break;
        case RD_KAFKA_MSG_STATUS_PERSISTED: r.status = kafka::Persistence::persisted; break;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        r.error = p->error(m->err, "delivery to " + tp_name(r.tp.topic, r.tp.partition), rk);
        r.offset = KafkaOffset::invalid();
      }
      // This callback also runs on a transactional call's thread (librdkafka's
      // commit flushes on its caller): only dr_mu_'s members are touched here.
      std::lock_guard<std::mutex> lk(p->dr_mu_);
      if (p->ledger_ && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void* val = nullptr;
        size_t size = 0;
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, TxnLedger::kHeader, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR && val) {
          p->delivered_.push_back({std::stoull(std::string(static_cast<const char*>(val), size)), r.tp, m->offset});
        }
      }
      p->reports_.push_back(std::move(r));
      ++p->reported_;
    } catch (...) {
      if (!p->deferred_) p->deferred_ = std::current_exception();
    }
  }

  rd_kafka_t* rk_ = nullptr;
  std::string txn_id_;
  std::vector<std::unique_ptr<TxnJob>> txn_jobs_;  // at most one: the running transactional call
  std::shared_ptr<TxnLedger> ledger_;  // set: transactions are emulated
  uint64_t attempt_ = 0;               // the open transaction's attempt in ledger_
  uint64_t produced_ = 0;
  std::atomic<uint64_t> reported_{0};
  // Filled by on_delivery (any thread), under dr_mu_: reports_ and the
  // delivered offsets of emulated transactions, which serve() hands to the
  // ledger on the runtime's thread.
  std::mutex dr_mu_;
  struct Delivered {
    uint64_t attempt;
    TopicPartition tp;
    int64_t offset;
  };
  std::vector<Delivered> delivered_;
  // Reports not yet returned by poll. Bounded by queue.buffering.max.messages:
  // produce() fails with local_queue_full before more records are outstanding.
  std::deque<DeliveryReport> reports_;
};

// ---------------------------------------------------------------- consumer ---

// Parses librdkafka's serialised consumer group metadata ("CGMDv2:" magic, int32
// generation in host order, group id, member id, null flag, instance id), the only
// way the C API exposes the generation.
std::optional<kafka::GroupMetadata> parse_cgmd(const rd_kafka_consumer_group_metadata_t* m) {
  void* buf = nullptr;
  size_t size = 0;
  rd_kafka_error_t* e = rd_kafka_consumer_group_metadata_write(m, &buf, &size);
  if (e != nullptr) {
    rd_kafka_error_destroy(e);
    return std::nullopt;
  }
  std::string b(static_cast<const char*>(buf), size);
  rd_kafka_mem_free(nullptr, buf);
  constexpr std::string_view magic("CGMDv2:", 7);
  if (b.size() < magic.size() + 4 || std::string_view(b).substr(0, magic.size()) != magic) return std::nullopt;
  kafka::GroupMetadata g;
  size_t of = magic.size();
  std::memcpy(&g.generation, b.data() + of, 4);
  of += 4;
  auto cstr = [&](std::string* out) {
    size_t end = b.find('\0', of);
    if (end == std::string::npos) return false;
    *out = b.substr(of, end - of);
    of = end + 1;
    return true;
  };
  if (!cstr(&g.group_id) || !cstr(&g.member_id) || of >= b.size()) return std::nullopt;
  bool instance_null = b[of++] != 0;
  if (!instance_null) {
    std::string inst;
    if (!cstr(&inst)) return std::nullopt;
    g.group_instance_id = inst;
  }
  return g;
}

class LiveConsumer final : public kafka::Consumer, public ClientBase {
 public:
  LiveConsumer(Runtime& rt, const Config& cfg, std::shared_ptr<TxnLedger> ledger)
      : ClientBase(rt, cfg, "consumer"),
        group_id_(cfg.str("group.id")),
        no_group_(group_id_.empty()),
        ledger_(std::move(ledger)),
        isolate_(ledger_ && cfg.str("isolation.level") == "read_committed") {}
  ~LiveConsumer() override {
    // Without close() the member leaves by session timeout; destroy must not run
    // the blocking close (and its rebalance callbacks) from a destructor.
    if (rk_ != nullptr) rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  Result<void, Error> start(const Config& cfg) {
    Error err;
    // librdkafka's consumer API (assign and poll included) needs a group; kafka.h
    // allows manual assignment without one, as the Java client does. Such a
    // consumer gets a private group.id that never joins or commits: the group
    // calls below refuse with local_invalid_arg.
    std::vector<std::pair<std::string, std::string>> overrides;
    if (no_group_) overrides = {{"group.id", "streamsim-assign-only"}, {"enable.auto.commit", "false"}};
    rk_ = create(RD_KAFKA_CONSUMER, cfg, overrides, [](rd_kafka_conf_t* conf) {
      rd_kafka_conf_set_rebalance_cb(conf, &LiveConsumer::on_rebalance);
      rd_kafka_conf_set_offset_commit_cb(conf, &LiveConsumer::on_auto_commit);
    }, &err);
    if (rk_ == nullptr) return unexpected(err);
    rd_kafka_poll_set_consumer(rk_);
    return {};
  }

  Result<void, Error> subscribe(const std::vector<std::string>& topics, kafka::RebalanceListener* listener) override {
    if (auto g = check_group("subscribe"); !g.ok()) return unexpected(g.error());
    PartList l(rd_kafka_topic_partition_list_new(static_cast<int>(std::max<size_t>(topics.size(), 1))));
    for (const auto& t : topics) rd_kafka_topic_partition_list_add(l.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    listener_ = listener;
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, l.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "subscribe"));
    return {};
  }

  Result<void, Error> unsubscribe() override {
    if (auto g = check_group("unsubscribe"); !g.ok()) return unexpected(g.error());
    // The revocation reaches the listener through the next poll.
    rd_kafka_resp_err_t e = rd_kafka_unsubscribe(rk_);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "unsubscribe"));
    return {};
  }

  Result<void, Error> assign(const std::vector<TopicPartitionOffset>& partitions) override {
    if (closed_) return unexpected(error(RD_KAFKA_RESP_ERR__STATE, "assign: consumer closed"));
    PartList l = make_list(partitions);
    forget_all();
    rd_kafka_resp_err_t e = rd_kafka_assign(rk_, l.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "assign"));
    return {};
  }

  std::vector<TopicPartition> assignment() const override {
    if (closed_) return {};
    rd_kafka_topic_partition_list_t* l = nullptr;
    if (rd_kafka_assignment(rk_, &l) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    PartList owned(l);
    return to_tps(l);
  }

  Result<std::vector<ConsumerRecord>, Error> poll(Duration timeout, size_t max_records) override {
    if (closed_) return unexpected(error(RD_KAFKA_RESP_ERR__STATE, "poll: consumer closed"));
    const size_t max = std::max<size_t>(max_records, 1);
    Instant deadline = rt_.now() + timeout;
    std::vector<ConsumerRecord> out;
    for (;;) {
      if (isolate_) release_held();
      while (out.size() + ready_.size() < max) {
        Message m(rd_kafka_consumer_poll(rk_, 0));  // serves rebalance and commit callbacks too
        rethrow_deferred();
        if (!m) break;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          consumer_error(m.get());
          if (!pending_.empty() && out.empty() && ready_.empty()) break;
          continue;
        }
        if (isolate_) admit(to_record(m.get()));
        else out.push_back(to_record(m.get()));
      }
      while (!ready_.empty() && out.size() < max) {
        out.push_back(std::move(ready_.front()));
        ready_.pop_front();
      }
      drain_logs();
      if (!out.empty()) return out;
      if (!pending_.empty()) {
        Error e = std::move(pending_.front());
        pending_.pop_front();
        return unexpected(e);
      }
      if (rt_.now() >= deadline) return out;
      wait_a_little(deadline);
    }
  }

  Result<void, Error> commit_sync(const std::vector<TopicPartitionOffset>& offsets, Duration timeout) override {
    if (auto g = check_group("commit_sync"); !g.ok()) return unexpected(g.error());
    Instant deadline = rt_.now() + timeout;
    auto list = commit_list(offsets);
    if (!list.ok()) return unexpected(list.error());
    if (!*list) return {};  // nothing consumed yet: nothing to commit
    // The result is posted on a private queue that this task serves without
    // blocking; rd_kafka_commit(async=0) would block the thread with no timeout.
    Queue q(rd_kafka_queue_new(rk_));
    CommitWait wait;
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(rk_, list->get(), q.get(), &LiveConsumer::on_commit_done, &wait);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "commit_sync"));
    for (;;) {
      rd_kafka_queue_poll_callback(q.get(), 0);
      drain_logs();
      if (wait.done) break;
      if (rt_.now() >= deadline) return unexpected(error(RD_KAFKA_RESP_ERR__TIMED_OUT, "commit_sync: no result"));
      wait_a_little(deadline);
    }
    if (wait.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return unexpected(error(wait.err, "commit_sync" + (wait.detail.empty() ? "" : " " + wait.detail)));
    }
    return {};
  }

  Result<void, Error> commit_async(const std::vector<TopicPartitionOffset>& offsets) override {
    if (auto g = check_group("commit_async"); !g.ok()) return unexpected(g.error());
    auto list = commit_list(offsets);
    if (!list.ok()) return unexpected(list.error());
    if (!*list) return {};
    // Posted on the consumer queue: poll() serves the result (on_async_commit).
    Queue q(rd_kafka_queue_get_consumer(rk_));
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(rk_, list->get(), q.get(), &LiveConsumer::on_async_commit, this);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "commit_async"));
    return {};
  }

  Result<std::vector<TopicPartitionOffset>, Error> committed(const std::vector<TopicPartition>& partitions,
                                                             Duration timeout) override {
    if (auto g = check_group("committed"); !g.ok()) return unexpected(g.error());
    Instant deadline = rt_.now() + timeout;
    PartList l;
    rd_kafka_resp_err_t e = in_slices(
        deadline,
        [&](int ms) {
          l = make_list(partitions);
          return rd_kafka_committed(rk_, l.get(), ms);
        },
        [](rd_kafka_resp_err_t e) {
          return unreachable_code(e) || e == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                 e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR || e == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
        });
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "committed"));
    auto out = to_offsets(l.get(), "committed");
    if (out.ok() && ledger_) {
      // Offsets committed by emulated transactions (the mock keeps none).
      for (auto& o : *out) {
        auto t = ledger_->committed_offset(group_id_, o.tp);
        if (t && (o.offset.is_logical() || o.offset.value < *t)) {
          o.offset = KafkaOffset{*t};
          o.error.reset();
        }
      }
    }
    return out;
  }

  Result<KafkaOffset, Error> position(const TopicPartition& tp) const override {
    if (closed_) return unexpected(error(RD_KAFKA_RESP_ERR__STATE, "position: consumer closed"));
    if (isolate_) {
      // Emulated read_committed: the position is the first record not yet
      // returned (librdkafka's is past the records held back here), so a
      // reader comparing it with the last stable offset keeps polling until
      // they are released.
      for (const auto& r : ready_)
        if (r.tp == tp) return r.offset;
      if (auto h = held_.find(tp); h != held_.end() && !h->second.empty()) return h->second.front().offset;
    }
    PartList l = make_list(std::vector<TopicPartition>{tp});
    rd_kafka_resp_err_t e = rd_kafka_position(rk_, l.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "position"));
    if (l->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return unexpected(error(l->elems[0].err, "position " + tp_name(tp.topic, tp.partition)));
    }
    return KafkaOffset{l->elems[0].offset};
  }

  Result<void, Error> seek(const TopicPartition& tp, KafkaOffset offset, Duration timeout) override {
    if (closed_) return unexpected(error(RD_KAFKA_RESP_ERR__STATE, "seek: consumer closed"));
    Instant deadline = rt_.now() + timeout;
    const std::string what = "seek " + tp_name(tp.topic, tp.partition);
    forget({tp});
    PartList l;
    rd_kafka_resp_err_t e = in_slices(
        deadline,
        [&](int ms) {
          l = make_list(std::vector<TopicPartition>{tp}, offset.value);
          rd_kafka_error_t* err = rd_kafka_seek_partitions(rk_, l.get(), std::max(ms, 1));
          if (err == nullptr) return l->elems[0].err;
          rd_kafka_resp_err_t code = rd_kafka_error_code(err);
          rd_kafka_error_destroy(err);
          return code;
        },
        [](rd_kafka_resp_err_t e) { return e == RD_KAFKA_RESP_ERR__TIMED_OUT; });
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, what));
    return {};
  }

  Result<void, Error> pause(const std::vector<TopicPartition>& partitions) override {
    return pause_resume(partitions, true);
  }
  Result<void, Error> resume(const std::vector<TopicPartition>& partitions) override {
    return pause_resume(partitions, false);
  }

  kafka::GroupMetadata group_metadata() const override {
    kafka::GroupMetadata fallback;
    fallback.group_id = group_id_;
    if (closed_ || no_group_) return fallback;
    rd_kafka_consumer_group_metadata_t* m = rd_kafka_consumer_group_metadata(rk_);
    if (m == nullptr) return fallback;
    auto g = parse_cgmd(m);
    rd_kafka_consumer_group_metadata_destroy(m);
    if (g) return *g;
    char* member = rd_kafka_memberid(rk_);
    if (member != nullptr) {
      fallback.member_id = member;
      rd_kafka_mem_free(rk_, member);
    }
    return fallback;
  }

  Result<void, Error> close(Duration timeout) override {
    if (closed_) return {};
    Instant deadline = rt_.now() + timeout;
    // Asynchronous close: the revocation arrives on q as a rebalance callback,
    // served here without blocking.
    Queue q(rd_kafka_queue_new(rk_));
    rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_, q.get());
    if (e != nullptr) {
      closed_ = true;
      return unexpected(error(e, "close"));
    }
    for (;;) {
      // The event API: rd_kafka_queue_poll_callback aborts on ops it cannot serve
      // as callbacks (librdkafka 2.0.2 asserts in rd_kafka_q_serve).
      for (Event ev(rd_kafka_queue_poll(q.get(), 0)); ev; ev.reset(rd_kafka_queue_poll(q.get(), 0))) {
        if (rd_kafka_event_type(ev.get()) == RD_KAFKA_EVENT_REBALANCE) {
          on_rebalance(rk_, rd_kafka_event_error(ev.get()), rd_kafka_event_topic_partition_list(ev.get()),
                       static_cast<ClientBase*>(this));
        } else if (rd_kafka_event_type(ev.get()) == RD_KAFKA_EVENT_ERROR) {
          rt_.log().warn("rdkafka consumer: close: {}", scrub(rd_kafka_event_error_string(ev.get())));
        }
      }
      drain_logs();
      if (deferred_) {
        closed_ = true;
        rethrow_deferred();
      }
      if (rd_kafka_consumer_closed(rk_)) break;
      if (rt_.now() >= deadline) {
        closed_ = true;
        return unexpected(error(RD_KAFKA_RESP_ERR__TIMED_OUT, "close: the group was not left in time"));
      }
      wait_a_little(deadline);
    }
    closed_ = true;
    return {};
  }

  void serve() override {
    // Not rd_kafka_consumer_poll: it would take records off the queue.
    drain_logs();
  }

 private:
  struct CommitWait {
    bool done = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string detail;
  };

  // First per-partition error of a commit result, as (code, "topic[p]").
  static std::pair<rd_kafka_resp_err_t, std::string> commit_error(rd_kafka_resp_err_t err,
                                                                  const rd_kafka_topic_partition_list_t* l) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return {err, ""};
    for (int i = 0; l != nullptr && i < l->cnt; ++i) {
      if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return {l->elems[i].err, tp_name(l->elems[i].topic, l->elems[i].partition)};
      }
    }
    return {RD_KAFKA_RESP_ERR_NO_ERROR, ""};
  }

  static void on_commit_done(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                             void* opaque) {
    auto* w = static_cast<CommitWait*>(opaque);
    auto [code, where] = commit_error(err, offsets);
    w->err = code;
    w->detail = where;
    w->done = true;
  }

  static void on_async_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                              void* opaque) {
    auto* c = static_cast<LiveConsumer*>(opaque);
    try {
      auto [code, where] = commit_error(err, offsets);
      if (code != RD_KAFKA_RESP_ERR_NO_ERROR) c->add_pending(c->error(code, "commit_async" + (where.empty() ? "" : " " + where)));
    } catch (...) {
      if (!c->deferred_) c->deferred_ = std::current_exception();
    }
  }

  // enable.auto.commit results: logged only (as the Java client does).
  static void on_auto_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                             void* opaque) {
    (void)rk;
    auto* c = static_cast<LiveConsumer*>(static_cast<ClientBase*>(opaque));
    auto [code, where] = commit_error(err, offsets);
    if (code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      c->rt_.log().warn("rdkafka consumer: auto commit failed {}: {}", where, rd_kafka_err2str(code));
    }
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
    auto* c = static_cast<LiveConsumer*>(static_cast<ClientBase*>(opaque));
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    auto tps = to_tps(parts);
    c->rt_.log().debug("rdkafka consumer: rebalance {} of {} partitions ({})", rd_kafka_err2name(err), tps.size(),
                       rd_kafka_rebalance_protocol(rk));
    // librdkafka requires the (un)assign whatever the listener does, so run the
    // listener under try and apply the assignment change regardless.
    auto call = [&](auto&& fn) {
      if (c->listener_ == nullptr || c->deferred_) return;
      try {
        fn();
      } catch (...) {
        c->deferred_ = std::current_exception();
      }
    };
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      c->apply_assignment(parts, cooperative, true);
      call([&] { c->listener_->on_assigned(*c, tps); });
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      if (rd_kafka_assignment_lost(rk)) {
        call([&] { c->listener_->on_lost(*c, tps); });
      } else {
        call([&] { c->listener_->on_revoked(*c, tps); });
      }
      c->apply_assignment(parts, cooperative, false);
    } else {
      c->add_pending(c->error(err, "rebalance"));
      c->apply_assignment(nullptr, false, false);
    }
  }

  void apply_assignment(rd_kafka_topic_partition_list_t* parts, bool cooperative, bool add) {
    if (!add) {
      if (parts == nullptr || !cooperative) forget_all();
      else forget(to_tps(parts));
    }
    if (cooperative) {
      rd_kafka_error_t* e = add ? rd_kafka_incremental_assign(rk_, parts) : rd_kafka_incremental_unassign(rk_, parts);
      if (e != nullptr) add_pending(error(e, add ? "incremental assign" : "incremental unassign"));
    } else {
      rd_kafka_resp_err_t e = rd_kafka_assign(rk_, add ? parts : nullptr);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) add_pending(error(e, add ? "assign" : "unassign"));
    }
  }

  void add_pending(Error e) {
    if (pending_.size() >= kMaxPendingErrors) pending_.pop_front();
    pending_.push_back(std::move(e));
  }

  void consumer_error(const rd_kafka_message_t* m) {
    std::string where = m->rkt != nullptr ? " " + tp_name(rd_kafka_topic_name(m->rkt), m->partition) : "";
    switch (m->err) {
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return;  // no way to report it through kafka.h
      case RD_KAFKA_RESP_ERR__TRANSPORT:
      case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      case RD_KAFKA_RESP_ERR__RESOLVE:
        rt_.log().warn("rdkafka consumer{}: {}", where, scrub(rd_kafka_message_errstr(m)));
        return;
      default: {
        Error e = error(m->err, "consume" + where, rk_);
        std::string detail = rd_kafka_message_errstr(m);
        if (detail != rd_kafka_err2str(m->err)) e.message = scrub(e.message + ": " + detail);
        add_pending(std::move(e));
      }
    }
  }

  ConsumerRecord to_record(const rd_kafka_message_t* m) const {
    ConsumerRecord r;
    r.tp = {rd_kafka_topic_name(m->rkt), m->partition};
    r.offset = KafkaOffset{m->offset};
    if (m->key != nullptr) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr) r.value = std::string(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) {
      const char* name = nullptr;
      const void* val = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        kafka::Header h;
        h.key = name;
        if (val != nullptr) h.value = std::string(static_cast<const char*>(val), size);
        r.headers.push_back(std::move(h));
      }
    }
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    r.timestamp_ms = ts < 0 ? 0 : ts;
    r.leader_epoch = -1;  // rd_kafka_message_leader_epoch arrived in librdkafka 2.1
    return r;
  }

  // The list to commit: the given offsets, or (empty) the current positions of
  // the assigned partitions that have one. A null list means nothing to commit.
  Result<PartList, Error> commit_list(const std::vector<TopicPartitionOffset>& offsets) {
    if (!offsets.empty()) return make_list(offsets);
    rd_kafka_topic_partition_list_t* a = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_assignment(rk_, &a);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "commit: assignment"));
    PartList assigned(a);
    e = rd_kafka_position(rk_, assigned.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "commit: position"));
    PartList out(rd_kafka_topic_partition_list_new(std::max(a->cnt, 1)));
    for (int i = 0; i < a->cnt; ++i) {
      if (a->elems[i].offset >= 0) {
        rd_kafka_topic_partition_list_add(out.get(), a->elems[i].topic, a->elems[i].partition)->offset = a->elems[i].offset;
      }
    }
    if (out->cnt == 0) return PartList();
    return out;
  }

  Result<std::vector<TopicPartitionOffset>, Error> to_offsets(const rd_kafka_topic_partition_list_t* l,
                                                              const std::string& what) {
    std::vector<TopicPartitionOffset> out;
    for (int i = 0; i < l->cnt; ++i) {
      TopicPartitionOffset o;
      o.tp = {l->elems[i].topic, l->elems[i].partition};
      o.offset = KafkaOffset{l->elems[i].offset};
      if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        o.error = error(l->elems[i].err, what + " " + tp_name(o.tp.topic, o.tp.partition));
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  Result<void, Error> pause_resume(const std::vector<TopicPartition>& partitions, bool pause) {
    const char* what = pause ? "pause" : "resume";
    if (closed_) return unexpected(error(RD_KAFKA_RESP_ERR__STATE, std::string(what) + ": consumer closed"));
    PartList l = make_list(partitions);
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(rk_, l.get()) : rd_kafka_resume_partitions(rk_, l.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, what));
    for (int i = 0; i < l->cnt; ++i) {
      if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return unexpected(error(l->elems[i].err, std::string(what) + " " + tp_name(l->elems[i].topic, l->elems[i].partition)));
      }
    }
    return {};
  }

  Result<void, Error> check_group(const char* what) const {
    if (closed_) return unexpected(error(RD_KAFKA_RESP_ERR__STATE, std::string(what) + ": consumer closed"));
    if (no_group_) return unexpected(error(RD_KAFKA_RESP_ERR__INVALID_ARG, std::string(what) + ": group.id is not set"));
    return {};
  }

  // ---- Emulated read_committed (txn_ledger.h). ----
  // A record of an open attempt, and every later record of its partition, is
  // held until the attempt ends; decided ones move to ready_ in offset order.
  void admit(ConsumerRecord r) {
    auto& q = held_[r.tp];
    q.push_back(std::move(r));
    release(q);
  }
  void release(std::deque<ConsumerRecord>& q) {
    while (!q.empty()) {
      ConsumerRecord& r = q.front();
      auto h = std::find_if(r.headers.begin(), r.headers.end(), [](const kafka::Header& x) { return x.key == TxnLedger::kHeader; });
      if (h != r.headers.end()) {
        const auto st = h->value ? ledger_->state(std::stoull(*h->value)) : TxnLedger::State::committed;
        if (st == TxnLedger::State::open) return;
        if (st == TxnLedger::State::aborted) {
          q.pop_front();
          continue;
        }
        r.headers.erase(h);
      }
      ready_.push_back(std::move(r));
      q.pop_front();
    }
  }
  void release_held() {
    for (auto& [tp, q] : held_) release(q);
  }
  void forget(const std::vector<TopicPartition>& tps) {
    for (const auto& tp : tps) {
      held_.erase(tp);
      std::erase_if(ready_, [&](const ConsumerRecord& r) { return r.tp == tp; });
    }
  }
  void forget_all() {
    held_.clear();
    ready_.clear();
  }

  rd_kafka_t* rk_ = nullptr;
  std::string group_id_;
  bool no_group_ = false;
  std::shared_ptr<TxnLedger> ledger_;
  bool isolate_ = false;  // read_committed emulated
  std::map<TopicPartition, std::deque<ConsumerRecord>> held_;
  std::deque<ConsumerRecord> ready_;
  kafka::RebalanceListener* listener_ = nullptr;
  bool closed_ = false;
  std::deque<Error> pending_;  // errors for the next poll, bounded by kMaxPendingErrors
};

// ------------------------------------------------------------------- admin ---

class LiveAdmin final : public kafka::Admin, public ClientBase {
 public:
  LiveAdmin(Runtime& rt, const Config& cfg, std::shared_ptr<TxnLedger> ledger)
      : ClientBase(rt, cfg, "admin"), cfg_(cfg), ledger_(std::move(ledger)) {}
  ~LiveAdmin() override {
    // Queries that outlived their deadline still use the offsets handles.
    for (auto& q : queries_) q->thread.join();
    for (auto& [committed, rk] : offsets_rk_) rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }

  Result<void, Error> start() {
    Error err;
    rk_ = create(RD_KAFKA_PRODUCER, cfg_, {}, [](rd_kafka_conf_t*) {}, &err);
    if (rk_ == nullptr) return unexpected(err);
    return {};
  }

  Result<std::vector<std::optional<Error>>, Error> create_topics(const std::vector<kafka::TopicSpec>& topics,
                                                                 Duration timeout) override {
    if (ledger_) {
      // The mock cluster (a ledger means the mock, txn_ledger.h) does not serve
      // CreateTopics: its topics are made with rd_kafka_mock_topic_create
      // beforehand, and a request for one that exists answers
      // TOPIC_ALREADY_EXISTS here, as a broker would.
      auto d = describe_topics([&] {
        std::vector<std::string> n;
        for (const auto& t : topics) n.push_back(t.name);
        return n;
      }(), timeout);
      if (d.ok() && d->size() == topics.size()) {
        std::vector<std::optional<Error>> out;
        bool all = true;
        for (const auto& info : *d) {
          all = all && !info.partitions.empty();
          out.push_back(error(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "create_topics " + info.name));
        }
        if (all) return out;
      }
    }
    std::vector<rd_kafka_NewTopic_t*> nts;
    struct Free {
      std::vector<rd_kafka_NewTopic_t*>* v;
      ~Free() { rd_kafka_NewTopic_destroy_array(v->data(), v->size()); }
    } free_nts{&nts};
    char errstr[512];
    for (const auto& t : topics) {
      rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication, errstr, sizeof errstr);
      if (nt == nullptr) {
        return unexpected(Error{Errc::local_invalid_arg, scrub("create_topics " + t.name + ": " + errstr)});
      }
      nts.push_back(nt);
      for (const auto& [k, v] : t.config) {
        rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(e, "create_topics " + t.name + " config " + k));
      }
    }
    auto ev = admin_call(RD_KAFKA_ADMIN_OP_CREATETOPICS, RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout, "create_topics",
                         [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                           rd_kafka_CreateTopics(rk_, nts.data(), nts.size(), o, q);
                         });
    if (!ev.ok()) return unexpected(ev.error());
    size_t cnt = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev->get()), &cnt);
    std::vector<std::string> names;
    for (const auto& t : topics) names.push_back(t.name);
    return per_topic(names, res, cnt, "create_topics");
  }

  Result<std::vector<std::optional<Error>>, Error> delete_topics(const std::vector<std::string>& topics,
                                                                 Duration timeout) override {
    std::vector<rd_kafka_DeleteTopic_t*> dts;
    struct Free {
      std::vector<rd_kafka_DeleteTopic_t*>* v;
      ~Free() { rd_kafka_DeleteTopic_destroy_array(v->data(), v->size()); }
    } free_dts{&dts};
    for (const auto& t : topics) dts.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
    auto ev = admin_call(RD_KAFKA_ADMIN_OP_DELETETOPICS, RD_KAFKA_EVENT_DELETETOPICS_RESULT, timeout, "delete_topics",
                         [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                           rd_kafka_DeleteTopics(rk_, dts.data(), dts.size(), o, q);
                         });
    if (!ev.ok()) return unexpected(ev.error());
    size_t cnt = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev->get()), &cnt);
    return per_topic(topics, res, cnt, "delete_topics");
  }

  Result<kafka::ClusterInfo, Error> describe_cluster(Duration timeout) override {
    Instant deadline = rt_.now() + timeout;
    // Only the brokers: ask for no topic at all (all_topics=0, no topic object).
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = in_slices(
        deadline,
        [&](int ms) {
          if (md != nullptr) {
            rd_kafka_metadata_destroy(md);
            md = nullptr;
          }
          return rd_kafka_metadata(rk_, 0, nullptr, &md, ms);
        },
        [](rd_kafka_resp_err_t e) { return unreachable_code(e); });
    Metadata owned(md);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return unexpected(error(err, "describe_cluster: no metadata within the timeout", rk_));
    }
    kafka::ClusterInfo info;
    for (int i = 0; i < md->broker_cnt; ++i) {
      info.brokers.push_back({md->brokers[i].id, md->brokers[i].host, md->brokers[i].port});
    }
    std::sort(info.brokers.begin(), info.brokers.end(),
              [](const kafka::BrokerInfo& a, const kafka::BrokerInfo& b) { return a.id < b.id; });
    if (char* id = rd_kafka_clusterid(rk_, 0)) {  // cached by the metadata answer
      info.cluster_id = id;
      rd_kafka_mem_free(rk_, id);
    }
    info.controller = rd_kafka_controllerid(rk_, 0);
    return info;
  }

  Result<std::vector<kafka::TopicInfo>, Error> describe_topics(const std::vector<std::string>& topics,
                                                               Duration timeout) override {
    Instant deadline = rt_.now() + timeout;
    // All topics: a metadata request naming a topic could auto-create it.
    auto md = fetch_metadata(*this, rk_, nullptr, deadline, "describe_topics");
    if (!md.ok()) return unexpected(md.error());
    const rd_kafka_metadata_t* m = md->get();
    std::vector<kafka::TopicInfo> out;
    for (const auto& name : topics) {
      const rd_kafka_metadata_topic_t* found = nullptr;
      for (int i = 0; i < m->topic_cnt; ++i) {
        if (name == m->topics[i].topic) found = &m->topics[i];
      }
      if (found == nullptr) return unexpected(error(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "describe_topics " + name));
      if (found->err != RD_KAFKA_RESP_ERR_NO_ERROR) return unexpected(error(found->err, "describe_topics " + name));
      kafka::TopicInfo t;
      t.name = name;
      for (int p = 0; p < found->partition_cnt; ++p) {
        const auto& mp = found->partitions[p];
        kafka::PartitionInfo pi;
        pi.partition = mp.id;
        pi.leader = mp.leader;
        pi.leader_epoch = -1;  // not in librdkafka 2.0's metadata structs
        pi.replicas.assign(mp.replicas, mp.replicas + mp.replica_cnt);
        pi.isr.assign(mp.isrs, mp.isrs + mp.isr_cnt);
        t.partitions.push_back(std::move(pi));
      }
      std::sort(t.partitions.begin(), t.partitions.end(),
                [](const kafka::PartitionInfo& a, const kafka::PartitionInfo& b) { return a.partition < b.partition; });
      out.push_back(std::move(t));
    }
    return out;
  }

  Result<std::vector<TopicPartitionOffset>, Error> list_offsets(const std::vector<TopicPartition>& partitions,
                                                                kafka::OffsetSpec spec, bool read_committed,
                                                                Duration timeout) override {
    Instant deadline = rt_.now() + timeout;
    auto rk = offsets_handle(read_committed);
    if (!rk.ok()) return unexpected(rk.error());
    std::vector<TopicPartitionOffset> out;
    for (const auto& tp : partitions) {
      int64_t lo = RD_KAFKA_OFFSET_INVALID, hi = RD_KAFKA_OFFSET_INVALID;
      rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
      for (;;) {
        e = query_watermarks(*rk, tp, deadline, &lo, &hi);
        const bool again = unreachable_code(e) || e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                           e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
        if (!again || rt_.now() >= deadline) break;
        wait_a_little(deadline);
      }
      const std::string what = "list_offsets " + tp_name(tp.topic, tp.partition);
      if (unreachable_code(e)) return unexpected(error(e, what));
      TopicPartitionOffset o;
      o.tp = tp;
      o.offset = KafkaOffset{spec == kafka::OffsetSpec::earliest ? lo : hi};
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        o.offset = KafkaOffset::invalid();
        o.error = error(e, what);
      } else if (ledger_ && read_committed && spec != kafka::OffsetSpec::earliest) {
        // Emulated last stable offset: the first record of an open transaction.
        if (auto first = ledger_->first_open_offset(tp); first && *first < o.offset.value) o.offset = KafkaOffset{*first};
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  void serve() override {
    rd_kafka_poll(rk_, 0);
    drain_logs();
  }

 private:
  // rd_kafka_query_watermark_offsets asks for the handle's isolation.level (the
  // high watermark for read_uncommitted, the last stable offset for
  // read_committed), so each level gets a consumer handle of its own, made on
  // first use.
  Result<rd_kafka_t*, Error> offsets_handle(bool read_committed) {
    auto it = offsets_rk_.find(read_committed);
    if (it != offsets_rk_.end()) return it->second;
    Error err;
    // socket.timeout.ms bounds a query whose leader is down (see
    // query_watermarks), and so the wait for it when this admin is destroyed.
    const int64_t socket_ms = std::min<int64_t>(cfg_.num("socket.timeout.ms"), kMaxQuerySocketTimeoutMs);
    rd_kafka_t* rk = create(RD_KAFKA_CONSUMER, cfg_,
                            {{"isolation.level", read_committed ? "read_committed" : "read_uncommitted"},
                             {"socket.timeout.ms", std::to_string(socket_ms)}},
                            [](rd_kafka_conf_t*) {}, &err);
    if (rk == nullptr) return unexpected(err);
    offsets_rk_[read_committed] = rk;
    return rk;
  }

  // Runs one Admin API request with its result on a private queue, polled
  // without blocking. librdkafka enforces the timeout (request_timeout); this
  // loop waits one more second for its answer before giving up itself.
  template <class Start>
  Result<Event, Error> admin_call(rd_kafka_admin_op_t op, rd_kafka_event_type_t want, Duration timeout,
                                  const std::string& what, Start&& start) {
    Instant deadline = rt_.now() + timeout + Duration::seconds(1);
    std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> opts(rd_kafka_AdminOptions_new(rk_, op));
    char errstr[512];
    int ms = std::clamp(to_ms(timeout), 1, kMaxAdminTimeoutMs);
    if (rd_kafka_AdminOptions_set_request_timeout(opts.get(), ms, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_AdminOptions_set_operation_timeout(opts.get(), ms, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return unexpected(Error{Errc::local_invalid_arg, scrub(what + ": " + errstr)});
    }
    Queue q(rd_kafka_queue_new(rk_));
    start(opts.get(), q.get());
    for (;;) {
      Event ev(rd_kafka_queue_poll(q.get(), 0));
      serve();
      if (ev) {
        if (rd_kafka_event_type(ev.get()) != want) continue;
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev.get());
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
          Error out = error(e, what, rk_);
          const char* detail = rd_kafka_event_error_string(ev.get());
          if (detail != nullptr && std::string(detail) != rd_kafka_err2str(e)) out.message = scrub(out.message + ": " + detail);
          return unexpected(out);
        }
        return ev;
      }
      if (rt_.now() >= deadline) return unexpected(error(RD_KAFKA_RESP_ERR__TIMED_OUT, what + ": no answer"));
      wait_a_little(deadline);
    }
  }

  Result<std::vector<std::optional<Error>>, Error> per_topic(const std::vector<std::string>& names,
                                                             const rd_kafka_topic_result_t** res, size_t cnt,
                                                             const std::string& what) {
    std::vector<std::optional<Error>> out;
    for (const auto& name : names) {
      std::optional<Error> r = error(RD_KAFKA_RESP_ERR__BAD_MSG, what + " " + name + ": no result in the answer");
      for (size_t i = 0; i < cnt; ++i) {
        if (name != rd_kafka_topic_result_name(res[i])) continue;
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
          r.reset();
        } else {
          r = error(e, what + " " + name);
          const char* detail = rd_kafka_topic_result_error_string(res[i]);
          if (detail != nullptr && std::string(detail) != rd_kafka_err2str(e)) r->message = scrub(r->message + ": " + detail);
        }
      }
      out.push_back(std::move(r));
    }
    return out;
  }

  // rd_kafka_query_watermark_offsets ignores its timeout while the partition's
  // leader is unreachable: it waits for its requests, which fail only after
  // socket.timeout.ms (measured: a mock broker set down blocked it for 60 s,
  // and with it every task of the runtime, including the one that would bring
  // the broker back). So it runs on a thread of its own while this task waits
  // on the Runtime; a query still running at the deadline is left to finish
  // (it holds copies of its arguments) and joined later.
  struct WatermarkQuery {
    std::string topic;
    int32_t partition = 0;
    int64_t lo = RD_KAFKA_OFFSET_INVALID, hi = RD_KAFKA_OFFSET_INVALID;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    std::atomic<bool> done{false};
    // Set once no task waits for the result any more (its deadline passed, or
    // the task was cancelled): only abandoned queries are reaped, so a waiting
    // task's query is never joined and freed under it by another task.
    bool abandoned = false;
    std::thread thread;
  };
  static constexpr int64_t kMaxQuerySocketTimeoutMs = 10'000;

  rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, const TopicPartition& tp, Instant deadline, int64_t* lo,
                                       int64_t* hi) {
    // Reap the abandoned queries that ended since.
    std::erase_if(queries_, [](const std::unique_ptr<WatermarkQuery>& q) {
      if (!q->abandoned || !q->done.load()) return false;
      q->thread.join();
      return true;
    });
    auto q = std::make_unique<WatermarkQuery>();
    q->topic = tp.topic;
    q->partition = tp.partition;
    WatermarkQuery* raw = q.get();
    const int ms = std::max(1, remaining_ms(deadline));
    raw->thread = std::thread([raw, rk, ms] {
      raw->err = rd_kafka_query_watermark_offsets(rk, raw->topic.c_str(), raw->partition, &raw->lo, &raw->hi, ms);
      raw->done.store(true);
    });
    // The admin owns the query (and its joinable thread) before this task
    // waits: a task cancelled while waiting (an engine crash) unwinds through
    // here, and destroying a joinable std::thread would terminate the process.
    queries_.push_back(std::move(q));
    struct Abandon {
      WatermarkQuery* q;
      bool armed = true;
      ~Abandon() {
        if (armed) q->abandoned = true;
      }
    } abandon{raw};
    while (!raw->done.load() && rt_.now() < deadline) wait_a_little(deadline);
    if (!raw->done.load()) return RD_KAFKA_RESP_ERR__TIMED_OUT;  // abandoned: joined later
    abandon.armed = false;
    raw->thread.join();
    const rd_kafka_resp_err_t err = raw->err;
    *lo = raw->lo;
    *hi = raw->hi;
    std::erase_if(queries_, [raw](const std::unique_ptr<WatermarkQuery>& p) { return p.get() == raw; });
    serve();
    return err;
  }

  Config cfg_;
  std::shared_ptr<TxnLedger> ledger_;
  rd_kafka_t* rk_ = nullptr;
  std::map<bool, rd_kafka_t*> offsets_rk_;
  std::vector<std::unique_ptr<WatermarkQuery>> queries_;  // still running after their deadline
};

}  // namespace

Result<std::unique_ptr<kafka::Producer>, Error> LiveKafka::producer(const Config& cfg) {
  if (cfg.role() != kafka::Role::producer) {
    return unexpected(Error{Errc::local_invalid_arg, "producer(): the Config was made for another role"});
  }
  auto p = std::make_unique<LiveProducer>(rt_, cfg, ledger_);
  auto r = p->start(cfg);
  if (!r.ok()) return unexpected(r.error());
  return std::unique_ptr<kafka::Producer>(std::move(p));
}

Result<std::unique_ptr<kafka::Consumer>, Error> LiveKafka::consumer(const Config& cfg) {
  if (cfg.role() != kafka::Role::consumer) {
    return unexpected(Error{Errc::local_invalid_arg, "consumer(): the Config was made for another role"});
  }
  auto c = std::make_unique<LiveConsumer>(rt_, cfg, ledger_);
  auto r = c->start(cfg);
  if (!r.ok()) return unexpected(r.error());
  return std::unique_ptr<kafka::Consumer>(std::move(c));
}

Result<std::unique_ptr<kafka::Admin>, Error> LiveKafka::admin(const Config& cfg) {
  // Any role: an admin client needs only the connection properties, and a
  // producer's or consumer's Config carries them.
  auto a = std::make_unique<LiveAdmin>(rt_, cfg, ledger_);
  auto r = a->start();
  if (!r.ok()) return unexpected(r.error());
  return std::unique_ptr<kafka::Admin>(std::move(a));
}

}  // namespace streamsim::live
