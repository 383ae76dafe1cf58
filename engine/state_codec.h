// Private to engine/: the typed state of a task and its changelog encoding
// (proto/engine.proto). Keys and values are protobuf messages with only scalar
// fields and no maps, whose serialisation is deterministic, so equal states give
// equal bytes.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/engine/row.h>
#include <streamsim/engine/time.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace streamsim::engine::detail {

// An aggregate's running state.
struct Acc {
  int64_t rows = 0;      // rows aggregated
  int64_t non_null = 0;  // rows whose value was not null
  Value value;           // sum/min/max/fold; avg: the double sum
  int64_t max_event_time_ms = std::numeric_limits<int64_t>::min();
  bool operator==(const Acc&) const = default;
};

struct TaskMeta {
  std::string topic;
  int32_t partition = 0;
  uint64_t next_batch = 1;
  Watermark watermark = Watermark::min();
  std::optional<EventTime> max_event_time;
  int64_t next_offset = -1;
  bool idle = false;  // the partition counted as idle when the batch's watermark advanced
};

enum class StateKind { meta = 1, window = 2, session = 3, key = 4, dedup = 5 };

struct StateKey {
  StateKind kind = StateKind::meta;
  Value key;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

std::string encode_key(const StateKey& k);
std::optional<StateKey> decode_key(std::string_view bytes);

std::string encode_acc(const Acc& a);
std::string encode_session(int64_t end_ms, const Acc& a);
std::string encode_dedup(int64_t first_ms);
std::string encode_meta(const TaskMeta& m);

// Each returns nullopt if the bytes are not that kind of state value.
std::optional<Acc> decode_acc(std::string_view bytes);
std::optional<std::pair<int64_t, Acc>> decode_session(std::string_view bytes);
std::optional<int64_t> decode_dedup(std::string_view bytes);
std::optional<TaskMeta> decode_meta(std::string_view bytes);

}  // namespace streamsim::engine::detail
