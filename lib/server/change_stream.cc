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

std::string EncodeResumeToken(const storage::TokenCodec& codec,
                              absl::string_view feed, int64_t seq) {
  return codec.Encode(absl::StrCat("resume:", feed), absl::StrCat(seq));
}

absl::StatusOr<int64_t> DecodeResumeToken(const storage::TokenCodec& codec,
                                          absl::string_view feed,
                                          absl::string_view token) {
  auto payload =
      codec.Decode(absl::StrCat("resume:", feed), token, "resume_token");
  if (!payload.ok()) return payload.status();
  int64_t seq = 0;
  if (!absl::SimpleAtoi(*payload, &seq) || seq < 0) {
    return status::InvalidField("resume_token",
                                "is not a token this service issued");
  }
  return seq;
}

}  // namespace sightline::server
