// Running the streamsim binary from the CLI tests: a shell command in the
// source directory, with stdout and stderr captured together and the exit code
// decoded (128 + signal for a killed process, as a shell reports it).
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace streamsim::testing::cli {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Single-quotes `s` for /bin/sh.
inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command in the source directory, capturing stdout+stderr.
inline Result run_shell(const std::string& command) {
  const std::string full = "cd " + quote(STREAMSIM_SOURCE_DIR) + " && " + command + " 2>&1";
  Result r;
  std::fflush(nullptr);
  FILE* p = ::popen(full.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  REQUIRE(status != -1);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Runs `streamsim <args>` in the source directory. `args` is shell text.
inline Result run_cli(const std::string& args) { return run_shell(quote(STREAMSIM_BINARY) + " " + args); }

// A fresh directory under the system's temporary directory, unique per process
// and per instance, removed with everything in it when the test ends.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int n = 0;  // one counter for every test file of a binary (inline function semantics)
    path = std::filesystem::temp_directory_path() /
           ("streamsim-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str(const std::string& name) const { return (path / name).string(); }
};

// The whole file (empty when it cannot be read).
inline std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace streamsim::testing::cli
