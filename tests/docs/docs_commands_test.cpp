// The documentation is checked by running what it shows (issue 6, part 3).
//
// In README.md and docs/*.md, every line inside a fenced code block is looked at:
// - `build/streamsim ARGS` is run as written from the source directory (with
//   build/streamsim replaced by the binary under test). Its exit code must be 0,
//   or the code a trailing `# exit N` comment names (a canary run exits 1). Other
//   trailing `# ...` comments are explanations and are dropped. Commands of one
//   file run in the order the file shows them, so a later command may use a file
//   an earlier one wrote (shrink, then run the shrunk scenario).
// - `make TARGET ...` must name targets the Makefile has (`make -n` dry run).
// - `streamsim COMMAND [--flag ...]` (no build/ prefix) is a synopsis: the
//   command must exist and every --flag it names must appear in the command's
//   help text, so a renamed or removed flag cannot linger in the docs.
// A doc whose commands all pass but which shows no command at all is fine; a doc
// file with no test case below fails the last test, so new docs get checked.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../harness/cli_test_util.h"

namespace fs = std::filesystem;
using streamsim::testing::cli::quote;
using streamsim::testing::cli::run_shell;

namespace {

struct DocCommand {
  int line = 0;
  std::string text;       // the command as shown, comment removed
  int expected_exit = 0;  // from a trailing "# exit N"
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// The lines of fenced code blocks, with their 1-based line numbers. A leading
// "$ " prompt is removed.
std::vector<std::pair<int, std::string>> code_lines(const std::string& path) {
  std::ifstream in(std::string(STREAMSIM_SOURCE_DIR) + "/" + path);
  REQUIRE(in.good());
  std::vector<std::pair<int, std::string>> out;
  std::string line;
  bool in_block = false;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string t = trim(line);
    if (t.rfind("```", 0) == 0) {
      in_block = !in_block;
      continue;
    }
    if (!in_block) continue;
    std::string c = t.rfind("$ ", 0) == 0 ? t.substr(2) : t;
    out.emplace_back(n, c);
  }
  REQUIRE_FALSE(in_block);  // an unclosed fence would hide the rest of the file
  return out;
}

// Splits "cmd args   # exit 1" into the command and its expected exit code.
DocCommand parse_command(int line, const std::string& text) {
  DocCommand c;
  c.line = line;
  c.text = text;
  // A '#' that starts a comment follows whitespace and is outside quotes.
  bool single = false, dbl = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\'' && !dbl) single = !single;
    if (ch == '"' && !single) dbl = !dbl;
    if (ch == '#' && !single && !dbl && i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
      const std::string comment = trim(text.substr(i + 1));
      c.text = trim(text.substr(0, i));
      std::smatch m;
      if (std::regex_match(comment, m, std::regex(R"(exit (\d+).*)"))) c.expected_exit = std::stoi(m[1]);
      break;
    }
  }
  return c;
}

std::string help_text() {
  static const std::string text = run_shell(quote(STREAMSIM_BINARY) + " --help").output;
  return text;
}

// The usage lines of one command in the help text: the lines that start with
// "streamsim COMMAND" and their indented continuation lines.
std::string usage_of(const std::string& help, const std::string& command) {
  std::istringstream in(help);
  std::string line, out;
  bool in_command = false;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.rfind("streamsim ", 0) == 0) {
      in_command = t.rfind("streamsim " + command + " ", 0) == 0 || t == "streamsim " + command;
    } else if (line.empty() || line[0] != ' ') {
      in_command = false;
    }
    if (in_command) out += t + "\n";
  }
  return out;
}

// What is wrong with a synopsis line ("streamsim run SCENARIO [--seed N]")
// against the help text: an unknown command, or a flag its usage lacks.
std::vector<std::string> synopsis_problems(const std::string& synopsis, const std::string& help) {
  std::istringstream words(synopsis.substr(10));
  std::string command;
  words >> command;
  const std::string usage = usage_of(help, command);
  if (usage.empty()) return {"the CLI has no command '" + command + "'"};
  std::vector<std::string> problems;
  const std::regex flag(R"(--[a-z][a-z0-9-]*)");
  for (std::sregex_iterator it(synopsis.begin(), synopsis.end(), flag), end; it != end; ++it) {
    if (usage.find(it->str()) == std::string::npos)
      problems.push_back("'streamsim " + command + "' has no flag " + it->str() + " in its usage:\n" + usage);
  }
  return problems;
}

// Checks and runs what `path` shows. Returns the number of lines checked.
int check_doc(const std::string& path) {
  int checked = 0;
  for (const auto& [line, raw] : code_lines(path)) {
    const DocCommand c = parse_command(line, raw);
    const std::string where = path + ":" + std::to_string(line) + ": " + c.text;
    if (c.text.rfind("build/streamsim ", 0) == 0) {
      const std::string cmd = quote(STREAMSIM_BINARY) + c.text.substr(std::string("build/streamsim").size());
      const auto r = run_shell(cmd);
      INFO(where << "\n--- output ---\n" << r.output.substr(r.output.size() > 6000 ? r.output.size() - 6000 : 0));
      CHECK(r.exit_code == c.expected_exit);
      ++checked;
    } else if (c.text.rfind("make ", 0) == 0 || c.text == "make") {
      // A dry run names every target; it fails on a target the Makefile lacks.
      std::string targets = c.text.substr(4);
      const auto r = run_shell("make -n " + targets + " >/dev/null");
      INFO(where << "\n" << r.output);
      CHECK(r.exit_code == 0);
      ++checked;
    } else if (c.text.rfind("streamsim ", 0) == 0) {
      const auto problems = synopsis_problems(c.text, help_text());
      INFO(where);
      for (const auto& p : problems) FAIL_CHECK(p);
      ++checked;
    }
  }
  return checked;
}

// The docs with a test case below; the last test keeps this list complete.
const std::set<std::string> kCovered = {
    "README.md",         "docs/architecture.md", "docs/checkers.md", "docs/faults.md",  "docs/fidelity.md",
    "docs/library.md",   "docs/live.md",         "docs/reports.md",  "docs/scenarios.md", "docs/semantics.md",
    "docs/trace.md",
};

void check_if_present(const std::string& path) {
  if (!fs::exists(std::string(STREAMSIM_SOURCE_DIR) + "/" + path)) {
    FAIL(path << " is listed as a doc but does not exist");
  }
  check_doc(path);
}

}  // namespace

TEST_CASE("a trailing '# exit N' sets the expected exit code; other comments are dropped", "[docs]") {
  auto c = parse_command(3, "build/streamsim run x.textproto --seed 2   # exit 1: the canary is caught");
  CHECK(c.text == "build/streamsim run x.textproto --seed 2");
  CHECK(c.expected_exit == 1);
  c = parse_command(4, "make demo    # installs missing packages");
  CHECK(c.text == "make demo");
  CHECK(c.expected_exit == 0);
  c = parse_command(5, "build/streamsim run 'a#b' --seed 1");
  CHECK(c.text == "build/streamsim run 'a#b' --seed 1");
}

TEST_CASE("a synopsis naming a flag or command the CLI does not have is a problem", "[docs]") {
  const std::string help = help_text();
  CHECK(synopsis_problems("streamsim run SCENARIO [--seed N] [--trace FILE]", help).empty());
  CHECK(synopsis_problems("streamsim run SCENARIO [--seeds N]", help).size() == 1);  // --seeds is sweep's
  CHECK(synopsis_problems("streamsim frobnicate X", help).size() == 1);
  CHECK(synopsis_problems("streamsim sweep DIR --seeds N --max-rss-mib M", help).empty());  // continuation line
}

TEST_CASE("README.md commands run as shown", "[docs]") { CHECK(check_doc("README.md") > 0); }
TEST_CASE("docs/architecture.md", "[docs]") { check_if_present("docs/architecture.md"); }
TEST_CASE("docs/checkers.md commands run as shown", "[docs]") { check_if_present("docs/checkers.md"); }
TEST_CASE("docs/faults.md", "[docs]") { check_if_present("docs/faults.md"); }
TEST_CASE("docs/fidelity.md", "[docs]") { check_if_present("docs/fidelity.md"); }
TEST_CASE("docs/library.md commands run as shown", "[docs]") { check_if_present("docs/library.md"); }
TEST_CASE("docs/live.md commands run as shown", "[docs]") { check_if_present("docs/live.md"); }
TEST_CASE("docs/reports.md commands run as shown", "[docs]") { check_if_present("docs/reports.md"); }
TEST_CASE("docs/scenarios.md synopses match the CLI", "[docs]") { check_if_present("docs/scenarios.md"); }
TEST_CASE("docs/semantics.md", "[docs]") { check_if_present("docs/semantics.md"); }
TEST_CASE("docs/trace.md", "[docs]") { check_if_present("docs/trace.md"); }

TEST_CASE("every doc file has a test case", "[docs]") {
  std::vector<std::string> missing;
  for (const auto& e : fs::directory_iterator(std::string(STREAMSIM_SOURCE_DIR) + "/docs")) {
    if (e.path().extension() != ".md") continue;
    const std::string rel = "docs/" + e.path().filename().string();
    if (!kCovered.count(rel)) missing.push_back(rel);
  }
  std::string list;
  for (const auto& m : missing) list += " " + m;
  INFO("add a TEST_CASE to tests/docs/docs_commands_test.cpp for:" << list);
  CHECK(missing.empty());
}
