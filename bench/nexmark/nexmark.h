// Nexmark for streamsim: a deterministic event generator that follows the
// Nexmark specification as implemented by Apache Beam's generator
// (sdks/java/testing/nexmark, GeneratorConfig/Generator/*Generator.java), the
// queries q0, q1, q2, q5 and q7 as streamsim pipelines, and a batch reference
// for each query (obviously correct, for small inputs).
//
// Generator: event id n is a person, an auction or a bid in the proportion
// 1 : 3 : 46 (n mod 50); every field is drawn from a java.util.Random-compatible
// generator seeded with n, so an event is a pure function of its id and of the
// configuration, whatever order or batching produces it. Defaults are Beam's
// NexmarkConfiguration: first event rate 10,000 events/s (event time advances
// 100 us per event), 1,000 active people, 100 in-flight auctions, hot auction
// ratio 2, hot seller and bidder ratios 4, average sizes 200/500/100 bytes.
// One generator produces the whole stream (Beam's numEventGenerators = 1), and
// there is no out-of-order jitter (outOfOrderGroupSize = 1), so event times are
// non-decreasing in event id.
//
// Wire form: an event is one Kafka record whose value is the engine's typed
// string (row.h, encode_value) holding a compact little-endian binary payload
// (encode()), whose timestamp is the event's date_time, and whose key is null.
// Queries read fields of the payload in place (bid_auction(), bid_price()).
//
// Queries (window sizes from the brief and Beam's defaults):
//   q0  passthrough: every event, unchanged (a map that copies the row).
//   q1  currency conversion: bids with price * 89 / 100 (Beam's Query1).
//   q2  selection: bids with auction % 123 == 0, as key = auction, value = price.
//   q5  hot items: bids counted per auction over sliding 10 s windows every 2 s;
//       per window, the auction(s) with the highest count.
//   q7  highest bid: per tumbling 10 s window, the bids whose price is the
//       window's maximum (key = the bid's payload, value = its price): the
//       window's max price joined back to the bids with that price.
// q5 and q7 use the engine's select_max_per_window() and need every bid of a
// window on one task: run them over one input partition (the selection is per
// task).
//
// Not thread-safe; no clocks, no global state: usable from tests and engine code.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/query.h>
#include <streamsim/engine/row.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streamsim::nexmark {

struct GeneratorConfig {
  int64_t base_time_ms = 1'436'918'400'000;  // 2015-07-15T00:00:00Z: a fixed time, not the wall clock
  int64_t first_event_rate = 10'000;          // events per second of event time
  int32_t num_active_people = 1'000;
  int32_t num_in_flight_auctions = 100;
  int32_t hot_auction_ratio = 2;
  int32_t hot_sellers_ratio = 4;
  int32_t hot_bidders_ratio = 4;
  int32_t avg_person_byte_size = 200;
  int32_t avg_auction_byte_size = 500;
  int32_t avg_bid_byte_size = 100;
};

struct Person {
  int64_t id = 0;
  std::string name, email, credit_card, city, state;
  int64_t date_time = 0;
  std::string extra;
  bool operator==(const Person&) const = default;
};

struct Auction {
  int64_t id = 0;
  std::string item_name, description;
  int64_t initial_bid = 0, reserve = 0, date_time = 0, expires = 0, seller = 0, category = 0;
  std::string extra;
  bool operator==(const Auction&) const = default;
};

struct Bid {
  int64_t auction = 0, bidder = 0, price = 0, date_time = 0;
  std::string extra;
  bool operator==(const Bid&) const = default;
};

struct Event {
  enum class Kind : char { person = 'P', auction = 'A', bid = 'B' };
  Kind kind = Kind::bid;
  Person person;    // kind == person
  Auction auction;  // kind == auction
  Bid bid;          // kind == bid
  int64_t timestamp_ms() const;
  bool operator==(const Event&) const = default;
};

class Generator {
 public:
  explicit Generator(GeneratorConfig config = {});
  // The event with id n (n >= 0): a pure function of n and the configuration.
  Event event(int64_t n) const;
  // Its event time: base_time + n * inter-event delay.
  int64_t timestamp_ms(int64_t n) const;
  const GeneratorConfig& config() const { return config_; }

 private:
  GeneratorConfig config_;
  int64_t inter_event_delay_us_;
};

// The binary payload of an event, and back (nullopt if it is not one).
std::string encode(const Event& e);
std::optional<Event> decode(std::string_view payload);

// Field access in place, for the queries' hot paths. Preconditions: the
// payload came from encode() (SS_ASSERT on its length), and for bid_*, it is a bid.
Event::Kind kind(std::string_view payload);
int64_t bid_auction(std::string_view payload);
int64_t bid_price(std::string_view payload);
void set_bid_price(std::string& payload, int64_t price);

// The Kafka record of event n at `offset` of source[partition]: typed string
// value holding the payload, null key, timestamp = the event's date_time.
engine::InputRecord record(const Generator& g, int64_t n, const std::string& topic, int32_t partition,
                           int64_t offset);

enum class QueryId { q0, q1, q2, q5, q7 };
const char* to_string(QueryId q);
std::optional<QueryId> parse_query(std::string_view name);
inline constexpr QueryId kAllQueries[] = {QueryId::q0, QueryId::q1, QueryId::q2, QueryId::q5, QueryId::q7};

struct QueryConfig {
  std::string source = "nexmark";
  std::string sink = "nexmark-out";
  int64_t window_size_ms = 10'000;  // q5, q7
  int64_t window_slide_ms = 2'000;  // q5
  int64_t auction_skip = 123;       // q2
  // Event times are non-decreasing, so no delay is needed; a non-zero delay
  // only keeps windows open longer.
  int64_t watermark_delay_ms = 0;
};

Result<engine::Pipeline, engine::EngineError> pipeline(QueryId q, const QueryConfig& c = {});

// One input event of a reference run: the event and where it was read from.
struct RefInput {
  Event event;
  engine::Provenance source;
};
// What the query must output for these inputs once the input has ended (every
// window closed), as one task (partition 0) emits it: stateless rows in input
// order, window rows by (window end, window start, key).
std::vector<engine::OutputRow> reference(QueryId q, const std::vector<RefInput>& input, const QueryConfig& c = {});

}  // namespace streamsim::nexmark
