#include <streamsim/sim/network.h>

#include <streamsim/core/assert.h>

#include <algorithm>
#include <cmath>

namespace streamsim::sim {

Duration LatencyModel::sample(Rng& rng) const {
  double ns = 0;
  double m = static_cast<double>(median.ns());
  switch (kind) {
    case Kind::constant: ns = m; break;
    case Kind::uniform: ns = rng.uniform_real(static_cast<double>(min.ns()), 2 * m - static_cast<double>(min.ns())); break;
    case Kind::exponential: ns = rng.exponential(std::max(m, 1.0)); break;
    case Kind::lognormal: ns = rng.lognormal(std::log(std::max(m, 1.0)), sigma); break;
  }
  int64_t v = static_cast<int64_t>(ns);
  v = std::clamp(v, min.ns(), std::max(min.ns(), max.ns()));
  return Duration::nanos(v);
}

const char* to_string(NetErrc e) {
  switch (e) {
    case NetErrc::timed_out: return "timed_out";
    case NetErrc::connection_reset: return "connection_reset";
    case NetErrc::node_down: return "node_down";
    case NetErrc::closed: return "closed";
  }
  return "unknown";
}

bool Inbox::push(Request r) {
  if (closed_ || q_.size() >= capacity_) return false;
  q_.push_back(std::move(r));
  waiters_.notify_one();
  return true;
}

void Inbox::close() {
  closed_ = true;
  q_.clear();
  waiters_.notify_all();
}

Result<Request, NetErrc> Inbox::recv(Runtime& rt, Instant deadline) {
  while (q_.empty()) {
    if (closed_) return unexpected(NetErrc::closed);
    if (waiters_.wait(rt, deadline) == WakeReason::timed_out && q_.empty()) {
      return unexpected(closed_ ? NetErrc::closed : NetErrc::timed_out);
    }
  }
  Request r = std::move(q_.front());
  q_.pop_front();
  return r;
}

Network::Network(Kernel& kernel, uint64_t seed, LatencyModel model, size_t inbox_capacity)
    : kernel_(kernel), tracer_(kernel.tracer()), rng_(Rng::stream(seed, "net")), model_(model),
      inbox_capacity_(inbox_capacity) {
  SS_ASSERT(inbox_capacity > 0, "inbox capacity must be positive");
  SS_ASSERT(model.min <= model.max, "latency model: min above max");
}

Network::~Network() = default;

NodeId Network::add_node(std::string name, uint32_t trace_node) {
  NodeState st;
  st.name = std::move(name);
  st.trace_node = trace_node;
  nodes_.push_back(std::move(st));
  return static_cast<NodeId>(nodes_.size() - 1);
}

Inbox& Network::listen(NodeId node, uint32_t port) {
  NodeState& n = nodes_.at(node);
  SS_ASSERT(n.up, "listen on a node that is down");
  auto& slot = n.inboxes[port];
  if (!slot) slot = std::make_unique<Inbox>(inbox_capacity_);
  return *slot;
}

Network::Conn& Network::conn(NodeId a, NodeId b) { return conns_[{std::min(a, b), std::max(a, b)}]; }

void Network::drop(uint64_t msg_id, NodeId at, DropReason why) {
  ++stats_.dropped;
  tracer_.record(kernel_.now(), nodes_[at].trace_node, TraceKind::drop, msg_id, static_cast<uint64_t>(why));
}

void Network::transmit(NodeId from, NodeId to, bool is_reply, Request req) {
  SS_ASSERT(from < nodes_.size() && to < nodes_.size(), "send between unknown nodes");
  uint64_t id = next_msg_++;
  ++stats_.sent;
  const Instant now = kernel_.now();
  if (!nodes_[from].up) return drop(id, from, DropReason::node_down);
  if (blocked(from, to)) return drop(id, from, DropReason::partition);
  Conn& c = conn(from, to);
  if (loss_ > 0 && rng_.bernoulli(loss_)) {
    drop(id, from, DropReason::loss);
    reset_conn(from, to);
    return;
  }
  Duration lat = model_.sample(rng_) * std::max(nodes_[from].slow_factor, nodes_[to].slow_factor) + spike_;
  Instant at = now + lat;
  at = std::max({at, nodes_[from].clogged_until, nodes_[to].clogged_until});
  Instant& last = c.last_delivery[from < to ? 0 : 1];
  at = std::max(at, last);  // FIFO per direction
  last = at;

  uint32_t slot;
  if (!free_inflight_.empty()) {
    slot = free_inflight_.back();
    free_inflight_.pop_back();
  } else {
    slot = static_cast<uint32_t>(inflight_.size());
    inflight_.emplace_back();
  }
  InFlight& f = inflight_[slot];
  f.msg_id = id;
  f.from = from;
  f.to = to;
  f.conn_incarnation = c.incarnation;
  f.to_incarnation = nodes_[to].incarnation;
  f.is_reply = is_reply;
  f.req = std::move(req);
  f.used = true;
  tracer_.record(now, nodes_[from].trace_node, TraceKind::send, id, to, static_cast<uint64_t>(at.ns()));
  kernel_.schedule_timer(at, this, slot);
}

void Network::on_timer(uint64_t arg) {
  SS_ASSERT(arg < inflight_.size() && inflight_[arg].used, "delivery of an unknown message");
  InFlight f = std::move(inflight_[arg]);
  inflight_[arg].used = false;
  inflight_[arg].req.body.reset();
  free_inflight_.push_back(static_cast<uint32_t>(arg));

  NodeState& dst = nodes_[f.to];
  if (!dst.up || dst.incarnation != f.to_incarnation) {
    drop(f.msg_id, f.to, DropReason::node_down);
    // A request reaching a node whose process is down is refused (the host
    // answers a TCP connect with RST), so the caller learns at once rather than
    // after its timeout, unless a partition also stops the refusal coming back.
    if (!f.is_reply && !blocked(f.to, f.from)) refuse(f.req.call_id);
    return;
  }
  if (conn(f.from, f.to).incarnation != f.conn_incarnation) return drop(f.msg_id, f.to, DropReason::reset);
  if (blocked(f.from, f.to)) return drop(f.msg_id, f.to, DropReason::partition);

  if (f.is_reply) {
    auto it = pending_.find(f.req.call_id);
    if (it == pending_.end()) return drop(f.msg_id, f.to, DropReason::reset);  // caller gave up
    PendingCall* pc = it->second;
    pc->done = true;
    pc->reply = std::move(f.req.body);
    pending_.erase(it);
    ++stats_.delivered;
    tracer_.record(kernel_.now(), dst.trace_node, TraceKind::deliver, f.msg_id, f.from);
    kernel_.unpark(pc->task);
    return;
  }
  auto it = dst.inboxes.find(f.req.port);
  // No listener: a refused connection, as above.
  if (it == dst.inboxes.end()) {
    drop(f.msg_id, f.to, DropReason::node_down);
    if (!blocked(f.to, f.from)) refuse(f.req.call_id);
    return;
  }
  if (!it->second->push(std::move(f.req))) return drop(f.msg_id, f.to, DropReason::inbox_full);
  ++stats_.delivered;
  tracer_.record(kernel_.now(), dst.trace_node, TraceKind::deliver, f.msg_id, f.from);
}

void Network::send(NodeId from, NodeId to, uint32_t port, std::shared_ptr<const Payload> body) {
  transmit(from, to, false, Request{from, to, port, 0, std::move(body)});
}

Result<std::shared_ptr<const Payload>, NetErrc> Network::call(Runtime& rt, NodeId from, NodeId to, uint32_t port,
                                                              std::shared_ptr<const Payload> body,
                                                              Duration timeout) {
  SS_ASSERT(timeout > Duration::zero(), "call timeout must be positive");
  if (!nodes_.at(from).up) return unexpected(NetErrc::node_down);
  ++stats_.calls;
  uint64_t id = next_call_++;
  PendingCall pc{from, to, rt.current_task(), false, NetErrc::timed_out, nullptr};
  pending_[id] = &pc;
  // Unregisters the call however the wait ends (reply, timeout, cancellation).
  struct Guard {
    Network& net;
    uint64_t id;
    ~Guard() { net.pending_.erase(id); }
  } guard{*this, id};
  transmit(from, to, false, Request{from, to, port, id, std::move(body)});
  const Instant deadline = rt.now() + timeout;
  while (!pc.done) {
    if (rt.park(deadline) == WakeReason::timed_out && !pc.done) {
      ++stats_.call_timeouts;
      return unexpected(NetErrc::timed_out);
    }
  }
  if (pc.reply == nullptr) return unexpected(pc.error);
  return std::move(pc.reply);
}

void Network::reply(const Request& req, std::shared_ptr<const Payload> body) {
  if (req.call_id == 0) return;
  transmit(req.to, req.from, true, Request{req.to, req.from, req.port, req.call_id, std::move(body)});
}

void Network::fail_calls(NodeId a, NodeId b, NetErrc e) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    PendingCall* pc = it->second;
    bool match = (pc->from == a && pc->to == b) || (pc->from == b && pc->to == a);
    if (!match) { ++it; continue; }
    pc->done = true;
    pc->error = e;
    pc->reply = nullptr;
    kernel_.unpark(pc->task);
    it = pending_.erase(it);
  }
}

void Network::refuse(uint64_t call_id) {
  auto it = pending_.find(call_id);
  if (it == pending_.end()) return;  // a one-way send, or the caller gave up
  PendingCall* pc = it->second;
  SS_ASSERT(!pc->done, "refusing a call that already finished");
  pc->done = true;
  pc->error = NetErrc::connection_reset;
  pc->reply = nullptr;
  kernel_.unpark(pc->task);
  pending_.erase(it);
}

void Network::reset_conn(NodeId a, NodeId b) {
  Conn& c = conn(a, b);
  ++c.incarnation;
  ++stats_.resets;
  tracer_.record(kernel_.now(), nodes_[a].trace_node, TraceKind::reset, b, c.incarnation);
  fail_calls(a, b, NetErrc::connection_reset);
}

void Network::fault(std::string text) { tracer_.record(kernel_.now(), 0, TraceKind::fault, 0, 0, 0, text); }

void Network::block(NodeId from, NodeId to, int delta) {
  SS_ASSERT(from != to, "partition of a node from itself");
  SS_ASSERT(from < nodes_.size() && to < nodes_.size(), "partition of an unknown node");
  int& n = blocked_[{from, to}];
  n += delta;
  SS_ASSERT(n >= 0, "partition healed more often than it was made");
  if (n == 0) blocked_.erase({from, to});
}

void Network::partition(NodeId from, NodeId to, bool two_way) {
  block(from, to, +1);
  if (two_way) block(to, from, +1);
  fault("partition " + nodes_[from].name + (two_way ? " <-> " : " -> ") + nodes_[to].name);
}

void Network::unpartition(NodeId from, NodeId to, bool two_way) {
  block(from, to, -1);
  if (two_way) block(to, from, -1);
  tracer_.record(kernel_.now(), 0, TraceKind::heal, 0, 0, 0,
                 "partition " + nodes_[from].name + (two_way ? " <-> " : " -> ") + nodes_[to].name);
}

void Network::isolate(NodeId n) {
  for (NodeId o = 0; o < nodes_.size(); ++o) {
    if (o == n) continue;
    block(n, o, +1);
    block(o, n, +1);
  }
  fault("isolate " + nodes_[n].name);
}

void Network::unisolate(NodeId n) {
  for (NodeId o = 0; o < nodes_.size(); ++o) {
    if (o == n) continue;
    block(n, o, -1);
    block(o, n, -1);
  }
  tracer_.record(kernel_.now(), 0, TraceKind::heal, 0, 0, 0, "isolate " + nodes_[n].name);
}

void Network::set_loss(double probability) {
  SS_ASSERT(probability >= 0 && probability <= 1, "loss probability out of [0,1]");
  loss_ = probability;
  fault("loss p=" + std::to_string(probability));
}

void Network::set_latency_spike(Duration extra) {
  SS_ASSERT(extra >= Duration::zero(), "negative latency spike");
  spike_ = extra;
  fault("latency spike +" + format_duration(extra));
}

void Network::clog(NodeId n, Instant until) {
  nodes_.at(n).clogged_until = std::max(nodes_[n].clogged_until, until);
  fault("clog " + nodes_[n].name + " until " + format_instant(until));
}

void Network::set_slow(NodeId n, int factor) {
  SS_ASSERT(factor >= 1, "slow factor must be >= 1");
  nodes_.at(n).slow_factor = factor;
  fault("slow " + nodes_[n].name + " x" + std::to_string(factor));
}

void Network::heal_all() {
  blocked_.clear();
  loss_ = 0;
  spike_ = Duration::zero();
  // Messages already held by a clog keep their delivery times; new ones flow.
  for (auto& n : nodes_) {
    n.clogged_until = Instant::epoch();
    n.slow_factor = 1;
  }
  tracer_.record(kernel_.now(), 0, TraceKind::heal, 0, 0, 0, "network");
}

void Network::node_down(NodeId n) {
  NodeState& st = nodes_.at(n);
  SS_ASSERT(st.up, "node_down of a node that is already down");
  st.up = false;
  ++st.incarnation;
  for (auto& [port, inbox] : st.inboxes) inbox->close();
  st.inboxes.clear();
  for (NodeId o = 0; o < nodes_.size(); ++o) {
    if (o != n) reset_conn(n, o);
  }
}

void Network::node_up(NodeId n) {
  NodeState& st = nodes_.at(n);
  SS_ASSERT(!st.up, "node_up of a node that is up");
  st.up = true;
}

}  // namespace streamsim::sim
