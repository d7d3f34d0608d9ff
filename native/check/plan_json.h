// A network plan (docs/plan-format.md) from its JSON text, parsed as the addon parses the JS object
// (native/addon.cc plan_from_js) and validated by the engine's validate_plan.
#pragma once
#include "graph/plan.h"
#include "json.h"

namespace tegnas::check {

Plan plan_from_json(const Json& j);

// Parameter indices of a group, as src/network.ts paramGroupIndices: among the parameters some live node
// reads, in plan order, `weights` = names ending in "weight", `cell-weights` = those under "cells.".
std::vector<int> param_group(const Plan& plan, const std::string& group);

}  // namespace tegnas::check
