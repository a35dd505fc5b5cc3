#include "balance/algorithm.h"

#include <gtest/gtest.h>

namespace ballast::balance {
namespace {

TEST(Algorithm, EveryNameParsesBackToItsAlgorithm) {
  for (const AlgorithmName& entry : kAlgorithmNames) {
    EXPECT_EQ(parse_algorithm(entry.name), entry.algorithm);
    EXPECT_EQ(algorithm_name(entry.algorithm), entry.name);
  }
}

TEST(Algorithm, UnknownNamesAreRejected) {
  EXPECT_EQ(parse_algorithm("leastconn"), std::nullopt);
  EXPECT_EQ(parse_algorithm(""), std::nullopt);
  EXPECT_EQ(parse_algorithm("Round_Robin"), std::nullopt);
}

}  // namespace
}  // namespace ballast::balance
