// The `streamsim` binary: the command line (cli/main.cpp, built as the
// streamsim_cli_main library so users can link it into their own runner with
// their pipelines registered) with the built-in pipelines only.
#include <streamsim/cli_main.h>

int main(int argc, char** argv) { return streamsim_cli_main(argc, argv); }
