// The one explicit table of stage types (no static self-registration). A route's `stages:`
// names rows of this table by `type`.
#pragma once

#include <span>

#include "pipeline/stage.h"

namespace rampart::stages {

std::span<const pipeline::StageRegistration> Registry();

}  // namespace rampart::stages
