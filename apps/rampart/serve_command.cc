// rampart serve: the guarding reverse proxy (docs/gateway.md, docs/config.md).
//
//   rampart serve --config gateway.yaml [--rules DIR] [--no-access-log]
//
// Prints the bound client and admin addresses on standard output once both listen (so port 0
// can be used), serves until SIGTERM/SIGINT (then drains), reloads on SIGHUP. With a
// `stores.audit` section every exchange is recorded in the audit log (docs/audit.md); without
// one the server warns at start-up that auditing is off. With `stores.state: {kind: redis}`
// rate limits are shared through Redis; an unreachable Redis at start is a warning and /readyz
// reports not ready until it answers (docs/gateway.md, "Shared state").
// Exit: 0 after a clean drain, 2 when the config is invalid (a bad stores.state.url too), the
// audit log cannot be opened or a port cannot be bound.
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "config/config.h"
#include "server/audit_sink.h"
#include "server/server.h"

namespace rampart::cli {

void RegisterServe(CLI::App& app) {
  struct Flags {
    std::string config;
    std::string rules;
    bool no_access_log = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand("serve", "Run the guarding reverse proxy");
  sub->add_option("--config,-c", flags->config, "Gateway config file (YAML)")->required();
  sub->add_option("--rules", flags->rules, "Rule-pack directory (default: the shipped rules/)");
  sub->add_flag("--no-access-log", flags->no_access_log, "Do not log one line per exchange");
  AddCommand(sub, [flags]() -> int {
    auto cfg = config::LoadConfigFile(flags->config);
    if (!cfg.ok()) return ReportError("serve", cfg.status());
    std::shared_ptr<server::AuditExchangeSink> audit;
    if ((*cfg)->stores.has_audit && (*cfg)->stores.audit.enabled) {
      auto sink = server::OpenAuditSink((*cfg)->stores.audit);
      if (!sink.ok()) return ReportError("serve", sink.status());
      audit = *sink;
    }
    server::ServerOptions opts;
    opts.config_path = flags->config;
    opts.rules_dir = ResolveRulesDir(flags->rules);
    opts.access_log = !flags->no_access_log;
    opts.sink = audit;
    auto srv = server::Server::Start(opts);
    if (!srv.ok()) return ReportError("serve", srv.status());
    std::printf("rampart serve: listening on port %u\nrampart serve: admin on port %u\n",
                static_cast<unsigned>((*srv)->port()), static_cast<unsigned>((*srv)->admin_port()));
    std::fflush(stdout);
    (*srv)->Wait();
    srv->reset();
    if (audit) audit->sink().Close();
    return kExitClean;
  });
}

}  // namespace rampart::cli
