// The simulated network: named nodes, connections with FIFO delivery and sampled
// latency, one-way messages and request/response calls with timeouts, and the
// network faults of the fault catalog.
//
// Model:
// - A connection joins each unordered pair of nodes. Each direction is FIFO: a
//   message is delivered at max(send time + sampled latency, the previous delivery
//   on that direction), and equal delivery times keep send order.
// - A partition (one-way or two-way) silently loses messages on the blocked
//   direction, checked at send and again at delivery, like packets into a black
//   hole: a caller sees its own timeout, never an error.
// - Loss ("drop with reset") loses the message and resets its connection: every
//   message in flight on it is lost and every call pending on it fails with
//   connection_reset, as TCP does when a connection breaks.
// - Clogging a node holds every message to or from it until the clog ends, then
//   delivers them in order. A slow node multiplies the latency of its messages.
//   A latency spike adds a fixed delay to every message while it lasts.
// - A crashed node loses its inboxes and its connections are reset; a request
//   that reaches a node whose process is down, or a port nobody listens on, is
//   refused: its call fails with connection_reset (TCP's RST), not a timeout.
//
// Calls that wait (recv, call) suspend the calling task and throw TaskCancelled.
// Every queue is bounded: an inbox holds at most inbox_capacity messages and
// drops (with a trace event) beyond that, like a full socket buffer.
#pragma once

#include <streamsim/core/random.h>
#include <streamsim/core/result.h>
#include <streamsim/core/runtime.h>
#include <streamsim/core/sync.h>
#include <streamsim/core/trace.h>
#include <streamsim/sim/kernel.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace streamsim::sim {

using NodeId = uint32_t;

// Base of every message body. Bodies are immutable and shared, never copied.
class Payload {
 public:
  virtual ~Payload() = default;
  virtual const char* type_name() const = 0;
};

template <class T>
const T& payload_as(const std::shared_ptr<const Payload>& p) {
  auto* t = dynamic_cast<const T*>(p.get());
  SS_ASSERT(t != nullptr, "message body has an unexpected type");
  return *t;
}

struct LatencyModel {
  enum class Kind { constant, uniform, exponential, lognormal };
  Kind kind = Kind::lognormal;
  Duration min = Duration::micros(50);     // floor of every sample
  Duration median = Duration::micros(500);  // constant value, uniform midpoint, exponential mean
  double sigma = 0.6;                       // lognormal shape
  Duration max = Duration::millis(100);     // cap of every sample (bounded tail)
  Duration sample(Rng& rng) const;
};

enum class NetErrc { timed_out = 1, connection_reset, node_down, closed };
const char* to_string(NetErrc e);

enum class DropReason : uint64_t { partition = 1, loss, node_down, reset, inbox_full };

struct Request {
  NodeId from = 0;
  NodeId to = 0;
  uint32_t port = 0;
  uint64_t call_id = 0;  // 0 for a one-way message
  std::shared_ptr<const Payload> body;
};

// Incoming messages for one (node, port). Owned by the network; valid until the
// node crashes.
class Inbox {
 public:
  explicit Inbox(size_t capacity) : capacity_(capacity) {}
  // Suspends until a message arrives or the deadline (timed_out), or the inbox
  // is closed because its node went down (closed). Throws TaskCancelled.
  Result<Request, NetErrc> recv(Runtime& rt, Instant deadline = Instant::never());
  size_t size() const { return q_.size(); }

 private:
  friend class Network;
  bool push(Request r);
  void close();
  size_t capacity_;
  bool closed_ = false;
  std::deque<Request> q_;
  WaitQueue waiters_;
};

struct NetworkStats {
  uint64_t sent = 0, delivered = 0, dropped = 0, resets = 0, calls = 0, call_timeouts = 0;
};

class Network final : public TimerTarget {
 public:
  Network(Kernel& kernel, uint64_t seed, LatencyModel model, size_t inbox_capacity = 100'000);
  ~Network() override;

  // Registers a node; trace_node is its tracer index. Nodes start up.
  NodeId add_node(std::string name, uint32_t trace_node);
  const std::string& name(NodeId n) const { return nodes_.at(n).name; }
  size_t node_count() const { return nodes_.size(); }

  // Opens (or returns) the inbox of (node, port). Precondition: node is up.
  Inbox& listen(NodeId node, uint32_t port);

  // Sends a one-way message. Never suspends; delivery is not guaranteed.
  void send(NodeId from, NodeId to, uint32_t port, std::shared_ptr<const Payload> body);
  // Sends a request and suspends until its reply, the timeout, a connection reset
  // or cancellation. Precondition: called from a task of node `from`.
  Result<std::shared_ptr<const Payload>, NetErrc> call(Runtime& rt, NodeId from, NodeId to, uint32_t port,
                                                       std::shared_ptr<const Payload> body, Duration timeout);
  // Replies to a request received from an inbox (no effect for one-way messages).
  void reply(const Request& req, std::shared_ptr<const Payload> body);

  // --- Faults. Each is traced and lasts until healed (or its end time). ---
  // Partitions are counted per direction, so two overlapping faults on the same
  // pair heal independently.
  void partition(NodeId from, NodeId to, bool two_way);
  void unpartition(NodeId from, NodeId to, bool two_way);
  void isolate(NodeId n);  // two-way partition from every other node
  void unisolate(NodeId n);
  void set_loss(double probability);
  void set_latency_spike(Duration extra);
  void clog(NodeId n, Instant until);
  void set_slow(NodeId n, int factor);  // factor >= 1
  // Removes every partition, loss, spike, clog and slow node.
  void heal_all();
  bool blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) != 0; }
  double loss() const { return loss_; }

  // --- Process lifecycle, driven by the simulation. ---
  void node_down(NodeId n);
  void node_up(NodeId n);
  bool is_up(NodeId n) const { return nodes_.at(n).up; }

  const NetworkStats& stats() const { return stats_; }
  void on_timer(uint64_t arg) override;

 private:
  struct NodeState {
    std::string name;
    uint32_t trace_node;
    bool up = true;
    uint64_t incarnation = 0;
    Instant clogged_until;
    int slow_factor = 1;
    std::map<uint32_t, std::unique_ptr<Inbox>> inboxes;
  };
  struct Conn {
    uint64_t incarnation = 0;
    Instant last_delivery[2];  // index 0: low -> high node id, 1: high -> low
  };
  struct InFlight {
    uint64_t msg_id;
    NodeId from, to;
    uint64_t conn_incarnation;
    uint64_t to_incarnation;
    bool is_reply;
    Request req;
    bool used;
  };
  struct PendingCall {
    NodeId from, to;
    TaskId task;
    bool done;
    NetErrc error;
    std::shared_ptr<const Payload> reply;
  };

  Conn& conn(NodeId a, NodeId b);
  void transmit(NodeId from, NodeId to, bool is_reply, Request req);
  void drop(uint64_t msg_id, NodeId at, DropReason why);
  void reset_conn(NodeId a, NodeId b);
  void fail_calls(NodeId a, NodeId b, NetErrc e);
  void refuse(uint64_t call_id);  // fails a pending call with connection_reset
  void fault(std::string text);

  Kernel& kernel_;
  Tracer& tracer_;
  Rng rng_;
  LatencyModel model_;
  size_t inbox_capacity_;
  std::vector<NodeState> nodes_;
  std::map<std::pair<NodeId, NodeId>, Conn> conns_;
  void block(NodeId from, NodeId to, int delta);
  std::map<std::pair<NodeId, NodeId>, int> blocked_;  // direction -> active partitions
  double loss_ = 0;
  Duration spike_;
  std::vector<InFlight> inflight_;
  std::vector<uint32_t> free_inflight_;
  std::map<uint64_t, PendingCall*> pending_;  // ordered: resets fail calls in id order
  uint64_t next_msg_ = 1;
  uint64_t next_call_ = 1;
  NetworkStats stats_;
};

}  // namespace streamsim::sim
