#include "lib/server/executor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace sightline::server {
namespace {

TEST(ExecutorTest, RunsEverySubmittedTask) {
  std::atomic<int> ran{0};
  {
    Executor ex(4, 1000);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(ex.TrySubmit([&] { ++ran; }));
    ex.Shutdown();
  }
  EXPECT_EQ(ran.load(), 500);
}

TEST(ExecutorTest, RefusesWhenQueueIsFull) {
  Executor ex(1, 2);
  absl::Notification release, started;
  ASSERT_TRUE(ex.TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  EXPECT_TRUE(ex.TrySubmit([] {}));
  EXPECT_TRUE(ex.TrySubmit([] {}));
  EXPECT_FALSE(ex.TrySubmit([] {}));
  EXPECT_EQ(ex.queued(), 2);
  release.Notify();
  ex.Shutdown();
  EXPECT_EQ(ex.queued(), 0);
}

TEST(ExecutorTest, RefusesAfterShutdownButFinishesQueuedWork) {
  std::atomic<int> ran{0};
  Executor ex(1, 100);
  absl::Notification release;
  ASSERT_TRUE(ex.TrySubmit([&] { release.WaitForNotification(); }));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ex.TrySubmit([&] { ++ran; }));
  release.Notify();
  ex.Shutdown();
  EXPECT_EQ(ran.load(), 10);
  EXPECT_FALSE(ex.TrySubmit([] {}));
}

}  // namespace
}  // namespace sightline::server
