#include "server/audit_sink.h"

#include <gtest/gtest.h>

#include <memory>

#include "audit/fake_sink.h"

namespace rampart::server {
namespace {

pipeline::ExchangeRecord Sample() {
  pipeline::ExchangeRecord r;
  r.request_id = "req-1";
  r.start_unix_ms = 1700000000123;
  r.duration_ms = 7;
  r.route = "chat";
  r.principal = "alice";
  r.client_ip = "127.0.0.1";
  r.model = "mock-small";
  r.status = 400;
  r.action = Action::kBlock;
  r.reason = "injection.blocked";
  r.request_bytes = 42;
  r.request_sha256 = std::string(64, 'a');
  r.stages.push_back({"auth", "request", false, "continue", "", 5});
  r.stages.push_back({"input_scan", "request", false, "block", "injection.blocked", 30});
  Finding f;
  f.detector = "rules.injection";
  f.rule = "injection.ignore_previous";
  f.field = "/messages/1/content";
  f.span = {3, 19};
  f.score = 0.9f;
  f.label = "SECRET-TEXT";
  f.decoded_via = "base64";
  r.findings.push_back(f);
  return r;
}

TEST(ToAuditRecord, KeepsIdsSpansAndDigestsOnly) {
  audit::Record a = ToAuditRecord(Sample());
  EXPECT_EQ(a.time_us, 1700000000123000);
  EXPECT_EQ(a.request_id, "req-1");
  EXPECT_EQ(a.principal, "alice");
  EXPECT_EQ(a.verdict, "block");
  EXPECT_EQ(a.reason, "injection.blocked");
  EXPECT_EQ(a.http_status, 400);
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].rule, "injection.ignore_previous");
  EXPECT_EQ(a.findings[0].field, "/messages/1/content");
  EXPECT_EQ(a.findings[0].begin, 3u);
  EXPECT_EQ(a.findings[0].end, 19u);
  EXPECT_EQ(a.latency_us.at("total"), 7000);
  EXPECT_EQ(a.latency_us.at("input_scan.request"), 30);
  EXPECT_EQ(a.request_sha256, std::string(64, 'a'));
  EXPECT_FALSE(a.redacted_prompt.has_value());
  EXPECT_EQ(audit::EncodeRecord(a).find("SECRET-TEXT"), std::string::npos);
}

TEST(AuditExchangeSink, SubmitReportsDurableOnlyAfterTheSinkWrote) {
  auto fake = std::make_shared<audit::FakeSink>();
  AuditExchangeSink sink(fake, 8, /*refuse_when_full=*/true);
  int durable = 0, lost = 0;
  auto done = [&](bool ok) { ok ? ++durable : ++lost; };
  sink.Submit(Sample(), done);
  fake->set_write_error(absl::InternalError("disk full"));
  sink.Submit(Sample(), done);
  fake->set_write_error(absl::OkStatus());
  fake->set_full(true);
  sink.Submit(Sample(), done);
  EXPECT_EQ(durable, 1);
  EXPECT_EQ(lost, 2);
  ASSERT_EQ(fake->records().size(), 1u);
  EXPECT_EQ(fake->records()[0].request_id, "req-1");
  std::string m = sink.MetricsText();
  EXPECT_NE(m.find("rampart_audit_written_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("rampart_audit_failed_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("rampart_audit_refused_total 1\n"), std::string::npos);
  EXPECT_NE(m.find("rampart_audit_queue_depth 0\n"), std::string::npos);
}

TEST(AuditExchangeSink, AcceptingIsAlwaysTrueUnderBlock) {
  auto fake = std::make_shared<audit::FakeSink>();
  EXPECT_TRUE(AuditExchangeSink(fake, 1, /*refuse_when_full=*/false).Accepting());
  EXPECT_TRUE(AuditExchangeSink(fake, 1, /*refuse_when_full=*/true).Accepting());
}

}  // namespace
}  // namespace rampart::server
