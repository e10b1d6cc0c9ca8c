#include "json_output.h"

#include <cmath>

namespace rampart::cli {

boost::json::object FindingToJson(const Finding& f) {
  boost::json::object o;
  o["detector"] = f.detector;
  o["rule"] = f.rule;
  o["category"] = std::string(CategoryName(f.category));
  o["severity"] = std::string(SeverityName(f.severity));
  // Scores are stored as float; three decimals say all they mean.
  o["score"] = std::round(static_cast<double>(f.score) * 1000.0) / 1000.0;
  if (!f.field.empty()) o["field"] = f.field;
  o["start"] = f.span.begin;
  o["end"] = f.span.end;
  if (!f.decoded_via.empty()) o["decoded_via"] = f.decoded_via;
  if (!f.label.empty()) o["label"] = f.label;
  return o;
}

boost::json::object VerdictToJson(const Verdict& v, bool with_redacted) {
  boost::json::object o;
  o["verdict"] = std::string(ActionName(v.action));
  o["reason"] = v.reason;
  boost::json::array findings;
  for (const auto& f : v.findings) findings.push_back(FindingToJson(f));
  o["findings"] = std::move(findings);
  if (with_redacted && v.edited_text) o["redacted_text"] = *v.edited_text;
  return o;
}

}  // namespace rampart::cli
