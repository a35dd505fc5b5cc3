#pragma once
// The edge policies in /status ("edge"): each rate limit with its settings and refusals, the
// fleet's Redis exchange when global limits use one, and each geo route's requests by region.
//
// Threading: the admin thread, reading the published generation's atomics.

#include "observe/json.h"
#include "upstream/generation.h"

namespace ballast::admin {

void write_edge_status(observe::JsonWriter& json, const upstream::Generation& generation);

}  // namespace ballast::admin
