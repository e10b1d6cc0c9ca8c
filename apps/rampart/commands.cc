#include "commands.h"

#include <utility>
#include <vector>

#include "cli_common.h"

namespace rampart::cli {
namespace {

std::vector<std::pair<CLI::App*, std::function<int()>>>& Registry() {
  static auto* registry = new std::vector<std::pair<CLI::App*, std::function<int()>>>();
  return *registry;
}

}  // namespace

void AddCommand(CLI::App* sub, std::function<int()> run) {
  Registry().emplace_back(sub, std::move(run));
}

int RunSelected(CLI::App& /*app*/) {
  for (auto& [sub, run] : Registry()) {
    if (sub->parsed()) return run();
  }
  std::fprintf(stderr, "rampart: no subcommand selected (see rampart --help)\n");
  return kExitError;
}

}  // namespace rampart::cli
