// rampart: the single binary. One file per subcommand; this file only wires them up.
#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Rampart: layered defense for AI systems"};
  app.set_version_flag("--version", std::string("rampart ") + RAMPART_VERSION);
  app.require_subcommand(1);
  rampart::cli::RegisterScan(app);
  rampart::cli::RegisterEval(app);
  rampart::cli::RegisterScanModel(app);
  rampart::cli::RegisterAudit(app);
  rampart::cli::RegisterManifest(app);
  rampart::cli::RegisterKeygen(app);
  rampart::cli::RegisterSign(app);
  rampart::cli::RegisterVerify(app);
  rampart::cli::RegisterTrain(app);
  rampart::cli::RegisterServe(app);
  rampart::cli::RegisterMockUpstream(app);
  rampart::cli::RegisterDemo(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // --help and --version exit 0; every real parse error is a usage error (exit 2).
    return rc == 0 ? 0 : rampart::cli::kExitError;
  }
  return rampart::cli::RunSelected(app);
}
