#include "page_views.h"

namespace page_views {

using namespace streamsim;
using namespace streamsim::engine;

Result<Pipeline, EngineError> build(const Settings& s) {
  return source(s.source)
      .with_watermark(s.watermark_delay)
      .idle_timeout(s.idle_timeout)
      .filter([](const Row& r) { return !(r.key.is_string() && r.key.as_string() == "healthcheck"); })
      .window(WindowSpec::tumbling(s.window))
      .aggregate(Aggregate::count())
      .output(OutputMode::append)
      .late_events(LatePolicy::route)
      .sink(s.sink)
      .build();
}

PipelineInfo registry_entry() {
  PipelineInfo info;
  info.name = "page-views";
  info.description = "page views per user in tumbling event-time windows, health checks excluded";
  info.params = {
      ParamSpec::string("source", "page-views", "input topic: user -> page-view id"),
      ParamSpec::string("sink", "views-per-user", "output topic"),
      ParamSpec::duration("window", "2s", "tumbling window size"),
      ParamSpec::duration("watermark_delay", "1s", "event-time disorder the watermark allows for"),
      ParamSpec::duration("idle_timeout", "1h", "processing time after which a silent partition stops holding the watermark"),
  };
  info.factory = [](const Params& p) {
    Settings s;
    s.source = p.string("source");
    s.sink = p.string("sink");
    s.window = p.duration("window");
    s.watermark_delay = p.duration("watermark_delay");
    s.idle_timeout = p.duration("idle_timeout");
    return build(s);
  };
  return info;
}

}  // namespace page_views
