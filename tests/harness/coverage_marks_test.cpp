// The coverage-mark catalog cannot rot: every probe("...") in the sources is in
// the catalog (include/streamsim/core/coverage.h) and documented in
// docs/scenarios.md, and every catalog mark is probed somewhere and documented.
#include <streamsim/core/coverage.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Mark names in the arguments of every probe( call: all string literals shaped
// like "area.name" up to the end of the statement (so a conditional argument,
// `probe(c ? "a.x" : "a.y")`, yields both).
std::set<std::string> probed_marks(std::map<std::string, std::string>* where) {
  static const std::regex literal(R"rx("([a-z]+\.[a-z0-9_]+)")rx");
  std::set<std::string> out;
  const fs::path root = STREAMSIM_SOURCE_DIR;
  for (const char* dir : {"core", "sim", "engine", "live", "faults", "harness", "scenarios", "include"}) {
    for (auto it = fs::recursive_directory_iterator(root / dir); it != fs::recursive_directory_iterator(); ++it) {
      const auto ext = it->path().extension();
      if (!it->is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
      if (it->path().filename() == "coverage.h") continue;  // the catalog itself
      const std::string text = read_all(it->path());
      for (size_t pos = text.find("probe("); pos != std::string::npos; pos = text.find("probe(", pos + 1)) {
        // Skip declarations and definitions (`void probe(std::string_view mark)`).
        const size_t end = text.find_first_of(";{", pos);
        const std::string call = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        for (std::sregex_iterator m(call.begin(), call.end(), literal), e; m != e; ++m) {
          const std::string name = (*m)[1];
          out.insert(name);
          (*where)[name] = fs::relative(it->path(), root).string();
        }
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("coverage marks: every probe is catalogued and documented, and every catalogued mark is probed",
          "[coverage]") {
  std::map<std::string, std::string> where;
  const std::set<std::string> probed = probed_marks(&where);
  const std::string docs = read_all(fs::path(STREAMSIM_SOURCE_DIR) / "docs/scenarios.md");
  REQUIRE_FALSE(probed.empty());
  std::set<std::string> catalog;
  for (const auto& m : streamsim::kCoverageMarks) {
    INFO(m.name);
    CHECK(catalog.insert(std::string(m.name)).second);  // no duplicates
    CHECK_FALSE(m.meaning.empty());
  }
  for (const auto& name : probed) {
    INFO("probe(\"" << name << "\") in " << where[name]);
    CHECK(catalog.count(name) == 1);
    CHECK(streamsim::is_known_coverage_mark(name));
    CHECK(docs.find("| `" + name + "` |") != std::string::npos);
  }
  for (const auto& name : catalog) {
    INFO("catalogued mark " << name);
    CHECK(probed.count(name) == 1);
    CHECK(docs.find("| `" + name + "` |") != std::string::npos);
  }
}

TEST_CASE("coverage marks: unknown names are refused, BUGGIFY marks accepted", "[coverage]") {
  CHECK(streamsim::is_known_coverage_mark("kafka.leader_epoch_change"));
  CHECK(streamsim::is_known_coverage_mark("buggify.produce_timeout"));
  CHECK_FALSE(streamsim::is_known_coverage_mark("buggify."));
  CHECK_FALSE(streamsim::is_known_coverage_mark("kafka.leader_epoch_chnage"));
  CHECK_FALSE(streamsim::is_known_coverage_mark(""));
}
