#pragma once
// `ballast demo`: a tour of the balancing policies for a newcomer, printed to a stream.
// Three servers of unequal weight and speed take simulated requests through every algorithm,
// so the differences (rotation, weights, load and latency awareness, key affinity) show at once.

#include <ostream>

namespace ballast::demo {

void run_policy_tour(std::ostream& out);

}  // namespace ballast::demo
