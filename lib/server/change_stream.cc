#include "lib/server/change_stream.h"

namespace sightline::server {

void StreamSet::Add(void* stream,
                    std::function<void(const grpc::Status&)> close) {
  absl::MutexLock lock(&mu_);
  streams_[stream] = std::move(close);
}

void StreamSet::Remove(void* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

void StreamSet::CloseAll(const grpc::Status& status) {
  // Closing under the lock keeps a stream from being destroyed meanwhile: its
  // OnDone must Remove() itself first.
  absl::MutexLock lock(&mu_);
  for (auto& [stream, close] : streams_) close(status);
}

}  // namespace sightline::server
