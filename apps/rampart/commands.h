// Subcommand registration. Each Register* adds its CLI11 subcommand and remembers how to
// run it; RunSelected runs the one the user chose and returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace rampart::cli {

void RegisterScan(CLI::App& app);
void RegisterEval(CLI::App& app);
void RegisterScanModel(CLI::App& app);
void RegisterAudit(CLI::App& app);
void RegisterManifest(CLI::App& app);
void RegisterKeygen(CLI::App& app);
void RegisterSign(CLI::App& app);
void RegisterVerify(CLI::App& app);
void RegisterTrain(CLI::App& app);
void RegisterServe(CLI::App& app);
void RegisterMockUpstream(CLI::App& app);
void RegisterDemo(CLI::App& app);

int RunSelected(CLI::App& app);

}  // namespace rampart::cli

#include <functional>

namespace rampart::cli {

// Records that `run` executes when subcommand `sub` was parsed.
void AddCommand(CLI::App* sub, std::function<int()> run);

}  // namespace rampart::cli
