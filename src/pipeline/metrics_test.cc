#include "pipeline/metrics.h"

#include <gtest/gtest.h>

namespace rampart::pipeline {
namespace {

TEST(MetricsTest, RendersCountersAndHistograms) {
  Metrics m;
  m.Add("rampart_requests_total", "route=\"a\"", 2, "Requests");
  m.Hist("rampart_stage_latency_seconds", "stage=\"auth\"")->Observe(0.002);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("rampart_requests_total{route=\"a\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("rampart_stage_latency_seconds_bucket{stage=\"auth\",le=\"0.005\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("rampart_stage_latency_seconds_bucket{stage=\"auth\",le=\"0.001\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("rampart_stage_latency_seconds_count{stage=\"auth\"} 1"), std::string::npos);
  EXPECT_EQ(m.Value("rampart_requests_total", "route=\"a\""), 2u);
}

TEST(MetricsTest, LabelValuesAreEscaped) { EXPECT_EQ(LabelValue("a\"b\\c\n"), "a\\\"b\\\\c\\n"); }

}  // namespace
}  // namespace rampart::pipeline
