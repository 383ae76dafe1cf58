#include <streamsim/harness/checkers.h>

#include <map>
#include <string>

namespace streamsim::harness {

using scenarios::CounterEntry;
using scenarios::CounterHistory;
using scenarios::PropertyResult;

namespace {

std::string op_text(const scenarios::CounterOp& op) {
  return "client " + std::to_string(op.client) + " request " + std::to_string(op.req);
}

}  // namespace

std::vector<PropertyResult> check_counter(const CounterHistory& h, uint32_t replicas) {
  PropertyResult durable{"acked_durable", true, ""}, dups{"no_duplicates", true, ""}, agree{"replicas_agree", true, ""},
      values{"values_consistent", true, ""}, live{"liveness", true, ""};

  // Liveness first: without final reads the safety checks have nothing to read.
  for (const auto& op : h.ops) {
    if (!op.acked && live.held) {
      live.held = false;
      live.evidence = op_text(op) + " invoked at " + format_instant(op.invoked) + " was never acknowledged (" +
                      std::to_string(op.attempts) + " attempts)";
    }
  }
  if (live.held && !h.final_read_done) {
    live.held = false;
    live.evidence = "final reads did not finish within the liveness phase";
  }
  if (live.held && h.final_logs.size() != replicas) {
    live.held = false;
    live.evidence = "final reads cover " + std::to_string(h.final_logs.size()) + " replicas, expected " +
                    std::to_string(replicas);
  }
  for (uint32_t i = 0; live.held && i < h.final_logs.size(); ++i) {
    if (!h.final_logs[i]) {
      live.held = false;
      live.evidence = "replica r" + std::to_string(i) + " could not be read after the faults healed";
    }
  }

  const std::vector<CounterEntry>* primary = (!h.final_logs.empty() && h.final_logs[0]) ? &*h.final_logs[0] : nullptr;
  if (primary != nullptr) {
    std::map<std::pair<uint32_t, uint64_t>, uint64_t> pos;  // -> 1-based position in the primary
    for (uint32_t r = 0; r < h.final_logs.size(); ++r) {
      if (!h.final_logs[r]) continue;
      std::map<std::pair<uint32_t, uint64_t>, uint64_t> seen;
      const auto& log = *h.final_logs[r];
      for (uint64_t i = 0; i < log.size(); ++i) {
        auto key = std::make_pair(log[i].client, log[i].req);
        auto [it, fresh] = seen.emplace(key, i + 1);
        if (!fresh && dups.held) {
          dups.held = false;
          dups.evidence = "replica r" + std::to_string(r) + " holds client " + std::to_string(key.first) +
                          " request " + std::to_string(key.second) + " at positions " + std::to_string(it->second) +
                          " and " + std::to_string(i + 1);
        }
      }
      if (r == 0) pos = std::move(seen);
    }
    for (const auto& op : h.ops) {
      if (!op.acked) continue;
      auto it = pos.find({op.client, op.req});
      if (it == pos.end()) {
        if (durable.held) {
          durable.held = false;
          durable.evidence = op_text(op) + " acknowledged at " + format_instant(op.acked_at) + " with value " +
                             std::to_string(op.value) + " is missing from r0's final log (" +
                             std::to_string(primary->size()) + " entries)";
        }
        continue;
      }
      if (it->second != op.value && values.held) {
        values.held = false;
        values.evidence = op_text(op) + " was acknowledged with value " + std::to_string(op.value) +
                          " but sits at position " + std::to_string(it->second) + " of r0's final log";
      }
    }
    for (uint32_t r = 1; r < h.final_logs.size() && agree.held; ++r) {
      if (!h.final_logs[r]) continue;
      const auto& b = *h.final_logs[r];
      size_t n = std::min(b.size(), primary->size());
      for (size_t i = 0; i < n; ++i) {
        if (!(b[i] == (*primary)[i])) {
          agree.held = false;
          agree.evidence = "r" + std::to_string(r) + " position " + std::to_string(i + 1) + " holds client " +
                           std::to_string(b[i].client) + " request " + std::to_string(b[i].req) + ", r0 holds client " +
                           std::to_string((*primary)[i].client) + " request " + std::to_string((*primary)[i].req);
          break;
        }
      }
      if (agree.held && b.size() > primary->size()) {
        agree.held = false;
        agree.evidence = "r" + std::to_string(r) + " has " + std::to_string(b.size()) + " entries, more than r0's " +
                         std::to_string(primary->size());
      }
    }
  } else {
    // Without the primary's final log no acknowledged write can be shown durable.
    for (const auto& op : h.ops) {
      if (op.acked) {
        durable.held = false;
        durable.evidence = "r0's final log could not be read, so " + op_text(op) +
                           " (acknowledged) cannot be shown durable";
        break;
      }
    }
  }
  return {durable, dups, agree, values, live};
}

}  // namespace streamsim::harness
