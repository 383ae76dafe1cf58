#include <streamsim/scenarios/pipeline.h>

#include <streamsim/core/assert.h>
#include <streamsim/engine/instance.h>
#include <streamsim/engine/observer.h>
#include <streamsim/engine/registry.h>
#include <streamsim/kafka/config.h>
#include <streamsim/sim/kafka/client.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <exception>
#include <iterator>
#include <limits>
#include <set>

namespace streamsim::scenarios {

namespace k = streamsim::kafka;
namespace e = streamsim::engine;
using sim::SimRuntime;

namespace {

template <class T>
T or_default(T v, T d) {
  return v ? v : d;
}
std::string or_default(const std::string& v, const std::string& d) { return v.empty() ? d : v; }

// Event time = virtual time + this, so that out-of-order spread, lateness and
// negative clock skew never make an event time negative (a negative Kafka
// timestamp means "none").
constexpr int64_t kEventTimeBaseMs = 1'000'000'000;
constexpr const char* kSentinelPrefix = kSentinelKeyPrefix;
// Produce requests to a broker that crashed get no answer until this timeout
// (as with a host that died without closing its sockets); librdkafka's 30 s
// default would stall a short run, so the workload's producers use 5 s.
constexpr int64_t kRequestTimeoutMs = 5'000;
// Bounds of the final reader: polls per read, records per poll.
constexpr int kMaxPollsPerRead = 200;
constexpr size_t kPollRecords = 2'000;

std::optional<std::string> header_of(const k::ConsumerRecord& r, const char* name) {
  for (const auto& h : r.headers)
    if (h.key == name) return h.value;
  return std::nullopt;
}

std::optional<int64_t> parse_i64(const std::optional<std::string>& s) {
  if (!s || s->empty()) return std::nullopt;
  try {
    size_t used = 0;
    const int64_t v = std::stoll(*s, &used);
    // The late topic's watermark header carries a unit ("1234ms").
    if (used != s->size() && s->substr(used) != "ms") return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string tp_text(const std::string& topic, int32_t p) { return topic + "[" + std::to_string(p) + "]"; }

// Records what the engine reports about its watermark and late events, with
// the processing time of each call, for the watermark checker.
class Recorder final : public e::EngineObserver {
 public:
  Recorder(Runtime& rt, PipelineHistory& h, std::string name) : rt_(rt), h_(h), name_(std::move(name)) {}
  void on_watermark(const e::WatermarkAdvance& a) override {
    h_.watermarks.push_back(WatermarkReport{name_, rt_.now(), a.from.ms(), a.to.ms(), a.batch});
  }
  void on_commit(const e::WatermarkCommit& c) override {
    h_.watermark_commits.push_back(WatermarkCommit{name_, rt_.now(), c.batch, c.partition, c.watermark.ms()});
  }
  void on_batch(const e::BatchSummary& b) override {
    h_.batches.push_back(BatchReport{name_, rt_.now(), b.batch, b.records_in});
  }
  void on_late(const e::LateEvent& l) override {
    h_.late_reports.push_back(LateReport{name_, rt_.now(), e::to_string(l.source), l.event_time.ms(), l.watermark.ms()});
  }

 private:
  Runtime& rt_;
  PipelineHistory& h_;
  std::string name_;
};

}  // namespace

PipelineWorkload::PipelineWorkload(const proto::PipelineWorkload& cfg, const proto::RunConfig& run,
                                   std::string topic_prefix)
    : cfg_(cfg),
      run_(run),
      n_producers_(or_default<uint32_t>(cfg.input().producers(), 1)),
      n_instances_(or_default<uint32_t>(cfg.instances(), 1)),
      prefix_(std::move(topic_prefix)) {
  e::PipelineRegistry reg;
  e::register_builtin_pipelines(reg);
  for (const auto& p : cfg_.pipeline().params()) params_.push_back({p.key(), p.value()});
  auto built = reg.build(or_default(cfg_.pipeline().name(), "click-counts"), params_);
  SS_ASSERT(built.ok(), "the pipeline was validated by the loader");
  if (!prefix_.empty()) {
    // Live mode: the same pipeline on prefixed topics (its "source" and
    // "sink" parameters, which every registered windowed pipeline has).
    const std::string src = prefix_ + built->plan().source_topic, dst = prefix_ + built->plan().sink_topic;
    std::erase_if(params_, [](const auto& kv) { return kv.first == "source" || kv.first == "sink"; });
    params_.push_back({"source", src});
    params_.push_back({"sink", dst});
    built = reg.build(or_default(cfg_.pipeline().name(), "click-counts"), params_);
    SS_ASSERT(built.ok() && built->plan().source_topic == src && built->plan().sink_topic == dst,
              "the pipeline takes its topics from its source and sink parameters");
  }
  const e::PipelinePlan& plan = built->plan();
  SS_ASSERT(plan.window_kind && plan.aggregate && plan.watermark_delay_ms,
            "the loader admits only windowed aggregates with a watermark");
  source_ = plan.source_topic;
  sink_ = plan.sink_topic;
  late_topic_ = cfg_.engine().late_topic().empty() ? sink_ + "-late" : prefix_ + cfg_.engine().late_topic();
  dlq_topic_ = cfg_.engine().dead_letter_topic().empty() ? sink_ + "-dlq" : prefix_ + cfg_.engine().dead_letter_topic();
  app_ = prefix_ + or_default(cfg_.engine().application_id(), "app");
  // The reference evaluates this very plan (harness/checkers/eos_checker.cpp).
  // window_ms is the size, or the gap of sessions: it spaces the sentinels.
  const int64_t window_ms = *plan.window_kind == e::WindowSpec::Kind::session ? plan.session_gap_ms : plan.window_size_ms;
  history_.spec = ReferenceSpec{source_, window_ms, *plan.watermark_delay_ms, plan.allowed_lateness_ms,
                                std::make_shared<const e::PipelinePlan>(plan)};
  const auto& x = cfg_.expect();
  history_.min_input_events = or_default<uint64_t>(x.min_input_events(), 1);
  history_.min_windows = or_default<uint64_t>(x.min_windows(), 1);
  history_.min_late_events = x.min_late_events();
  history_.settle_bound =
      Duration::millis(static_cast<int64_t>(or_default<uint64_t>(x.settle_within_ms(), or_default<uint64_t>(run.liveness_ms(), 30'000))));
}

PipelineWorkload::~PipelineWorkload() {
  // The runner destroys the workload before the simulation, whose teardown
  // then unwinds the engine nodes: their guards must not touch this object.
  *alive_ = false;
}

std::vector<PipelineWorkload::TopicLayout> PipelineWorkload::topic_layout(int brokers) const {
  const auto& cl = cfg_.cluster();
  const int16_t rf = static_cast<int16_t>(std::min(3, brokers));
  // The topics the pipeline needs, with defaults; a scenario's `topics` entry
  // of the same name replaces the defaults field by field.
  std::vector<TopicLayout> out;
  for (auto [name, parts] : std::vector<std::pair<std::string, int32_t>>{
           {source_, 3}, {sink_, 3}, {late_topic_, 1}, {dlq_topic_, 1}}) {
    TopicLayout t;
    t.name = name;
    t.partitions = parts;
    t.replication = rf;
    t.min_insync_replicas = std::min<int32_t>(2, rf);
    out.push_back(t);
  }
  for (const auto& given : cl.topics()) {
    for (TopicLayout& t : out) {
      // Scenario topics are named without the live run's prefix.
      if (prefix_ + given.name() != t.name) continue;
      if (given.partitions()) t.partitions = static_cast<int32_t>(given.partitions());
      if (given.replication()) t.replication = static_cast<int16_t>(given.replication());
      if (given.min_insync_replicas()) t.min_insync_replicas = static_cast<int32_t>(given.min_insync_replicas());
    }
  }
  return out;
}

void PipelineWorkload::attach(External ext) {
  bootstrap_ = std::move(ext.bootstrap);
  brokers_ = ext.brokers;
  topics_ = std::move(ext.topics);
  on_final_read_done_ = std::move(ext.on_final_read_done);
  input_producer_overrides_ = std::move(ext.input_producer_overrides);
  for (const auto& t : topics_)
    if (t.name == source_) source_partitions_ = t.partitions;
  SS_ASSERT(source_partitions_ > static_cast<int32_t>(cfg_.input().idle_partitions()),
            "the loader keeps at least one source partition busy");
  for (uint32_t i = 0; i < n_instances_ + cfg_.spare_instances(); ++i) wanted_[i] = i < n_instances_;
}

void PipelineWorkload::setup(sim::Simulation& sim) {
  sim_ = &sim;
  const auto& cl = cfg_.cluster();
  sim::kafka::ClusterConfig cc;
  cc.brokers = static_cast<int>(or_default<uint32_t>(cl.brokers(), 3));
  cc.controllers = static_cast<int>(or_default<uint32_t>(cl.controllers(), 1));
  cc.broker_session_timeout = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cl.broker_session_timeout_ms(), 1500)));
  cc.replica_lag_time_max = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cl.replica_lag_time_max_ms(), 1000)));
  const int16_t rf = static_cast<int16_t>(std::min(3, cc.brokers));
  // The topics the pipeline needs, with defaults; a scenario's `topics` entry
  // of the same name replaces the defaults field by field.
  for (auto [name, parts] : std::vector<std::pair<std::string, int32_t>>{
           {source_, 3}, {sink_, 3}, {late_topic_, 1}, {dlq_topic_, 1}}) {
    sim::kafka::TopicState t;
    t.name = name;
    t.partitions = parts;
    t.replication = rf;
    t.min_insync_replicas = std::min<int32_t>(2, rf);
    for (const auto& given : cl.topics()) {
      if (given.name() != name) continue;
      if (given.partitions()) t.partitions = static_cast<int32_t>(given.partitions());
      if (given.replication()) t.replication = static_cast<int16_t>(given.replication());
      if (given.min_insync_replicas()) t.min_insync_replicas = static_cast<int32_t>(given.min_insync_replicas());
      t.unclean_leader_election = given.unclean_leader_election();
      t.flush_messages = static_cast<int64_t>(given.flush_messages());
    }
    if (name == source_) source_partitions_ = t.partitions;
    cc.topics.push_back(t);
  }
  SS_ASSERT(source_partitions_ > static_cast<int32_t>(cfg_.input().idle_partitions()),
            "the loader keeps at least one source partition busy");
  cluster_ = std::make_unique<sim::kafka::Cluster>(sim, cc);
  bootstrap_ = cluster_->bootstrap_servers();
  brokers_ = static_cast<int>(cluster_->broker_nodes().size());
  for (const auto& t : cc.topics) topics_.push_back(TopicLayout{t.name, t.partitions, t.replication, t.min_insync_replicas});
  on_final_read_done_ = [this] { sim_->kernel().request_stop(); };
  targets_ = cluster_->broker_nodes();
  for (sim::NodeId c : cluster_->controller_nodes()) targets_.push_back(c);
  for (uint32_t i = 0; i < n_producers_; ++i)
    sim.add_node("producer-" + std::to_string(i), [this, i](SimRuntime& rt) {
      sim::kafka::SimKafka kafka(rt);
      producer_main(rt, kafka, i);
    });
  const uint32_t spares = cfg_.spare_instances();
  for (uint32_t i = 0; i < n_instances_ + spares; ++i) {
    wanted_[i] = i < n_instances_;
    const sim::NodeId id =
        sim.add_node("engine-" + std::to_string(i), [this, i](SimRuntime& rt) { engine_node_main(rt, i); }).id();
    (i < n_instances_ ? engines_ : spares_).push_back(id);
  }
  sim.add_node("final-reader", [this](SimRuntime& rt) {
    sim::kafka::SimKafka kafka(rt);
    final_reader_main(rt, kafka);
  });
}

// ------------------------------------------------------------- producers ---

void PipelineWorkload::producer_main(Runtime& rt, k::Kafka& kafka, uint32_t index) {
  const auto& in = cfg_.input();
  rt.sleep_until(Instant::epoch() + Duration::millis(static_cast<int64_t>(or_default<uint64_t>(in.start_ms(), 1000))));
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", bootstrap_}, {"acks", "all"}, {"enable.idempotence", "true"},
      {"linger.ms", "5"}, {"request.timeout.ms", std::to_string(kRequestTimeoutMs)}};
  for (const auto& p : in.producer_config()) props.push_back({p.key(), p.value()});
  for (const auto& p : input_producer_overrides_) props.push_back(p);
  auto pc = k::Config::make(k::Role::producer, props);
  SS_ASSERT(pc.ok(), "producer_config was validated by the loader");
  auto made = kafka.producer(*pc);
  SS_ASSERT(made.ok(), "the simulated producer could not be created");
  std::unique_ptr<k::Producer> producer = std::move(*made);
  Rng& rng = rt.random();

  const uint64_t keys = or_default<uint32_t>(in.keys(), 50);
  const double zipf_s = in.zipf_exponent() > 0 ? in.zipf_exponent() : 1.0;
  const int32_t idle = static_cast<int32_t>(in.idle_partitions());
  const int64_t skew = in.clock_skew_ms() ? rng.uniform_int(-static_cast<int64_t>(in.clock_skew_ms()),
                                                            static_cast<int64_t>(in.clock_skew_ms()))
                                          : 0;
  const double rate = (in.rate() > 0 ? in.rate() : 200.0) / n_producers_;
  const Instant start = rt.now();
  const Instant stop = in.duration_ms() ? start + Duration::millis(static_cast<int64_t>(in.duration_ms())) : Instant::never();

  std::map<uint64_t, size_t> by_opaque;  // opaque -> index in history_.sends
  auto collect = [&](const std::vector<k::DeliveryReport>& reports) {
    for (const auto& d : reports) {
      auto it = by_opaque.find(d.opaque);
      SS_ASSERT(it != by_opaque.end(), "a delivery report for an unknown send");
      PipelineSend& s = history_.sends[it->second];
      if (!d.error) {
        s.acked = true;
        s.offset = d.offset.value;
        s.acked_at = rt.now();  // the throughput checker's end of the input phase
      } else {
        ++sends_failed_;
      }
      by_opaque.erase(it);
    }
  };
  auto send = [&](PipelineSend s) {
    k::ProducerRecord r;
    r.topic = source_;
    r.partition = s.partition;
    r.key = e::encode_value(e::Value(s.key));
    r.value = e::encode_value(e::Value(static_cast<int64_t>(s.id)));
    r.timestamp_ms = s.event_time_ms;
    r.opaque = history_.sends.size();
    s.producer = index;
    s.sent_at = rt.now();
    // A full queue is served by the delivery reports; bounded.
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto res = producer->produce(r);
      if (res.ok()) {
        by_opaque[r.opaque] = history_.sends.size();
        history_.sends.push_back(std::move(s));
        return true;
      }
      if (res.error().code != k::Errc::local_queue_full) break;
      collect(producer->poll(Duration::millis(10)));
    }
    ++sends_failed_;
    return false;
  };

  uint64_t n = 0;
  while (!liveness_ && rt.now() < stop) {
    bool burst = in.burst_every_ms() > 0 && in.burst_ms() > 0 && in.burst_factor() > 0 &&
                 ((rt.now() - start).ns() / 1'000'000) % static_cast<int64_t>(in.burst_every_ms()) <
                     static_cast<int64_t>(in.burst_ms());
    const double r = burst ? rate * in.burst_factor() : rate;
    const uint64_t key = in.key_distribution() == proto::ZIPF ? rng.zipf(keys, zipf_s) - 1 : rng.uniform(keys);
    PipelineSend s;
    s.id = (static_cast<uint64_t>(index) << 40) | n++;
    s.key = "k" + std::to_string(key);
    // Keys map to partitions by index, so every key stays on one partition
    // (the engine's keyed state is per input partition) and the first
    // idle_partitions partitions get nothing.
    s.partition = idle + static_cast<int32_t>(key % static_cast<uint64_t>(source_partitions_ - idle));
    int64_t ts = (rt.now() - Instant::epoch()).ns() / 1'000'000 + kEventTimeBaseMs + skew;
    if (in.out_of_order_ms()) ts -= static_cast<int64_t>(rng.uniform(in.out_of_order_ms() + 1));
    if (in.late_fraction() > 0 && rng.bernoulli(in.late_fraction()))
      ts -= static_cast<int64_t>(or_default<uint64_t>(in.lateness_ms(), 10'000));
    s.event_time_ms = ts;
    const bool dup = in.duplicate_fraction() > 0 && rng.bernoulli(in.duplicate_fraction());
    if (send(s) && dup) {
      s.duplicate = true;
      send(s);
    }
    collect(producer->poll(Duration::zero()));
    rt.sleep_for(Duration::nanos(std::max<int64_t>(1'000, static_cast<int64_t>(1e9 / std::max(r, 1e-3)))));
  }
  // Input ends: every send's outcome is known before the sentinels follow.
  (void)producer->flush(Duration::seconds(60));
  collect(producer->poll(Duration::zero()));
  ++producers_done_;
  changed_.notify_all();
  if (index != 0) return;

  // producer-0 closes the input: once every producer flushed, one sentinel
  // per source partition, far enough ahead in event time to close every data
  // window (its own window stays open), after all data of that partition.
  while (producers_done_ < n_producers_) changed_.wait(rt);
  int64_t max_ts = kEventTimeBaseMs;
  for (const auto& s : history_.sends) max_ts = std::max(max_ts, s.event_time_ms);
  const ReferenceSpec& spec = history_.spec;
  const int64_t sentinel_ts = max_ts + 2 * spec.window_ms + spec.watermark_delay_ms + spec.allowed_lateness_ms;
  for (int32_t p = 0; p < source_partitions_; ++p) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      PipelineSend s;
      s.id = (uint64_t{1} << 62) + static_cast<uint64_t>(p);
      s.key = kSentinelPrefix + std::to_string(p);
      s.partition = p;
      s.event_time_ms = sentinel_ts;
      s.sentinel = true;
      const size_t at = history_.sends.size();
      if (!send(s)) continue;
      (void)producer->flush(Duration::seconds(30));
      collect(producer->poll(Duration::zero()));
      if (history_.sends[at].acked) break;
    }
  }
  sentinels_sent_ = true;
  changed_.notify_all();
}

// --------------------------------------------------------------- engines ---

void PipelineWorkload::engine_main(Runtime& rt, k::Kafka& kafka, uint32_t index) {
  const std::string name = "engine-" + std::to_string(index) + "#" + std::to_string(++incarnations_[index]);
  history_.engine_starts.push_back(EngineStart{name, rt.now()});
  rt.sleep_for(Duration::seconds(1));  // the cluster elects its controller first
  e::PipelineRegistry reg;
  e::register_builtin_pipelines(reg);
  auto p = reg.build(or_default(cfg_.pipeline().name(), "click-counts"), params_);
  SS_ASSERT(p.ok(), "the pipeline was validated by the loader");
  const auto& es = cfg_.engine();
  Recorder recorder(rt, history_, name);  // outlives the instance below
  e::InstanceConfig ic;
  ic.application_id = app_;
  ic.bootstrap_servers = bootstrap_;
  ic.mode = cfg_.mode() == proto::AT_LEAST_ONCE ? e::DeliveryMode::at_least_once : e::DeliveryMode::exactly_once;
  ic.trigger_interval = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(es.trigger_interval_ms(), 200)));
  ic.max_records_per_batch = or_default<uint32_t>(es.max_records_per_batch(), 10'000);
  ic.kafka_timeout = Duration::millis(static_cast<int64_t>(or_default<uint64_t>(es.kafka_timeout_ms(), 5'000)));
  ic.late_topic = late_topic_;
  ic.dead_letter_topic = dlq_topic_;
  ic.changelog_replication = static_cast<int16_t>(
      or_default<uint32_t>(es.changelog_replication(), static_cast<uint32_t>(std::min(3, brokers_))));
  ic.changelog_min_insync = std::min<int32_t>(2, ic.changelog_replication);
  ic.consumer_properties = {{"session.timeout.ms", std::to_string(or_default<uint64_t>(es.session_timeout_ms(), 6'000))},
                            {"heartbeat.interval.ms", std::to_string(or_default<uint64_t>(es.heartbeat_interval_ms(), 500))}};
  ic.producer_properties = {{"transaction.timeout.ms", std::to_string(or_default<uint64_t>(es.transaction_timeout_ms(), 30'000))},
                            {"request.timeout.ms", std::to_string(kRequestTimeoutMs)}};
  ic.TEST_pause_before_commit = Duration::millis(static_cast<int64_t>(es.pause_before_commit_ms()));
  ic.engine.observer = &recorder;
  ic.engine.TEST_watermark_skew_ms = es.watermark_skew_ms();
  auto inst = e::EngineInstance::create(rt, kafka, *p, ic);
  if (!inst.ok()) {
    // The loader checks what create() checks; a refusal here is a workload bug.
    SS_PANIC(("engine instance refused its configuration: " + inst.error().format()).c_str());
  }
  // Registered while this incarnation runs. A crash unwinds the guard with
  // TaskCancelled in flight: that is an engine crash, counted, and noted when
  // it fell between a batch's produce and its commit.
  struct Live {
    PipelineWorkload& w;
    uint32_t i;
    e::EngineInstance* inst;
    std::shared_ptr<bool> alive;
    ~Live() {
      if (!*alive) return;  // the simulation's teardown, after the workload ended
      if (std::uncaught_exceptions() > 0) {
        ++w.history_.engine_crashes;
        if (inst->committing()) ++w.history_.engine_crashes_in_txn;
      }
      w.history_.engine_fenced += inst->stats().fenced;
      w.live_.erase(i);
    }
  } guard{*this, index, inst->get(), alive_};
  live_[index] = inst->get();
  if (!wanted_[index]) (*inst)->request_stop();  // scaled in while it was starting
  auto r = (*inst)->run();
  if (!r.ok()) history_.engine_errors.push_back(name + ": " + r.error().format());
}

// ---------------------------------------------------------- final reader ---

void PipelineWorkload::final_reader_main(Runtime& rt, k::Kafka& kafka) {
  while (!(liveness_ && sentinels_sent_)) changed_.wait(rt);
  const Instant deadline = liveness_start_ + history_.settle_bound;
  const std::string bootstrap = bootstrap_;
  auto acfg = k::Config::make(k::Role::admin, {{"bootstrap.servers", bootstrap}});
  auto rcfg = k::Config::make(k::Role::consumer, {{"bootstrap.servers", bootstrap}, {"isolation.level", "read_committed"}});
  // A member of the engines' group that never joins: it only fetches the
  // group's committed offsets.
  auto gcfg = k::Config::make(k::Role::consumer, {{"bootstrap.servers", bootstrap}, {"group.id", app_},
                                                  {"enable.auto.commit", "false"}});
  SS_ASSERT(acfg.ok() && rcfg.ok() && gcfg.ok(), "the final reader's configurations are valid");
  auto admin = std::move(*kafka.admin(*acfg));
  auto group = std::move(*kafka.consumer(*gcfg));

  struct Reader {
    std::string topic;
    int32_t partitions = 0;
    std::unique_ptr<k::Consumer> consumer;
    std::map<int32_t, int64_t> next;  // next offset to read
  };
  const int32_t sink_parts = [&] {
    for (const auto& t : topics_)
      if (t.name == sink_) return t.partitions;
    return 0;
  }();
  const int32_t late_parts = [&] {
    for (const auto& t : topics_)
      if (t.name == late_topic_) return t.partitions;
    return 0;
  }();
  std::vector<Reader> readers;
  for (auto [topic, parts] : std::vector<std::pair<std::string, int32_t>>{
           {source_, source_partitions_}, {sink_, sink_parts}, {late_topic_, late_parts}}) {
    Reader r;
    r.topic = topic;
    r.partitions = parts;
    r.consumer = std::move(*kafka.consumer(*rcfg));
    std::vector<k::TopicPartitionOffset> assign;
    for (int32_t p = 0; p < parts; ++p) {
      assign.push_back({{topic, p}, k::KafkaOffset::beginning(), std::nullopt});
      r.next[p] = 0;
    }
    (void)r.consumer->assign(assign);
    readers.push_back(std::move(r));
  }

  std::set<std::pair<int32_t, int64_t>> seen_input;
  auto absorb = [&](Reader& rd, const k::ConsumerRecord& r) {
    const int32_t p = r.tp.partition;
    if (r.offset.value < rd.next[p]) return;  // read again after a retry
    rd.next[p] = r.offset.value + 1;
    const std::string where = tp_text(rd.topic, p) + "@" + std::to_string(r.offset.value);
    if (rd.topic == source_) {
      auto key = r.key ? e::decode_value(*r.key) : std::nullopt;
      auto value = r.value ? e::decode_value(*r.value) : std::nullopt;
      if (!key || !key->is_string() || !value || !value->is_int()) {
        history_.malformed.push_back("input " + where);
        return;
      }
      const bool sentinel = key->as_string().rfind(kSentinelPrefix, 0) == 0;
      history_.input.push_back(InputEvent{p, r.offset.value, key->as_string(), r.timestamp_ms,
                                          static_cast<uint64_t>(value->as_int()), sentinel});
    } else if (rd.topic == sink_) {
      auto key = r.key ? e::decode_value(*r.key) : std::nullopt;
      auto value = r.value ? e::decode_value(*r.value) : std::nullopt;
      auto start = parse_i64(header_of(r, e::headers::kWindowStart));
      auto end = parse_i64(header_of(r, e::headers::kWindowEnd));
      // The aggregate is an int64 (count, sum, min, max) or a double (avg).
      if (!key || !key->is_string() || !value || !value->is_numeric() || !start || !end) {
        history_.malformed.push_back("output " + where);
        return;
      }
      history_.output.push_back(WindowResult{p, r.offset.value, key->as_string(), *start, *end, *value,
                                             header_of(r, e::headers::kBatch).value_or("?"),
                                             header_of(r, e::headers::kTask).value_or("?")});
    } else {
      LateResult l;
      l.partition = p;
      l.offset = r.offset.value;
      l.source = header_of(r, e::headers::kSource).value_or("?");
      l.event_time_ms = parse_i64(header_of(r, e::headers::kEventTime)).value_or(r.timestamp_ms);
      auto wm = parse_i64(header_of(r, e::headers::kWatermark));
      l.watermark_known = wm.has_value();
      l.watermark_ms = wm.value_or(0);
      history_.late.push_back(std::move(l));
    }
  };

  // Ends of a topic's partitions: committed (last stable offset) or not (high watermark).
  auto ends = [&](const std::string& topic, int32_t parts, bool committed) -> std::optional<std::map<int32_t, int64_t>> {
    std::vector<k::TopicPartition> tps;
    for (int32_t p = 0; p < parts; ++p) tps.push_back({topic, p});
    auto r = admin->list_offsets(tps, k::OffsetSpec::latest, committed, Duration::seconds(2));
    if (!r.ok()) return std::nullopt;
    std::map<int32_t, int64_t> out;
    for (const auto& o : *r) {
      if (o.error || o.offset.is_logical()) return std::nullopt;
      out[o.tp.partition] = o.offset.value;
    }
    return out;
  };

  const int32_t changelog_parts = source_partitions_;
  for (int round = 0;; ++round) {
    std::string stuck;
    bool read_all = true;
    // 1. Read every topic to its last stable offset.
    std::map<std::string, std::map<int32_t, int64_t>> read_to;  // the ends step 1 read to
    for (Reader& rd : readers) {
      auto lso = ends(rd.topic, rd.partitions, true);
      if (!lso) {
        read_all = false;
        stuck = "could not list the offsets of " + rd.topic;
        continue;
      }
      read_to[rd.topic] = *lso;
      // The consumer's position, not the last record read, says how far a
      // partition was read: transaction markers take offsets too.
      auto behind = [&] {
        for (const auto& [p, end] : *lso) {
          auto pos = rd.consumer->position({rd.topic, p});
          const int64_t at = pos.ok() && !pos->is_logical() ? std::max(pos->value, rd.next[p]) : rd.next[p];
          if (at < end) return true;
        }
        return false;
      };
      for (int i = 0; i < kMaxPollsPerRead && behind() && rt.now() < deadline; ++i) {
        auto got = rd.consumer->poll(Duration::millis(100), kPollRecords);
        if (!got.ok()) continue;
        for (const auto& r : *got) absorb(rd, r);
      }
      if (behind()) {
        read_all = false;
        stuck = "the final read of " + rd.topic + " did not reach its last stable offset";
      }
    }
    history_.final_read_done = read_all;
    // 2. Lag: the engines' group committed every input offset.
    if (stuck.empty()) {
      auto src_end = ends(source_, source_partitions_, true);
      std::vector<k::TopicPartition> tps;
      for (int32_t p = 0; p < source_partitions_; ++p) tps.push_back({source_, p});
      auto committed = group->committed(tps, Duration::seconds(2));
      if (!src_end || !committed.ok()) {
        stuck = "could not read the group's committed offsets";
      } else {
        for (const auto& c : *committed) {
          const int64_t end = src_end->at(c.tp.partition);
          const int64_t at = c.offset.is_logical() ? 0 : c.offset.value;
          if (at < end) {
            stuck = "consumer lag: group '" + app_ + "' committed " + std::to_string(at) + " of " +
                    tp_text(source_, c.tp.partition) + ", which ends at " + std::to_string(end);
            break;
          }
        }
      }
    }
    // 3. Every committed input event is in an emitted window or late.
    if (stuck.empty()) {
      // Some emitted window of the event's key covers its event time: that
      // holds for tumbling, sliding (an event may be counted in only its
      // open windows) and session windows alike.
      std::map<std::string, std::set<std::pair<int64_t, int64_t>>> windows;  // key -> (start, end)
      for (const auto& w : history_.output) windows[w.key].insert({w.start_ms, w.end_ms});
      std::set<std::string> late;
      for (const auto& l : history_.late) late.insert(l.source);
      for (const auto& ev : history_.input) {
        if (ev.sentinel) continue;
        // A key's windows end in the order they start (one size, or sessions,
        // which never overlap), so the last one starting at or before t is the
        // one to look at.
        bool covered = false;
        if (auto k = windows.find(ev.key); k != windows.end()) {
          auto it = k->second.upper_bound({ev.event_time_ms, std::numeric_limits<int64_t>::max()});
          covered = it != k->second.begin() && ev.event_time_ms < std::prev(it)->second;
        }
        if (covered) continue;
        if (late.count(tp_text(source_, ev.partition) + "@" + std::to_string(ev.offset))) continue;
        stuck = "no window of key " + ev.key + " covering event time " + std::to_string(ev.event_time_ms) +
                " (input " + tp_text(source_, ev.partition) + "@" + std::to_string(ev.offset) + ") emitted";
        break;
      }
    }
    // 4. No transaction left open on what the engines write.
    history_.open_transactions.clear();
    for (auto [topic, parts] : std::vector<std::pair<std::string, int32_t>>{
             {sink_, sink_parts}, {late_topic_, late_parts}, {e::changelog_topic(app_), changelog_parts}}) {
      auto lso = ends(topic, parts, true);
      auto hw = ends(topic, parts, false);
      if (!lso || !hw) continue;
      for (const auto& [p, end] : *hw)
        if (lso->count(p) && lso->at(p) < end)
          history_.open_transactions.push_back(tp_text(topic, p) + ": last stable offset " +
                                               std::to_string(lso->at(p)) + " < high watermark " +
                                               std::to_string(end));
    }
    if (stuck.empty() && !history_.open_transactions.empty())
      stuck = "open transaction on " + history_.open_transactions.front();
    // 5. Nothing was committed while this round looked: an engine transaction
    // that committed between step 1 and step 2 made the group's offsets whole,
    // but its output (late records, say) lies past what step 1 read to.
    if (stuck.empty()) {
      for (Reader& rd : readers) {
        auto lso = ends(rd.topic, rd.partitions, true);
        if (!lso || *lso != read_to[rd.topic]) {
          stuck = "the last stable offsets of " + rd.topic + " moved during the final read";
          break;
        }
      }
    }
    if (stuck.empty()) {
      history_.settled = true;
      history_.stuck.clear();
      history_.settle_time = rt.now() - liveness_start_;
      break;
    }
    history_.stuck = stuck;
    if (rt.now() >= deadline) break;
    rt.sleep_for(Duration::millis(250));
  }
  on_final_read_done_();
}

// --------------------------------------------------------------- scaling ---

void PipelineWorkload::engine_node_main(SimRuntime& rt, uint32_t index) {
  for (;;) {
    while (!wanted_[index]) changed_.wait(rt);
    sim::kafka::SimKafka kafka(rt);
    engine_main(rt, kafka, index);
    // An instance that stopped on request (scaled in) leaves the node idle
    // until it is wanted again; one that stopped on its own (an error, which
    // engine_main recorded) is not restarted.
    if (wanted_[index]) return;
    ++history_.engine_stops;
  }
}

std::optional<uint32_t> PipelineWorkload::engine_index(sim::NodeId node) const {
  for (size_t i = 0; i < engines_.size(); ++i)
    if (engines_[i] == node) return static_cast<uint32_t>(i);
  for (size_t i = 0; i < spares_.size(); ++i)
    if (spares_[i] == node) return static_cast<uint32_t>(engines_.size() + i);
  return std::nullopt;
}

bool PipelineWorkload::engine_active(sim::NodeId engine) const {
  auto i = engine_index(engine);
  return i && wanted_.at(*i);
}

bool PipelineWorkload::scale_out(sim::NodeId engine) {
  auto i = engine_index(engine);
  SS_ASSERT(i.has_value(), "scale_out of a node that is no engine");
  if (wanted_[*i]) return false;
  wanted_[*i] = true;
  changed_.notify_all();
  return true;
}

bool PipelineWorkload::scale_in(sim::NodeId engine) {
  auto i = engine_index(engine);
  SS_ASSERT(i.has_value(), "scale_in of a node that is no engine");
  if (!wanted_[*i]) return false;
  wanted_[*i] = false;
  // The instance, if one runs now, stops at its next batch boundary; one that
  // is still starting stops as soon as it registers (engine_main).
  if (auto it = live_.find(*i); it != live_.end()) it->second->request_stop();
  return true;
}

std::vector<std::string> PipelineWorkload::engine_transactional_ids(sim::NodeId engine) const {
  std::vector<int32_t> parts;
  if (auto i = engine_index(engine)) {
    if (auto it = live_.find(*i); it != live_.end()) parts = it->second->partitions();
  }
  if (parts.empty()) {
    for (int32_t p = 0; p < source_partitions_; ++p) parts.push_back(p);
  }
  std::vector<std::string> ids;
  for (int32_t p : parts) ids.push_back(e::transactional_id(app_, source_, p));
  return ids;
}

uint64_t PipelineWorkload::engine_fenced() const {
  uint64_t n = history_.engine_fenced;  // instances that ended
  for (const auto& [i, inst] : live_) n += inst->stats().fenced;
  return n;
}

Duration PipelineWorkload::engine_session_timeout() const {
  return Duration::millis(static_cast<int64_t>(or_default<uint64_t>(cfg_.engine().session_timeout_ms(), 6'000)));
}

void PipelineWorkload::begin_liveness() { begin_liveness_at(sim_->now()); }

void PipelineWorkload::begin_liveness_at(Instant now) {
  liveness_ = true;
  liveness_start_ = now;
  changed_.notify_all();
}

std::vector<std::pair<std::string, double>> PipelineWorkload::metrics() const {
  uint64_t acked = 0, dups = 0;
  for (const auto& s : history_.sends) {
    acked += s.acked;
    dups += s.duplicate;
  }
  return {{"sends", static_cast<double>(history_.sends.size())},
          {"sends_acked", static_cast<double>(acked)},
          {"sends_failed", static_cast<double>(sends_failed_)},
          {"duplicate_sends", static_cast<double>(dups)},
          {"input_events", static_cast<double>(history_.input.size())},
          {"output_windows", static_cast<double>(history_.output.size())},
          {"late_events", static_cast<double>(history_.late.size())},
          {"engine_crashes", static_cast<double>(history_.engine_crashes)},
          {"engine_crashes_in_txn", static_cast<double>(history_.engine_crashes_in_txn)},
          {"engine_fenced", static_cast<double>(engine_fenced())},
          {"engine_stops", static_cast<double>(history_.engine_stops)},
          {"watermark_advances", static_cast<double>(history_.watermarks.size())},
          {"settle_ms", static_cast<double>(history_.settle_time.ns() / 1'000'000)}};
}

}  // namespace streamsim::scenarios
