// The streamsim command line as a function, so a user's own runner executable
// can be "their pipeline registrations + streamsim's CLI" (docs/library.md):
//
//   #include <streamsim/cli_main.h>
//   #include <streamsim/engine/registry.h>
//   int main(int argc, char** argv) {
//     streamsim::engine::register_pipeline(my_pipeline_info());
//     return streamsim_cli_main(argc, argv);
//   }
//
// Link streamsim::cli_main. It behaves exactly like the installed `streamsim`
// binary (DESIGN.md section 6: commands, flags, exit codes 0/1/2), and every
// replay command it prints names argv[0], so a failure replays through the
// same runner with the same pipelines. sweep --jobs forks, so pipelines
// registered before the call are seen by every child.
#pragma once

int streamsim_cli_main(int argc, char** argv);
