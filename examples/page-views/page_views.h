// The example user pipeline: page views per user in tumbling event-time
// windows, ignoring the load balancer's health-check hits.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/registry.h>

namespace page_views {

struct Settings {
  std::string source = "page-views";
  std::string sink = "views-per-user";
  streamsim::Duration window = streamsim::Duration::seconds(2);
  streamsim::Duration watermark_delay = streamsim::Duration::seconds(1);
  streamsim::Duration idle_timeout = streamsim::Duration::seconds(3600);
};

// Records: key = the user (typed-encoded string), value = the page-view id.
// Output: per user and window, the number of page views; health checks
// (user "healthcheck") are not counted. Late views go to the late output.
streamsim::Result<streamsim::engine::Pipeline, streamsim::engine::EngineError> build(const Settings& s);

// The registry entry "page-views", with its parameters (source, sink, window,
// watermark_delay, idle_timeout), for streamsim::engine::register_pipeline.
streamsim::engine::PipelineInfo registry_entry();

}  // namespace page_views
