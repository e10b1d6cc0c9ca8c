#include "stages/registry.h"

#include "stages/auth/auth.h"
#include "stages/input_scan/input_scan.h"
#include "stages/output_scan/output_scan.h"
#include "stages/rate_limit/rate_limit.h"
#include "stages/schema/schema.h"
#include "stages/tool_policy/tool_policy.h"

namespace rampart::stages {

namespace {
// Order here is only the order of names in error messages; routes choose the run order.
constexpr pipeline::StageRegistration kTable[] = {
    {"auth", &BuildAuth},
    {"rate_limit", &BuildRateLimit},
    {"schema", &BuildSchema},
    {"input_scan", &BuildInputScan},
    {"output_scan", &BuildOutputScan},
    {"tool_policy", &BuildToolPolicy},
};
}  // namespace

std::span<const pipeline::StageRegistration> Registry() { return kTable; }

}  // namespace rampart::stages
