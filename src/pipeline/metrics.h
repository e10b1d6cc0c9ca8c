// Metrics: counters and latency histograms, rendered as Prometheus text.
//
// A series is a metric name plus a rendered label set (`stage="auth",route="chat"`). Hot
// paths resolve their series once (Counter()/Histogram() return stable pointers) and then
// update lock-free; Add() looks a series up under a mutex for labels known only per event
// (reason codes, detector ids).
//
// Thread safety: every method may be called concurrently. The registry outlives config
// generations, so counters survive reloads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace rampart::pipeline {

class Histogram {
 public:
  // Upper bounds in seconds; the last bucket is +Inf.
  static constexpr std::array<double, 15> kBounds = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                                     0.0005,  0.001,    0.0025,  0.005,  0.01,
                                                     0.05,    0.1,      0.5,     1,      5};
  void Observe(double seconds);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  friend class Metrics;
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

class Metrics {
 public:
  // Stable pointer to the counter `name{labels}`; `help` is used the first time a name is seen.
  std::atomic<uint64_t>* Counter(std::string_view name, std::string_view labels,
                                 std::string_view help = "");
  Histogram* Hist(std::string_view name, std::string_view labels, std::string_view help = "");
  void Add(std::string_view name, std::string_view labels, uint64_t delta = 1,
           std::string_view help = "");
  // Current value of a counter (0 when absent); for tests and /readyz.
  uint64_t Value(std::string_view name, std::string_view labels) const;
  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    bool histogram = false;
    std::map<std::string, std::unique_ptr<std::atomic<uint64_t>>, std::less<>> counters;
    std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
};

// Escapes a label value for the Prometheus text format.
std::string LabelValue(std::string_view v);

}  // namespace rampart::pipeline
