// schema: validates the request body against a JSON Schema (draft 7 via valijson) chosen per
// route. A body that does not match is refused with 400 and reason schema.invalid; the
// message names the failing location when it is made of plain identifiers, never values.
//
//   config:
//     schema_file: FILE   # a JSON Schema document, relative to the working directory
//     schema: {...}       # or the schema inline (exactly one of the two)
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildSchema(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
