#include "stages/registry.h"

#include "stages/auth/auth.h"
#include "stages/canary/canary.h"
#include "stages/data_exposure/data_exposure.h"
#include "stages/exfil_links/exfil_links.h"
#include "stages/input_scan/input_scan.h"
#include "stages/output_scan/output_scan.h"
#include "stages/prompt_leak/prompt_leak.h"
#include "stages/rate_limit/rate_limit.h"
#include "stages/role_isolation/role_isolation.h"
#include "stages/schema/schema.h"
#include "stages/spotlight/spotlight.h"
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
    {"role_isolation", &BuildRoleIsolation},
    {"spotlight", &BuildSpotlight},
    {"exfil_links", &BuildExfilLinks},
    {"data_exposure", &BuildDataExposure},
    {"tool_policy", &BuildToolPolicy},
    {"canary", &BuildCanary},
    {"prompt_leak", &BuildPromptLeak},
};
}  // namespace

std::span<const pipeline::StageRegistration> Registry() { return kTable; }

}  // namespace rampart::stages
