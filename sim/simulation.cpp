#include <streamsim/sim/simulation.h>

#include <streamsim/core/assert.h>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace streamsim::sim {

namespace {

// Stamps each log line with virtual time and the node name instead of the wall
// clock, so logs of a replayed seed are identical and line up with the trace.
class VirtualTimeFormatter final : public spdlog::formatter {
 public:
  explicit VirtualTimeFormatter(const Kernel* k) : k_(k) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string t = format_instant(k_->now());
    dest.push_back('[');
    dest.append(t.data(), t.data() + t.size());
    dest.append(std::string_view("] ["));
    dest.append(msg.logger_name.data(), msg.logger_name.data() + msg.logger_name.size());
    dest.append(std::string_view("] "));
    auto lvl = spdlog::level::to_string_view(msg.level);
    dest.append(lvl.data(), lvl.data() + lvl.size());
    dest.append(std::string_view(": "));
    dest.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<VirtualTimeFormatter>(k_); }

 private:
  const Kernel* k_;
};

// Storage for one node over its DiskModel, charging virtual-time latency so that
// disk calls are suspension points (other tasks run while a task waits on fsync).
class SimStorage final : public Storage {
 public:
  SimStorage(SimRuntime& rt, DiskModel& disk, const DiskLatency& lat) : rt_(rt), disk_(disk), lat_(lat) {}

  Result<void, IoErrc> write(std::string_view p, uint64_t off, std::string_view d) override {
    rt_.sleep_for(lat_.write);
    return disk_.write(p, off, d);
  }
  Result<void, IoErrc> append(std::string_view p, std::string_view d) override {
    rt_.sleep_for(lat_.write);
    return disk_.append(p, d);
  }
  Result<void, IoErrc> write_shared(std::string_view p, uint64_t off, const SharedBytes& b) override {
    rt_.sleep_for(lat_.write);
    return disk_.write_shared(p, off, b);
  }
  Result<void, IoErrc> truncate(std::string_view p, uint64_t size) override {
    rt_.sleep_for(lat_.write);
    return disk_.truncate(p, size);
  }
  Result<void, IoErrc> fsync(std::string_view p) override {
    rt_.sleep_for(lat_.fsync + rt_.fsync_stall());
    auto r = disk_.fsync(p);
    rt_.trace("fsync", r.ok() ? 1 : 0);
    return r;
  }
  Result<void, IoErrc> rename(std::string_view from, std::string_view to) override {
    rt_.sleep_for(lat_.write);
    return disk_.rename(from, to);
  }
  Result<void, IoErrc> remove(std::string_view p) override {
    rt_.sleep_for(lat_.write);
    return disk_.remove(p);
  }
  Result<void, IoErrc> sync_dir() override {
    rt_.sleep_for(lat_.fsync + rt_.fsync_stall());
    return disk_.sync_dir();
  }
  Result<std::string, IoErrc> read(std::string_view p, uint64_t off, uint64_t len) override {
    rt_.sleep_for(lat_.read);
    return disk_.read(p, off, len);
  }
  Result<std::string, IoErrc> read_all(std::string_view p) override {
    rt_.sleep_for(lat_.read);
    return disk_.read_all(p);
  }
  Result<uint64_t, IoErrc> size(std::string_view p) override { return disk_.size(p); }
  bool exists(std::string_view p) override { return disk_.exists(p); }
  std::vector<std::string> list(std::string_view prefix) override { return disk_.list(prefix); }

 private:
  SimRuntime& rt_;
  DiskModel& disk_;
  const DiskLatency& lat_;
};

}  // namespace

SimRuntime::SimRuntime(Simulation& sim, NodeId id, std::string name, uint32_t trace_node, BootFn boot)
    : sim_(sim), id_(id), name_(std::move(name)), trace_node_(trace_node), boot_(std::move(boot)),
      rng_(Rng::stream(sim.seed(), "node/" + name_)) {
  storage_ = std::make_unique<SimStorage>(*this, disk_, sim.cfg_.disk_latency);
  logger_ = std::make_shared<spdlog::logger>(name_, sim.sink_);
  logger_->set_formatter(std::make_unique<VirtualTimeFormatter>(sim.kernel_.get()));
  logger_->set_level(spdlog::level::from_str(sim.cfg_.log_level));
}

SimRuntime::~SimRuntime() = default;

Instant SimRuntime::now() const { return sim_.kernel_->now(); }

void SimRuntime::check_caller() const {
  SS_ASSERT(sim_.kernel_->in_task(), "a suspending Runtime call was made outside a task");
  SS_ASSERT(sim_.kernel_->current_group() == group_,
            "a task used another node's Runtime (nodes may only talk over the network)");
}

void SimRuntime::sleep_until(Instant t) {
  check_caller();
  // Parks until the deadline; an unrelated unpark only makes it park again.
  while (sim_.kernel_->park(t) != WakeReason::timed_out) {
  }
}

void SimRuntime::yield() {
  check_caller();
  sim_.kernel_->yield();
}

TaskHandle SimRuntime::spawn(std::string name, std::function<void()> fn) {
  SS_ASSERT(up_, "spawn on a node that is down");
  return TaskHandle(sim_.kernel_->spawn(group_, name_ + "/" + name, std::move(fn)));
}

Storage& SimRuntime::storage() { return *storage_; }

WakeReason SimRuntime::park(Instant deadline) {
  check_caller();
  return sim_.kernel_->park(deadline);
}

void SimRuntime::unpark(TaskId task) { sim_.kernel_->unpark(task); }

TaskId SimRuntime::current_task() const { return sim_.kernel_->current_task(); }

Network& SimRuntime::net() { return *sim_.net_; }

void SimRuntime::trace(std::string_view what, uint64_t a, uint64_t b) {
  sim_.tracer_.record(now(), trace_node_, TraceKind::custom, a, b, 0, what);
}

void SimRuntime::probe(std::string_view mark) {
  SS_ASSERT(!mark.empty(), "a coverage mark has a name");
  auto it = sim_.coverage_.find(mark);
  if (it == sim_.coverage_.end()) {
    // The first hit is a trace event, so a trace shows where a path was first
    // reached; later hits only count (a hot path must not flood the trace).
    sim_.coverage_.emplace(std::string(mark), 1);
    sim_.tracer_.record(now(), trace_node_, TraceKind::custom, 0, 0, 0, mark);
    return;
  }
  ++it->second;
  SS_ASSERT(it->second > 0, "coverage counts do not wrap");
}

bool SimRuntime::buggify(std::string_view point) {
  SS_ASSERT(!point.empty(), "a BUGGIFY point has a name");
  if (!sim_.cfg_.buggify) return false;
  auto it = sim_.buggify_enabled_.find(point);
  if (it == sim_.buggify_enabled_.end()) {
    // Enabled or not is a function of (seed, point name) only, so adding a new
    // point elsewhere does not reshuffle which old points a seed enables.
    Rng pick = Rng::stream(sim_.seed_, std::string("buggify/") + std::string(point));
    const bool on = pick.bernoulli(sim_.cfg_.buggify_enable_probability);
    it = sim_.buggify_enabled_.emplace(std::string(point), on).first;
  }
  if (!it->second) return false;
  const bool fire = sim_.buggify_rng_.bernoulli(sim_.cfg_.buggify_fire_probability);
  if (fire) {
    sim_.tracer_.record(now(), trace_node_, TraceKind::custom, 1, 0, 0, point);
    probe(std::string("buggify.") + std::string(point));
  }
  return fire;
}

void SimRuntime::start_process() {
  SS_ASSERT(!up_, "start of a node that is up");
  up_ = true;
  group_ = sim_.kernel_->add_group(trace_node_);
  sim_.kernel_->spawn(group_, name_ + "/main", [this] { boot_(*this); });
}

Simulation::Simulation(uint64_t seed, SimulationConfig cfg)
    : seed_(seed), cfg_(std::move(cfg)), crash_rng_(Rng::stream(seed, "sim/crash")),
      buggify_rng_(Rng::stream(seed, "sim/buggify")) {
  tracer_.set_sink(cfg_.trace_sink);
  kernel_ = std::make_unique<Kernel>(seed, tracer_, cfg_.limits);
  net_ = std::make_unique<Network>(*kernel_, seed, cfg_.latency, cfg_.inbox_capacity);
  sink_ = cfg_.log_sink ? cfg_.log_sink : std::make_shared<spdlog::sinks::stderr_sink_st>();
}

Simulation::~Simulation() {
  // Teardown events are neither hashed into a reported result nor streamed.
  tracer_.set_sink(nullptr);
  // Unwind every task while the nodes whose state they reference still exist.
  kernel_->shutdown();
  net_.reset();
  nodes_.clear();
  kernel_.reset();
}

SimRuntime& Simulation::add_node(std::string name, BootFn boot) {
  SS_ASSERT(find(name) == nullptr, "duplicate node name");
  SS_ASSERT(boot != nullptr, "node without a boot function");
  uint32_t tn = tracer_.add_node(name);
  NodeId id = net_->add_node(name, tn);
  SS_ASSERT(id == nodes_.size(), "network and simulation node ids diverged");
  nodes_.push_back(std::make_unique<SimRuntime>(*this, id, std::move(name), tn, std::move(boot)));
  nodes_.back()->start_process();
  return *nodes_.back();
}

SimRuntime* Simulation::find(std::string_view name) {
  for (auto& n : nodes_) {
    if (n->name_ == name) return n.get();
  }
  return nullptr;
}

CrashReport Simulation::crash(NodeId id, CrashMode mode) {
  SimRuntime& n = *nodes_.at(id);
  SS_ASSERT(n.up_, "crash of a node that is down");
  n.up_ = false;
  n.paused_ = false;  // cancel_group below also resumes the stopped process to unwind it
  kernel_->cancel_group(n.group_);
  net_->node_down(id);
  CrashReport rep;
  if (mode == CrashMode::wipe_disk) {
    rep.bytes_lost = n.disk_.unsynced_bytes();
    n.disk_.wipe();
  } else {
    rep = n.disk_.crash(crash_rng_, cfg_.disk_faults);
  }
  tracer_.record(now(), n.trace_node_, TraceKind::crash, rep.bytes_lost, rep.files_torn, mode == CrashMode::wipe_disk);
  n.logger_->info("crashed ({}; {} unsynced bytes lost, {} files torn)",
                  mode == CrashMode::wipe_disk ? "disk wiped" : "disk kept", rep.bytes_lost, rep.files_torn);
  return rep;
}

void Simulation::pause(NodeId id) {
  SimRuntime& n = *nodes_.at(id);
  SS_ASSERT(n.up_, "pause of a node that is down");
  SS_ASSERT(!n.paused_, "pause of a paused node");
  n.paused_ = true;
  kernel_->pause_group(n.group_);
  tracer_.record(now(), n.trace_node_, TraceKind::fault, 0, 0, 0, "pause " + n.name_);
  n.logger_->info("paused");
}

void Simulation::resume(NodeId id) {
  SimRuntime& n = *nodes_.at(id);
  if (!n.paused_) return;
  SS_ASSERT(n.up_, "a paused node is up (a crash ends the pause)");
  n.paused_ = false;
  kernel_->resume_group(n.group_);
  tracer_.record(now(), n.trace_node_, TraceKind::heal, 0, 0, 0, "pause " + n.name_);
  n.logger_->info("resumed");
}

void Simulation::set_fsync_stall(NodeId id, Duration extra) {
  SS_ASSERT(extra >= Duration::zero(), "an fsync stall adds latency");
  SimRuntime& n = *nodes_.at(id);
  n.fsync_stall_ = extra;
  if (extra > Duration::zero()) {
    tracer_.record(now(), n.trace_node_, TraceKind::fault, static_cast<uint64_t>(extra.ns()), 0, 0, "fsync stall " + n.name_);
  } else {
    tracer_.record(now(), n.trace_node_, TraceKind::heal, 0, 0, 0, "fsync stall " + n.name_);
  }
}

void Simulation::restart(NodeId id) {
  SimRuntime& n = *nodes_.at(id);
  SS_ASSERT(!n.up_, "restart of a node that is up");
  // The old incarnation's tasks must be gone before the new one starts, or two
  // copies of the process would run at once.
  SS_ASSERT(kernel_->live_tasks(n.group_) == 0, "restart before the crashed process finished unwinding");
  ++n.incarnation_;
  net_->node_up(id);
  tracer_.record(now(), n.trace_node_, TraceKind::restart, n.incarnation_);
  n.start_process();
}

}  // namespace streamsim::sim
