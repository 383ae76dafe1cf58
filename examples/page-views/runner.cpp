// page_views_runner: streamsim's command line with the page-views pipeline
// registered, so scenarios can name it (pipeline { name: "page-views" }) and
// every printed replay command runs through this same binary.
#include "page_views.h"

#include <streamsim/cli_main.h>

int main(int argc, char** argv) {
  streamsim::engine::register_pipeline(page_views::registry_entry());
  return streamsim_cli_main(argc, argv);
}
