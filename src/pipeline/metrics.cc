#include "pipeline/metrics.h"

#include <cmath>

#include "common/strings.h"

namespace rampart::pipeline {

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e9)), std::memory_order_relaxed);
}

std::atomic<uint64_t>* Metrics::Counter(std::string_view name, std::string_view labels,
                                        std::string_view help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto fit = families_.find(name);
  if (fit == families_.end()) fit = families_.emplace(std::string(name), Family{}).first;
  Family& f = fit->second;
  if (f.help.empty()) f.help = std::string(help);
  auto it = f.counters.find(labels);
  if (it == f.counters.end()) {
    it = f.counters.emplace(std::string(labels), std::make_unique<std::atomic<uint64_t>>(0)).first;
  }
  return it->second.get();
}

Histogram* Metrics::Hist(std::string_view name, std::string_view labels, std::string_view help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto fit = families_.find(name);
  if (fit == families_.end()) fit = families_.emplace(std::string(name), Family{}).first;
  Family& f = fit->second;
  f.histogram = true;
  if (f.help.empty()) f.help = std::string(help);
  auto it = f.histograms.find(labels);
  if (it == f.histograms.end()) {
    it = f.histograms.emplace(std::string(labels), std::make_unique<Histogram>()).first;
  }
  return it->second.get();
}

void Metrics::Add(std::string_view name, std::string_view labels, uint64_t delta,
                  std::string_view help) {
  Counter(name, labels, help)->fetch_add(delta, std::memory_order_relaxed);
}

uint64_t Metrics::Value(std::string_view name, std::string_view labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto fit = families_.find(name);
  if (fit == families_.end()) return 0;
  auto it = fit->second.counters.find(labels);
  return it == fit->second.counters.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

std::string Metrics::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto braces = [](const std::string& labels) {
    return labels.empty() ? std::string() : StrCat("{", labels, "}");
  };
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) StrAppend(&out, "# HELP ", name, " ", f.help, "\n");
    StrAppend(&out, "# TYPE ", name, f.histogram ? " histogram\n" : " counter\n");
    for (const auto& [labels, c] : f.counters) {
      StrAppend(&out, name, braces(labels), " ", c->load(std::memory_order_relaxed), "\n");
    }
    for (const auto& [labels, h] : f.histograms) {
      std::string sep = labels.empty() ? "" : ",";
      uint64_t cum = 0;
      for (size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
        cum += h->buckets_[i].load(std::memory_order_relaxed);
        std::string le = i < Histogram::kBounds.size() ? fmt::format("{}", Histogram::kBounds[i])
                                                       : std::string("+Inf");
        StrAppend(&out, name, "_bucket{", labels, sep, "le=\"", le, "\"} ", cum, "\n");
      }
      StrAppend(&out, name, "_sum", braces(labels), " ",
                fmt::format("{:.9f}", h->sum_ns_.load(std::memory_order_relaxed) / 1e9), "\n");
      StrAppend(&out, name, "_count", braces(labels), " ", h->count(), "\n");
    }
  }
  return out;
}

std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace rampart::pipeline
