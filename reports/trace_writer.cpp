#include <streamsim/reports/trace_writer.h>

#include <cstdio>

namespace streamsim::reports {

void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

namespace {

// Names of the integer fields a, b, c for each kind ("" = not used).
struct FieldNames {
  const char* a;
  const char* b;
  const char* c;
};

FieldNames names_for(TraceKind k) {
  switch (k) {
    case TraceKind::run_start: return {"seed", "", ""};
    case TraceKind::schedule: return {"task", "ready", ""};
    case TraceKind::spawn: return {"task", "", ""};
    case TraceKind::task_end: return {"task", "status", ""};
    case TraceKind::wake: return {"task", "", ""};
    case TraceKind::send: return {"msg", "to", "deliver_ns"};
    case TraceKind::deliver: return {"msg", "from", ""};
    case TraceKind::drop: return {"msg", "reason", ""};
    case TraceKind::reset: return {"peer", "incarnation", ""};
    case TraceKind::fault: return {"", "", ""};
    case TraceKind::heal: return {"", "", ""};
    case TraceKind::crash: return {"bytes_lost", "files_torn", "wiped"};
    case TraceKind::restart: return {"incarnation", "", ""};
    case TraceKind::disk: return {"op", "bytes", ""};
    case TraceKind::custom: return {"a", "b", ""};
    case TraceKind::run_end: return {"steps", "", ""};
  }
  return {"a", "b", "c"};
}

void field(std::string& out, const char* name, uint64_t v) {
  if (*name == '\0') return;
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(v);
}

}  // namespace

void JsonLinesTraceWriter::on_event(const TraceEvent& ev, std::string_view node_name) {
  buf_.clear();
  buf_ += "{\"t_ns\":";
  buf_ += std::to_string(ev.time.ns());
  buf_ += ",\"node\":";
  json_string(buf_, node_name);
  buf_ += ",\"kind\":\"";
  buf_ += to_string(ev.kind);
  buf_ += '"';
  FieldNames f = names_for(ev.kind);
  field(buf_, f.a, ev.a);
  field(buf_, f.b, ev.b);
  field(buf_, f.c, ev.c);
  if (!ev.detail.empty()) {
    buf_ += ",\"detail\":";
    json_string(buf_, ev.detail);
  }
  buf_ += "}\n";
  out_ << buf_;
  ++lines_;
}

}  // namespace streamsim::reports
