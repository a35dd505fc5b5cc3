#include <gtest/gtest.h>

#include "proxy/worker_cluster.h"

namespace ballast::proxy {
namespace {

TEST(RetryBudget, AllowsTheMinimumConcurrentRetriesWhateverTheLoad) {
  config::RetryConfig retry;  // 20%, minimum 3
  RetryBudget budget;
  budget.active_requests = 1;
  budget.active_retries = 2;
  EXPECT_TRUE(budget.allows_retry(retry));
  budget.active_retries = 3;
  EXPECT_FALSE(budget.allows_retry(retry));
}

TEST(RetryBudget, ScalesWithActiveRequests) {
  config::RetryConfig retry;
  RetryBudget budget;
  budget.active_requests = 100;  // 20% of 100 = 20 retries in flight
  budget.active_retries = 19;
  EXPECT_TRUE(budget.allows_retry(retry));
  budget.active_retries = 20;
  EXPECT_FALSE(budget.allows_retry(retry));
}

}  // namespace
}  // namespace ballast::proxy
