#include "lib/storage/change_follower.h"

#include "lib/telemetry/log.h"

namespace sightline::storage {

void ChangeFollower::Start() {
  int64_t cursor = feed_->head();
  thread_ = std::thread([this, cursor]() mutable {
    while (!stopping_) {
      if (feed_->WaitBeyond(cursor, absl::Milliseconds(500)) <= cursor)
        continue;
      auto rows = ReadChanges(*db_, cursor, 1000);
      if (!rows.ok()) {
        telemetry::LogWarn("change follower read failed",
                           {{"error", rows.status().message()}});
        absl::SleepFor(absl::Milliseconds(200));
        continue;
      }
      if (rows->empty()) continue;
      fn_(*rows);
      cursor = rows->back().seq;
    }
  });
}

void ChangeFollower::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace sightline::storage
