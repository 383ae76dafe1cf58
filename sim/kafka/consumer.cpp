// The simulated consumer: fetches from partition leaders over the simulated
// network, and joins consumer groups as librdkafka does.
//
// Group membership (subscribe) follows librdkafka's cgrp with the classic
// (eager) protocol. A background task per consumer ("consumer-group") finds
// the coordinator, joins (JoinGroup, rejoining with the id a
// member_id_required answer hands out), computes the assignment when it is
// the leader (range / roundrobin, sim/kafka/assignor.cpp), syncs, and
// heartbeats every heartbeat.interval.ms. Assignment changes reach the
// application only inside poll(), on the polling task, in order:
//   - on_assigned after SyncGroup; positions start from the committed offsets
//     (OffsetFetch), else auto.offset.reset;
//   - on_revoked when the group rebalances (heartbeat answers
//     rebalance_in_progress): the member rejoins only after poll() served the
//     revocation (librdkafka's wait-unassign), so the application can commit
//     as a member of the old generation; with enable.auto.commit the
//     positions are committed right after the callback;
//   - on_lost when the session was lost (unknown_member_id, illegal_generation,
//     no successful heartbeat for session.timeout.ms, max.poll.interval.ms
//     exceeded): nothing is committed.
// Coordinator errors (not_coordinator, coordinator_not_available, load in
// progress, no answer) make the client find the coordinator again and retry
// after retry.backoff.ms, doubling up to 1 s; every retry loop is bounded by
// its call's deadline or a count.
#include "client_common.h"
#include "read_committed.h"

#include <streamsim/core/sync.h>
#include <streamsim/kafka/partitioner.h>
#include <streamsim/sim/kafka/assignor.h>

#include <spdlog/logger.h>

#include <deque>
#include <set>

namespace streamsim::sim::kafka {

namespace {

class SimConsumer final : public k::Consumer {
 public:
  SimConsumer(SimRuntime& rt, k::Config cfg) : rt_(rt), cfg_(std::move(cfg)), meta_(rt, cfg_) {
    read_committed_ = cfg_.str("isolation.level") == "read_committed";
    reset_ = cfg_.str("auto.offset.reset");
    max_wait_ = Duration::millis(cfg_.num("fetch.wait.max.ms"));
    group_id_ = cfg_.str("group.id");
    client_id_ = cfg_.str("client.id");
    session_timeout_ = Duration::millis(cfg_.num("session.timeout.ms"));
    heartbeat_interval_ = Duration::millis(cfg_.num("heartbeat.interval.ms"));
    max_poll_interval_ = Duration::millis(cfg_.num("max.poll.interval.ms"));
    backoff_ = Duration::millis(cfg_.num("retry.backoff.ms"));
    auto_commit_ = !group_id_.empty() && cfg_.flag("enable.auto.commit");
    auto_commit_interval_ = Duration::millis(cfg_.num("auto.commit.interval.ms"));
    next_auto_commit_ = rt_.now() + auto_commit_interval_;
    last_poll_ = rt_.now();
  }
  ~SimConsumer() override {
    // The helper tasks reference this object: wait until they have unwound. If
    // this task is itself being cancelled (a crash), join throws; the helpers
    // are younger and the kernel unwinds the youngest first, so they are gone.
    stop_task(group_task_, false);
    for (TaskHandle& h : commit_tasks_) stop_task(h, false);
  }

  Result<void, k::Error> subscribe(const std::vector<std::string>& topics, k::RebalanceListener* listener) override {
    if (closed_) return unexpected(err(Errc::local_state, "subscribe: consumer closed"));
    if (group_id_.empty()) return unexpected(err(Errc::local_invalid_arg, "subscribe: group.id is not set"));
    if (topics.empty()) return unexpected(err(Errc::local_invalid_arg, "subscribe: no topics"));
    if (!cfg_.str("group.instance.id").empty())
      return unexpected(err(Errc::local_invalid_arg, "group.instance.id: static membership is not simulated"));
    auto strategies = parse_strategies(cfg_.str("partition.assignment.strategy"));
    if (!strategies.ok()) return unexpected(strategies.error());
    strategies_ = *strategies;
    std::set<std::string> uniq(topics.begin(), topics.end());
    std::vector<std::string> sorted(uniq.begin(), uniq.end());
    listener_ = listener;
    if (subscribed_ && sorted != topics_ && (join_ == Join::steady || join_ == Join::wait_assign)) {
      // A new subscription is a new member protocol: revoke and rejoin.
      post_revoke(false);
      join_ = Join::wait_revoke;
    }
    topics_ = std::move(sorted);
    subscribed_ = true;
    if (join_ == Join::none || join_ == Join::leaving) join_ = Join::join;
    last_poll_ = rt_.now();
    if (!group_task_.valid() || group_task_.done()) {
      group_task_ = rt_.spawn("consumer-group", [this] { group_main(); });
    }
    group_cv_.notify_all();
    rt_.trace("kafka/consumer_subscribe", topics_.size(), 0);
    return {};
  }
  // The revocation reaches the listener through the next poll; the member then
  // leaves the group (librdkafka). Does not suspend.
  Result<void, k::Error> unsubscribe() override {
    if (!subscribed_) return {};
    subscribed_ = false;
    if (!assigned_.empty() || !ops_.empty()) post_revoke(false);
    join_ = Join::leaving;
    group_cv_.notify_all();
    return {};
  }

  Result<void, k::Error> assign(const std::vector<k::TopicPartitionOffset>& parts) override {
    assigned_.clear();
    for (const auto& p : parts) assigned_[TopicPartition{p.tp.topic, p.tp.partition}] = State{p.offset.value, false};
    return {};
  }
  std::vector<k::TopicPartition> assignment() const override {
    std::vector<k::TopicPartition> out;
    for (const auto& [tp, s] : assigned_) out.push_back({tp.topic, tp.partition});
    return out;
  }

  Result<std::vector<k::ConsumerRecord>, k::Error> poll(Duration timeout, size_t max_records) override {
    SS_ASSERT(max_records > 0, "poll for zero records");
    if (closed_) return unexpected(err(Errc::local_state, "poll: consumer closed"));
    const Instant deadline = rt_.now() + timeout;
    std::vector<k::ConsumerRecord> out;
    for (;;) {
      // Rebalance callbacks and commit results first, on this (the polling) task.
      serve_group();
      if (closed_) return out;
      if (!meta_.image()) meta_.refresh();
      fetch_stored_positions();
      // One fetch per leader, all its assigned partitions at once.
      std::map<NodeId, std::vector<TopicPartition>> by_leader;
      // A partition whose offset could not be resolved, or that has no known
      // leader, needs fresh metadata even while other partitions fetch fine:
      // otherwise a stale leader (one that moved while this consumer was not
      // looking) stalls that partition forever.
      bool stale = false;
      for (auto& [tp, s] : assigned_) {
        if (s.paused) continue;
        if (s.position < 0 && !resolve(tp, s)) stale = true;
        if (s.position < 0) continue;
        if (auto l = meta_.leader_node(tp)) {
          by_leader[*l].push_back(tp);
        } else {
          stale = true;
        }
      }
      bool refresh = stale || (by_leader.empty() && !assigned_.empty());
      // What each partition returns, copied into `out` after every leader has
      // answered, so `out` is allocated once per poll at its final size (a
      // vector of many records regrown per partition is copied and, being
      // large, page-faulted in afresh at every growth). The records refer into
      // the responses, which `responses` keeps alive until then.
      std::vector<std::shared_ptr<const Payload>> responses;
      std::vector<std::pair<const TopicPartition*, VisibleRecords>> taken;
      size_t taken_count = out.size();
      for (auto& [leader, tps] : by_leader) {
        auto req = std::make_shared<FetchReq>();
        req->replica = -1;
        req->read_committed = read_committed_;
        Duration left = deadline - rt_.now();
        req->max_wait = std::max(Duration::zero(), std::min(max_wait_, left));
        for (auto& tp : tps) req->partitions.push_back(FetchPartition{tp, assigned_[tp].position, meta_.leader_epoch(tp), -1});
        auto r = rt_.net().call(rt_, rt_.id(), leader, kBrokerPort, req, req->max_wait + meta_.request_timeout());
        if (!r.ok()) {
          refresh = true;
          continue;
        }
        for (const FetchPartitionResult& res : payload_as<FetchResp>(*r).results) {
          auto it = assigned_.find(res.tp);
          if (it == assigned_.end()) continue;
          State& s = it->second;
          if (res.error == Errc::offset_out_of_range) {
            s.position = -1;  // auto.offset.reset applies at the next round
            if (reset_ == "error") return unexpected(err(Errc::offset_out_of_range, "offset out of range"));
            continue;
          }
          if (res.error != Errc::no_error) {
            refresh = true;
            continue;
          }
          if (taken_count >= max_records) continue;
          // Control batches and (read_committed) aborted data are skipped here (read_committed.h).
          VisibleRecords vis = visible_records(res.batches, res.aborted, read_committed_, s.position, max_records - taken_count);
          s.position = std::max(s.position, vis.next_offset);
          taken_count += vis.records.size();
          taken.emplace_back(&res.tp, std::move(vis));
        }
        responses.push_back(*r);
        if (taken_count >= max_records) break;
      }
      out.reserve(taken_count);
      for (const auto& [tp, vis] : taken) {
        const std::vector<VisibleRecord>& recs = vis.records;
        for (size_t i = 0; i < recs.size(); ++i) {
          // The log's values were written long before a consumer reads them, so
          // each copy would wait on a cache miss through the value's pointer;
          // asking for the value kPrefetchAhead records ahead overlaps those
          // misses (a hint only: it changes no result).
          if (i + kPrefetchAhead < recs.size()) {
            const Record& ahead = recs[i + kPrefetchAhead].record;
            if (ahead.value) __builtin_prefetch(ahead.value->data());
          }
          const VisibleRecord& v = recs[i];
          // The one copy of each record: from the log's shared batch into the result.
          k::ConsumerRecord& cr = out.emplace_back();
          cr.tp = {tp->topic, tp->partition};
          cr.offset = k::KafkaOffset{v.offset};
          cr.key = v.record.key;
          cr.value = v.record.value;
          for (const auto& h : v.record.headers) cr.headers.push_back({h.first, h.second});
          cr.timestamp_ms = v.record.timestamp_ms;
          cr.leader_epoch = v.leader_epoch;
        }
      }
      if (out.empty() && !pending_errors_.empty()) {
        k::Error e = std::move(pending_errors_.front());
        pending_errors_.pop_front();
        return unexpected(e);
      }
      if (!out.empty() || rt_.now() >= deadline) return out;
      if (refresh) {
        meta_.refresh();
        rt_.sleep_for(std::min(Duration::millis(20), deadline - rt_.now()));
      } else if (by_leader.empty()) {
        // Nothing to fetch (no assignment yet): wait for the group task, in
        // slices so auto-commit and the poll interval stay current.
        poll_cv_.wait_until(rt_, std::min(deadline, rt_.now() + Duration::millis(100)));
      }
    }
  }

  // Empty offsets: the positions of the assigned partitions that have one; if
  // there are none, nothing is committed (as the live adapter does).
  Result<void, k::Error> commit_sync(const std::vector<k::TopicPartitionOffset>& offsets, Duration timeout) override {
    if (auto g = check_group("commit_sync"); !g.ok()) return unexpected(g.error());
    auto list = commit_list(offsets);
    if (list.empty()) return {};
    return do_commit(list, rt_.now() + timeout);
  }
  // The result arrives later: a failure is returned by a later poll() (as the
  // live adapter reports librdkafka's offset_commit_cb), and the last result of
  // each kind is kept in async_commits_ok_ / async_commits_failed_.
  Result<void, k::Error> commit_async(const std::vector<k::TopicPartitionOffset>& offsets) override {
    if (auto g = check_group("commit_async"); !g.ok()) return unexpected(g.error());
    auto list = commit_list(offsets);
    if (list.empty()) return {};
    prune_commit_tasks();
    if (commit_tasks_.size() >= kMaxAsyncCommits)
      return unexpected(err(Errc::local_queue_full, "commit_async: too many commits in flight", true));
    commit_tasks_.push_back(rt_.spawn("consumer-commit", [this, list] {
      auto r = do_commit(list, rt_.now() + kAsyncCommitTimeout);
      if (r.ok()) {
        ++async_commits_ok_;
      } else {
        ++async_commits_failed_;
        push_error(r.error());
      }
    }));
    return {};
  }
  // Unset offsets come back as KafkaOffset::invalid(), as librdkafka's.
  Result<std::vector<k::TopicPartitionOffset>, k::Error> committed(const std::vector<k::TopicPartition>& partitions,
                                                                   Duration timeout) override {
    if (auto g = check_group("committed"); !g.ok()) return unexpected(g.error());
    std::vector<TopicPartition> tps;
    for (const auto& tp : partitions) tps.push_back(TopicPartition{tp.topic, tp.partition});
    auto r = fetch_committed(tps, rt_.now() + timeout);
    if (!r.ok()) return unexpected(r.error());
    std::vector<k::TopicPartitionOffset> out;
    for (const auto& tp : tps) {
      auto it = r->find(tp);
      const int64_t off = it == r->end() || it->second < 0 ? k::KafkaOffset::invalid().value : it->second;
      out.push_back(k::TopicPartitionOffset{{tp.topic, tp.partition}, k::KafkaOffset{off}, std::nullopt});
    }
    return out;
  }
  Result<k::KafkaOffset, k::Error> position(const k::TopicPartition& tp) const override {
    auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
    if (it == assigned_.end()) return unexpected(err(Errc::local_state, "partition not assigned"));
    return k::KafkaOffset{it->second.position < 0 ? -1001 : it->second.position};
  }
  Result<void, k::Error> seek(const k::TopicPartition& tp, k::KafkaOffset off, Duration) override {
    auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
    if (it == assigned_.end()) return unexpected(err(Errc::local_state, "partition not assigned"));
    it->second.position = off.value;
    return {};
  }
  Result<void, k::Error> pause(const std::vector<k::TopicPartition>& tps) override { return set_paused(tps, true); }
  Result<void, k::Error> resume(const std::vector<k::TopicPartition>& tps) override { return set_paused(tps, false); }
  k::GroupMetadata group_metadata() const override {
    return k::GroupMetadata{group_id_, generation_, member_id_, std::nullopt};
  }
  // Revokes through the listener, commits the positions with
  // enable.auto.commit, leaves the group, and stops the helper tasks. Suspends.
  Result<void, k::Error> close(Duration timeout) override {
    if (closed_) return {};
    const Instant deadline = rt_.now() + timeout;
    stop_task(group_task_);
    ops_.clear();
    auto parts = assignment();
    const bool member = !member_id_.empty();
    if (listener_ && subscribed_ && !parts.empty()) listener_->on_revoked(*this, parts);
    if (auto_commit_ && (generation_ >= 0 || !subscribed_)) {
      auto list = commit_list({});
      if (!list.empty()) {
        auto r = do_commit(list, deadline);
        if (!r.ok()) rt_.log().warn("consumer close: commit failed: {}", r.error().message);
      }
    }
    if (member) send_leave(deadline);
    for (TaskHandle& h : commit_tasks_) stop_task(h);
    commit_tasks_.clear();
    subscribed_ = false;
    member_id_.clear();
    generation_ = -1;
    join_ = Join::none;
    assigned_.clear();
    closed_ = true;
    rt_.trace("kafka/consumer_closed", member ? 1 : 0, 0);
    return {};
  }

 private:
  struct State {
    int64_t position = -1;  // < 0: a logical offset still to resolve
    bool paused = false;
  };

  Result<void, k::Error> set_paused(const std::vector<k::TopicPartition>& tps, bool paused) {
    for (auto& tp : tps) {
      auto it = assigned_.find(TopicPartition{tp.topic, tp.partition});
      if (it != assigned_.end()) it->second.paused = paused;
    }
    return {};
  }

  // Turns BEGINNING / END / stored / invalid into an offset, using ListOffsets
  // and auto.offset.reset for the last two. A stored offset of a consumer with
  // a group.id waits for fetch_stored_positions().
  // Returns false when the leader could not answer (no leader known, no
  // answer, or an error such as not_leader_or_follower): the caller refreshes
  // metadata. True when resolved, or when waiting for stored offsets.
  bool resolve(const TopicPartition& tp, State& s) {
    if (s.position == k::KafkaOffset::stored().value && !group_id_.empty()) return true;
    bool latest = s.position == -1;
    if (s.position != -2 && s.position != -1) latest = (reset_ == "largest" || reset_ == "latest" || reset_ == "end");
    auto leader = meta_.leader_node(tp);
    if (!leader) return false;
    auto req = std::make_shared<ListOffsetsReq>();
    req->partitions.push_back(tp);
    req->latest = latest;
    req->read_committed = read_committed_;
    auto r = rt_.net().call(rt_, rt_.id(), *leader, kBrokerPort, req, meta_.request_timeout());
    if (!r.ok()) return false;
    const auto& res = payload_as<ListOffsetsResp>(*r).results;
    SS_ASSERT(res.size() == 1, "ListOffsets answers one result per partition asked");
    if (res[0].first != Errc::no_error) return false;
    SS_ASSERT(res[0].second >= 0, "ListOffsets answered a negative offset");
    s.position = res[0].second;
    return true;
  }

  // ------------------------------------------------------ consumer group ---

  // librdkafka's join states, reduced to the eager protocol.
  enum class Join {
    none,         // not subscribed
    join,         // (re)join: JoinGroup + SyncGroup
    wait_assign,  // an assignment is queued for poll()
    steady,       // member with its assignment; heartbeating
    wait_revoke,  // a revocation is queued for poll(); rejoin once served
    wait_poll,    // left after max.poll.interval.ms; rejoin at the next poll()
    leaving,      // unsubscribed: leave once poll() served the revocation
  };
  // An assignment change for poll() to apply and report to the listener.
  struct GroupOp {
    bool assign = false;
    bool lost = false;
    std::vector<TopicPartition> partitions;
    int32_t generation = -1;
  };
  static constexpr size_t kMaxOps = 4;  // at most an assign and a revoke pending, with margin
  static constexpr size_t kMaxAsyncCommits = 64;
  // How far ahead poll() prefetches the values it copies (a few hundred nanoseconds of copying).
  static constexpr size_t kPrefetchAhead = 8;
  static constexpr size_t kMaxPendingErrors = 16;
  static constexpr int kMaxAttempts = 50;  // per commit / offset fetch call
  static constexpr Duration kAsyncCommitTimeout = Duration::seconds(10);
  static constexpr Duration kMaxBackoff = Duration::seconds(1);

  // Cancels a helper task and waits for it to unwind. If the calling task is
  // itself cancelled, join throws: close() lets that propagate; the destructor
  // (rethrow = false) must not throw, and the younger helper is gone already.
  void stop_task(TaskHandle& h, bool rethrow = true) {
    if (!h.valid() || h.done()) return;
    h.cancel();
    try {
      h.join();
    } catch (const TaskCancelled&) {
      SS_ASSERT(h.done(), "a consumer task outlived its consumer");
      if (rethrow) throw;
    }
  }

  Result<void, k::Error> check_group(const char* what) const {
    if (closed_) return unexpected(err(Errc::local_state, std::string(what) + ": consumer closed"));
    if (group_id_.empty()) return unexpected(err(Errc::local_invalid_arg, std::string(what) + ": group.id is not set"));
    return {};
  }

  static Result<std::vector<AssignorKind>, k::Error> parse_strategies(const std::string& list) {
    std::vector<AssignorKind> out;
    std::stringstream ss(list);
    std::string name;
    while (std::getline(ss, name, ',')) {
      const auto b = name.find_first_not_of(" \t");
      const auto e = name.find_last_not_of(" \t");
      name = b == std::string::npos ? "" : name.substr(b, e - b + 1);
      if (name.empty()) continue;
      if (name == "cooperative-sticky")
        return unexpected(err(Errc::local_invalid_arg,
                              "partition.assignment.strategy: cooperative-sticky is not simulated "
                              "(the classic eager protocol with range and roundrobin is)"));
      auto k = parse_assignor(name);
      if (!k) return unexpected(err(Errc::local_invalid_arg, "partition.assignment.strategy: unknown assignor '" + name + "'"));
      out.push_back(*k);
    }
    if (out.empty()) return unexpected(err(Errc::local_invalid_arg, "partition.assignment.strategy: no assignor"));
    return out;
  }

  void push_error(k::Error e) {
    if (pending_errors_.size() >= kMaxPendingErrors) pending_errors_.pop_front();
    pending_errors_.push_back(std::move(e));
    poll_cv_.notify_all();
  }

  void post(GroupOp op) {
    SS_ASSERT(ops_.size() < kMaxOps, "assignment changes pile up without poll() serving them");
    ops_.push_back(std::move(op));
    poll_cv_.notify_all();
  }
  void post_revoke(bool lost) {
    // A revocation already queued just becomes a loss if the session is lost too.
    if (!ops_.empty() && !ops_.back().assign) {
      ops_.back().lost = ops_.back().lost || lost;
      return;
    }
    post(GroupOp{false, lost, {}, generation_});
  }

  // On the polling task: applies queued assignment changes and calls the
  // listener, then starts an auto-commit when one is due. Suspends (commits).
  void serve_group() {
    last_poll_ = rt_.now();
    for (size_t served = 0; served < kMaxOps && !ops_.empty(); ++served) {
      GroupOp op = std::move(ops_.front());
      ops_.pop_front();
      if (op.assign) {
        assigned_.clear();
        for (const auto& tp : op.partitions) assigned_[tp] = State{k::KafkaOffset::stored().value, false};
        rt_.trace("kafka/consumer_assigned", static_cast<uint64_t>(op.generation), op.partitions.size());
        if (join_ == Join::wait_assign) join_ = Join::steady;
        if (listener_) listener_->on_assigned(*this, assignment());
      } else {
        auto parts = assignment();
        rt_.trace(op.lost ? "kafka/consumer_lost" : "kafka/consumer_revoked", static_cast<uint64_t>(op.generation),
                  parts.size());
        if (listener_ && !parts.empty()) {
          if (op.lost) {
            listener_->on_lost(*this, parts);
          } else {
            listener_->on_revoked(*this, parts);
          }
        }
        // librdkafka commits on unassign with enable.auto.commit, unless the assignment was lost.
        if (!op.lost && auto_commit_) {
          auto list = commit_list({});
          if (!list.empty()) {
            auto r = do_commit(list, rt_.now() + kAsyncCommitTimeout);
            if (!r.ok()) rt_.log().warn("consumer: commit on revoke failed: {}", r.error().message);
          }
        }
        assigned_.clear();
        if (join_ == Join::wait_revoke) join_ = subscribed_ ? Join::join : Join::leaving;
      }
      group_cv_.notify_all();
    }
    // Left after max.poll.interval.ms: the loss is reported above; rejoin now.
    if (join_ == Join::wait_poll && subscribed_) {
      join_ = Join::join;
      group_cv_.notify_all();
    }
    maybe_auto_commit();
  }

  void maybe_auto_commit() {
    if (!auto_commit_ || rt_.now() < next_auto_commit_) return;
    if (subscribed_ && join_ != Join::steady) return;
    next_auto_commit_ = rt_.now() + auto_commit_interval_;
    prune_commit_tasks();
    if (auto_commit_running_ || commit_tasks_.size() >= kMaxAsyncCommits) return;
    auto list = commit_list({});
    if (list.empty()) return;
    auto_commit_running_ = true;
    commit_tasks_.push_back(rt_.spawn("consumer-auto-commit", [this, list] {
      struct Done {
        bool& b;
        ~Done() { b = false; }
      } done{auto_commit_running_};
      auto r = do_commit(list, rt_.now() + kAsyncCommitTimeout);
      // Like librdkafka without an offset_commit_cb: logged, not returned.
      if (!r.ok()) rt_.log().warn("consumer: auto commit failed: {}", r.error().message);
    }));
  }

  void prune_commit_tasks() {
    std::erase_if(commit_tasks_, [](const TaskHandle& h) { return h.done(); });
  }

  // The offsets to commit: the given ones (logical offsets skipped), or the
  // current positions.
  std::vector<OffsetCommitPartition> commit_list(const std::vector<k::TopicPartitionOffset>& offsets) const {
    std::vector<OffsetCommitPartition> out;
    if (!offsets.empty()) {
      for (const auto& o : offsets) {
        if (o.offset.value >= 0) out.push_back(OffsetCommitPartition{{o.tp.topic, o.tp.partition}, o.offset.value, -1, ""});
      }
      return out;
    }
    for (const auto& [tp, s] : assigned_) {
      if (s.position >= 0) out.push_back(OffsetCommitPartition{tp, s.position, -1, ""});
    }
    return out;
  }

  Duration backoff_for(int attempt) const {
    Duration d = backoff_;
    for (int i = 0; i < attempt && d < kMaxBackoff; ++i) d = d * 2;
    return std::min(d, kMaxBackoff);
  }
  // Sleeps the attempt's backoff, but not past the deadline. Suspends.
  void back_off(int attempt, Instant deadline) {
    const Instant until = std::min(rt_.now() + backoff_for(attempt), deadline);
    if (until > rt_.now()) rt_.sleep_until(until);
  }

  static bool coordinator_error(Errc e) {
    return e == Errc::not_coordinator || e == Errc::coordinator_not_available;
  }

  bool ensure_coordinator() {
    if (coordinator_) return true;
    auto c = meta_.find_coordinator(CoordinatorType::group, group_id_);
    if (!c.ok()) return false;
    coordinator_ = *c;
    rt_.trace("kafka/consumer_coordinator", *coordinator_, 0);
    return true;
  }

  // timeout: what is left of the caller's deadline, which finding the
  // coordinator (it suspends) may already have used up: then nothing is sent.
  Result<std::shared_ptr<const Payload>, NetErrc> call_coordinator(std::shared_ptr<const Payload> req, Duration timeout) {
    SS_ASSERT(coordinator_.has_value(), "calling a coordinator before finding it");
    if (timeout <= Duration::zero()) return unexpected(NetErrc::timed_out);
    auto r = rt_.net().call(rt_, rt_.id(), *coordinator_, kBrokerPort, std::move(req), timeout);
    if (!r.ok()) coordinator_.reset();  // no answer: look it up again
    return r;
  }

  // OffsetCommit with the member's generation (or -1 outside a group), retried
  // on coordinator errors until the deadline. Suspends.
  Result<void, k::Error> do_commit(const std::vector<OffsetCommitPartition>& offsets, Instant deadline) {
    SS_ASSERT(!offsets.empty(), "committing nothing");
    for (int attempt = 0; attempt < kMaxAttempts && rt_.now() < deadline; ++attempt) {
      if (!ensure_coordinator()) {
        back_off(attempt, deadline);
        continue;
      }
      auto req = std::make_shared<OffsetCommitReq>();
      req->group_id = group_id_;
      const bool member = subscribed_ && !member_id_.empty();
      req->generation = member ? generation_ : -1;
      req->member_id = member ? member_id_ : "";
      req->offsets = offsets;
      auto r = call_coordinator(req, std::min(meta_.request_timeout(), deadline - rt_.now()));
      if (!r.ok()) {
        back_off(attempt, deadline);
        continue;
      }
      Errc e = Errc::no_error;
      for (const auto& [tp, pe] : payload_as<OffsetCommitResp>(*r).results) {
        if (pe != Errc::no_error) e = pe;
      }
      if (e == Errc::no_error) {
        rt_.trace("kafka/consumer_committed", offsets.size(), static_cast<uint64_t>(req->generation < 0 ? 0 : req->generation));
        return {};
      }
      if (coordinator_error(e)) coordinator_.reset();
      if (coordinator_error(e) || e == Errc::coordinator_load_in_progress || e == Errc::request_timed_out) {
        back_off(attempt, deadline);
        continue;
      }
      rt_.trace("kafka/consumer_commit_failed", static_cast<uint64_t>(e), static_cast<uint64_t>(req->generation + 1));
      return unexpected(err(e, std::string("commit: ") + k::to_string(e) + " (generation " +
                                   std::to_string(req->generation) + ")",
                            e == Errc::rebalance_in_progress));
    }
    return unexpected(err(Errc::local_timed_out, "commit: no answer from the group coordinator in time", true));
  }

  // OffsetFetch (require_stable with read_committed, as librdkafka), retried on
  // coordinator errors and unstable offsets until the deadline. -1: none. Suspends.
  Result<std::map<TopicPartition, int64_t>, k::Error> fetch_committed(const std::vector<TopicPartition>& tps,
                                                                       Instant deadline) {
    for (int attempt = 0; attempt < kMaxAttempts && rt_.now() < deadline; ++attempt) {
      if (!ensure_coordinator()) {
        back_off(attempt, deadline);
        continue;
      }
      auto req = std::make_shared<OffsetFetchReq>();
      req->group_id = group_id_;
      req->partitions = tps;
      req->require_stable = read_committed_;
      auto r = call_coordinator(req, std::min(meta_.request_timeout(), deadline - rt_.now()));
      if (!r.ok()) {
        back_off(attempt, deadline);
        continue;
      }
      const auto& resp = payload_as<OffsetFetchResp>(*r);
      if (resp.error != Errc::no_error) {
        if (coordinator_error(resp.error)) coordinator_.reset();
        if (coordinator_error(resp.error) || resp.error == Errc::coordinator_load_in_progress) {
          back_off(attempt, deadline);
          continue;
        }
        return unexpected(err(resp.error, std::string("committed: ") + k::to_string(resp.error)));
      }
      std::map<TopicPartition, int64_t> out;
      bool unstable = false;
      for (const auto& p : resp.partitions) {
        if (p.error == Errc::unstable_offset_commit) unstable = true;
        out[p.tp] = p.offset;
      }
      if (unstable) {
        back_off(attempt, deadline);
        continue;
      }
      return out;
    }
    return unexpected(err(Errc::local_timed_out, "committed: no answer from the group coordinator in time", true));
  }

  // Positions of freshly assigned partitions: the committed offset, else
  // invalid (auto.offset.reset in resolve()). On failure they stay "stored" and
  // the next poll round asks again; never reset while the answer is unknown.
  void fetch_stored_positions() {
    std::vector<TopicPartition> tps;
    for (auto& [tp, s] : assigned_) {
      if (s.position != k::KafkaOffset::stored().value) continue;
      if (group_id_.empty()) {
        s.position = k::KafkaOffset::invalid().value;
      } else {
        tps.push_back(tp);
      }
    }
    if (tps.empty()) return;
    auto r = fetch_committed(tps, rt_.now() + meta_.request_timeout());
    if (!r.ok()) return;
    for (const auto& tp : tps) {
      auto it = assigned_.find(tp);
      if (it == assigned_.end() || it->second.position != k::KafkaOffset::stored().value) continue;
      auto c = r->find(tp);
      it->second.position = c != r->end() && c->second >= 0 ? c->second : k::KafkaOffset::invalid().value;
    }
  }

  void send_leave(Instant deadline) {
    if (member_id_.empty() || rt_.now() >= deadline) return;
    if (!ensure_coordinator()) return;
    auto req = std::make_shared<LeaveGroupReq>();
    req->group_id = group_id_;
    req->members.push_back(LeaveGroupMember{member_id_, std::nullopt});
    (void)call_coordinator(req, std::min(meta_.request_timeout(), deadline - rt_.now()));
    rt_.trace("kafka/consumer_left", static_cast<uint64_t>(generation_ < 0 ? 0 : generation_), 0);
  }

  // The session is over: rejoin after poll() reports the loss.
  void lose(bool reset_member_id, const char* why) {
    rt_.log().info("consumer group {}: assignment lost ({})", group_id_, why);
    if (reset_member_id) member_id_.clear();
    generation_ = -1;
    if (join_ == Join::steady || join_ == Join::wait_assign || join_ == Join::wait_revoke) {
      post_revoke(true);
      join_ = Join::wait_revoke;
    }
  }

  void heartbeat() {
    const Instant now = rt_.now();
    next_heartbeat_ = now + heartbeat_interval_;
    auto session_check = [&] {
      if (rt_.now() - last_heartbeat_ok_ > session_timeout_) lose(true, "no successful heartbeat within session.timeout.ms");
    };
    if (member_id_.empty() || generation_ < 0) return;
    if (!ensure_coordinator()) return session_check();
    auto req = std::make_shared<HeartbeatReq>();
    req->group_id = group_id_;
    req->generation = generation_;
    req->member_id = member_id_;
    auto r = call_coordinator(req, std::min(session_timeout_, meta_.request_timeout()));
    if (!r.ok()) return session_check();
    const Errc e = payload_as<HeartbeatResp>(*r).error;
    switch (e) {
      case Errc::no_error:
        last_heartbeat_ok_ = rt_.now();
        break;
      case Errc::rebalance_in_progress:
        last_heartbeat_ok_ = rt_.now();
        if (join_ == Join::steady || join_ == Join::wait_assign) {
          rt_.trace("kafka/consumer_rebalance", static_cast<uint64_t>(generation_), 0);
          post_revoke(false);
          join_ = Join::wait_revoke;
        }
        break;
      case Errc::illegal_generation:
        lose(false, "illegal generation");
        break;
      case Errc::unknown_member_id:
        lose(true, "unknown member id");
        break;
      default:
        if (coordinator_error(e)) coordinator_.reset();
        session_check();
        break;
    }
  }

  // The leader's assignment of the members it was given. Suspends (metadata).
  std::vector<SyncGroupAssignment> compute_assignment(const JoinGroupResp& j) {
    std::vector<SyncGroupAssignment> out;
    auto kind = parse_assignor(j.protocol_name);
    std::vector<AssignorMember> members;
    std::set<std::string> topics;
    for (const auto& m : j.members) {
      members.push_back(AssignorMember{m.member_id, m.metadata.topics});
      topics.insert(m.metadata.topics.begin(), m.metadata.topics.end());
    }
    meta_.refresh();
    std::map<std::string, int32_t> counts;
    for (const auto& t : topics) {
      if (int32_t n = meta_.partitions(t); n > 0) counts[t] = n;
    }
    if (!kind) {
      push_error(err(Errc::inconsistent_group_protocol, "group chose assignor '" + j.protocol_name + "', unknown here"));
      for (const auto& m : members) out.push_back(SyncGroupAssignment{m.member_id, {}});
      return out;
    }
    GroupAssignment ga = assign_partitions(*kind, members, counts);
    std::set<TopicPartition> seen;
    for (auto& [id, parts] : ga) {
      for (const auto& tp : parts) SS_ASSERT(seen.insert(tp).second, "the assignor gave a partition twice");
      out.push_back(SyncGroupAssignment{id, std::move(parts)});
    }
    return out;
  }

  // One JoinGroup + SyncGroup round. On success an assignment is queued for
  // poll(); on failure the state stays `join` (after a backoff where Kafka's
  // client backs off). Suspends.
  void join_and_sync() {
    if (!ensure_coordinator()) {
      back_off(join_failures_++, Instant::never());
      return;
    }
    auto req = std::make_shared<JoinGroupReq>();
    req->group_id = group_id_;
    req->session_timeout = session_timeout_;
    req->rebalance_timeout = max_poll_interval_;
    req->member_id = member_id_;
    req->client_id = client_id_;
    for (AssignorKind k : strategies_) req->protocols.push_back(JoinGroupProtocol{assignor_name(k), {topics_, {}, ""}});
    rt_.trace("kafka/consumer_join", static_cast<uint64_t>(generation_ + 1), member_id_.empty() ? 0 : 1);
    auto r = call_coordinator(req, max_poll_interval_ + Duration::seconds(5));
    if (!r.ok()) {
      back_off(join_failures_++, Instant::never());
      return;
    }
    const auto& j = payload_as<JoinGroupResp>(*r);
    switch (j.error) {
      case Errc::no_error:
        break;
      case Errc::member_id_required:
        member_id_ = j.member_id;  // join again at once with it (KIP-394)
        return;
      case Errc::unknown_member_id:
        member_id_.clear();
        generation_ = -1;
        back_off(join_failures_++, Instant::never());
        return;
      case Errc::invalid_session_timeout:
      case Errc::inconsistent_group_protocol:
        push_error(err(j.error, std::string("join group: ") + k::to_string(j.error)));
        back_off(join_failures_++, Instant::never());
        return;
      default:
        if (coordinator_error(j.error)) coordinator_.reset();
        back_off(join_failures_++, Instant::never());
        return;
    }
    if (!subscribed_ || join_ != Join::join) return;  // unsubscribed or closed meanwhile
    member_id_ = j.member_id;
    generation_ = j.generation;
    auto sreq = std::make_shared<SyncGroupReq>();
    sreq->group_id = group_id_;
    sreq->generation = generation_;
    sreq->member_id = member_id_;
    sreq->protocol_name = j.protocol_name;
    if (j.leader == member_id_) sreq->assignments = compute_assignment(j);
    auto sr = call_coordinator(sreq, max_poll_interval_ + Duration::seconds(5));
    if (!sr.ok()) {
      back_off(join_failures_++, Instant::never());
      return;
    }
    const auto& s = payload_as<SyncGroupResp>(*sr);
    switch (s.error) {
      case Errc::no_error:
        break;
      case Errc::rebalance_in_progress:
        return;  // rejoin at once
      case Errc::unknown_member_id:
        member_id_.clear();
        generation_ = -1;
        return;
      case Errc::illegal_generation:
        generation_ = -1;
        return;
      default:
        if (coordinator_error(s.error)) coordinator_.reset();
        back_off(join_failures_++, Instant::never());
        return;
    }
    if (!subscribed_ || join_ != Join::join) return;
    join_failures_ = 0;
    last_heartbeat_ok_ = rt_.now();
    next_heartbeat_ = rt_.now() + heartbeat_interval_;
    std::vector<TopicPartition> parts(s.assignment.begin(), s.assignment.end());
    post(GroupOp{true, false, std::move(parts), generation_});
    join_ = Join::wait_assign;
  }

  // The group task: joins, heartbeats, and enforces max.poll.interval.ms. Ends
  // only by cancellation (close, unsubscribe's successor, destruction).
  void group_main() {
    for (;;) {
      const Instant now = rt_.now();
      const bool member = !member_id_.empty() && generation_ >= 0;
      if (member && (join_ == Join::steady || join_ == Join::wait_assign || join_ == Join::wait_revoke) &&
          now - last_poll_ > max_poll_interval_) {
        rt_.log().warn("consumer group {}: max.poll.interval.ms exceeded, leaving the group", group_id_);
        rt_.trace("kafka/consumer_max_poll_exceeded", static_cast<uint64_t>(generation_), 0);
        send_leave(now + meta_.request_timeout());
        lose(true, "max.poll.interval.ms exceeded");
        join_ = Join::wait_poll;
        continue;
      }
      switch (join_) {
        case Join::none:
        case Join::wait_poll:
          group_cv_.wait_until(rt_, now + Duration::seconds(1));
          break;
        case Join::join:
          join_and_sync();
          break;
        case Join::leaving:
          if (!ops_.empty()) {
            group_cv_.wait_until(rt_, now + Duration::seconds(1));
            break;
          }
          send_leave(now + meta_.request_timeout());
          member_id_.clear();
          generation_ = -1;
          join_ = Join::none;
          break;
        case Join::wait_assign:
        case Join::steady:
        case Join::wait_revoke:
          if (member && now >= next_heartbeat_) {
            heartbeat();
          } else {
            Instant until = std::min(member ? next_heartbeat_ : now + heartbeat_interval_,
                                     last_poll_ + max_poll_interval_ + Duration::millis(1));
            group_cv_.wait_until(rt_, std::max(until, now + Duration::millis(1)));
          }
          break;
      }
    }
  }

  SimRuntime& rt_;
  k::Config cfg_;
  MetadataCache meta_;
  bool read_committed_ = true;
  std::string reset_;
  Duration max_wait_;
  std::map<TopicPartition, State> assigned_;

  std::string group_id_;
  std::string client_id_;
  Duration session_timeout_;
  Duration heartbeat_interval_;
  Duration max_poll_interval_;
  Duration backoff_;
  bool auto_commit_ = false;
  Duration auto_commit_interval_;
  std::vector<AssignorKind> strategies_;
  k::RebalanceListener* listener_ = nullptr;
  std::vector<std::string> topics_;  // sorted, unique
  bool subscribed_ = false;
  bool closed_ = false;
  Join join_ = Join::none;
  std::string member_id_;
  int32_t generation_ = -1;
  std::optional<NodeId> coordinator_;
  std::deque<GroupOp> ops_;  // bounded by kMaxOps
  CondVar group_cv_;         // wakes the group task
  CondVar poll_cv_;          // wakes a poll() with nothing to fetch
  Instant last_poll_;
  Instant last_heartbeat_ok_;
  Instant next_heartbeat_;
  Instant next_auto_commit_;
  int join_failures_ = 0;
  bool auto_commit_running_ = false;
  std::deque<k::Error> pending_errors_;  // bounded by kMaxPendingErrors
  uint64_t async_commits_ok_ = 0;
  uint64_t async_commits_failed_ = 0;
  // Declared last: destroyed first (the destructor stops them before anyway).
  TaskHandle group_task_;
  std::vector<TaskHandle> commit_tasks_;  // bounded by kMaxAsyncCommits
};

}  // namespace

std::unique_ptr<k::Consumer> make_sim_consumer(SimRuntime& rt, k::Config cfg) {
  return std::make_unique<SimConsumer>(rt, std::move(cfg));
}

}  // namespace streamsim::sim::kafka
