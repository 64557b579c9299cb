#pragma once

// A Watch<R>s server stream over the change log: every committed change after
// the resume point, in commit order, each with a resume token. Rows are read
// in batches on a worker and written one at a time, so a slow client holds at
// most one batch in memory. A stream ends when the client cancels, or with
// UNAVAILABLE when the server shuts down (the client resumes elsewhere with its
// last token).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "lib/server/runtime.h"
#include "lib/storage/change_log.h"

namespace sightline::server {

// Streams open on a server, so that shutdown can end them.
class StreamSet {
 public:
  void Add(void* stream, std::function<void(const grpc::Status&)> close);
  void Remove(void* stream);
  void CloseAll(const grpc::Status& status);

 private:
  absl::Mutex mu_;
  std::map<void*, std::function<void(const grpc::Status&)>> streams_
      ABSL_GUARDED_BY(mu_);
};

// A stream that ends before it starts (bad token, bad request).
template <typename Response>
class FailedWriter : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FailedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

using storage::DecodeResumeToken;
using storage::EncodeResumeToken;

struct ChangeStreamDeps {
  Runtime* runtime;
  storage::Database* db;
  storage::ChangeFeed* feed;
  StreamSet* streams;
  std::string feed_name;  // binds resume tokens to this feed ("people")
};

template <typename Response>
class ChangeStream : public grpc::ServerWriteReactor<Response> {
 public:
  // Turns a change into the message for this caller, or nullopt when the caller
  // may not see it. The resume token to set is given.
  using Render = std::function<absl::StatusOr<std::optional<Response>>(
      const storage::ChangeRow& row, const std::string& resume_token)>;

  static grpc::ServerWriteReactor<Response>* Start(
      ChangeStreamDeps deps, grpc::CallbackServerContext* ctx,
      std::string resume_token, Render render) {
    auto* s = new ChangeStream(std::move(deps), std::move(render));
    s->Begin(ctx, std::move(resume_token));
    return s;
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed"));
      return;
    }
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by client"));
  }

  void OnDone() override {
    deps_.feed->Unsubscribe(subscription_);
    deps_.streams->Remove(this);
    Unref();
  }

 private:
  static constexpr int kBatch = 500;

  ChangeStream(ChangeStreamDeps deps, Render render)
      : deps_(std::move(deps)), render_(std::move(render)) {}

  void Begin(grpc::CallbackServerContext* ctx, std::string resume_token) {
    auto principal = deps_.runtime->Authenticate(ctx);
    if (!principal.ok()) {
      absl::MutexLock lock(&mu_);
      FinishLocked(status::ToGrpc(principal.status()));
      return;
    }
    std::optional<int64_t> start;
    if (!resume_token.empty()) {
      auto seq = DecodeResumeToken(deps_.runtime->tokens(), deps_.feed_name,
                                   resume_token);
      if (!seq.ok()) {
        absl::MutexLock lock(&mu_);
        FinishLocked(status::ToGrpc(seq.status()));
        return;
      }
      start = *seq;
    }
    deps_.streams->Add(this, [this](const grpc::Status& s) {
      absl::MutexLock lock(&mu_);
      FinishLocked(s);
    });
    subscription_ = deps_.feed->Subscribe([this](int64_t head) {
      absl::MutexLock lock(&mu_);
      if (head > cursor_) PumpLocked();
    });
    absl::MutexLock lock(&mu_);
    fetching_ = true;
    ++refs_;
    if (!deps_.runtime->executor().TrySubmit([this, start] { Init(start); })) {
      fetching_ = false;
      --refs_;
      FinishLocked(Runtime::Overloaded());
    }
  }

  // Positions the cursor: after the resume token, or at the current head.
  void Init(std::optional<int64_t> start) {
    absl::Status st;
    int64_t cursor = 0;
    auto head = storage::HeadSeq(*deps_.db);
    if (!head.ok()) {
      st = head.status();
    } else if (!start.has_value()) {
      cursor = *head;
    } else if (*start > *head) {
      st = status::InvalidField("resume_token", "is ahead of this feed");
    } else {
      auto oldest = storage::OldestSeq(*deps_.db);
      if (!oldest.ok()) {
        st = oldest.status();
      } else if (*oldest > 0 && *start < *oldest - 1) {
        st = absl::OutOfRangeError(
            "resume_token: the changes after it were pruned; read the current "
            "state "
            "and watch from now");
      } else {
        cursor = *start;
      }
    }
    bool last;
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      if (!st.ok()) {
        FinishLocked(deps_.runtime->Finish(st));
      } else {
        cursor_ = cursor;
        // Streams start with headers even when nothing happens for a while.
        if (!finished_) this->StartSendInitialMetadata();
        PumpLocked();
      }
      last = --refs_ == 0;
    }
    if (last) delete this;
  }

  // Writes the next message, or fetches the next batch when there is none.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    if (!pending_.empty()) {
      current_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      this->StartWrite(&current_);
      return;
    }
    if (fetching_ || (deps_.feed->head() <= cursor_ && !more_)) return;
    fetching_ = true;
    ++refs_;
    int64_t after = cursor_;
    if (!deps_.runtime->executor().TrySubmit([this, after] { Fetch(after); })) {
      fetching_ = false;
      --refs_;
      FinishLocked(Runtime::Overloaded());
    }
  }

  void Fetch(int64_t after) {
    auto rows = storage::ReadChanges(*deps_.db, after, kBatch);
    std::deque<Response> out;
    absl::Status st = rows.status();
    int64_t last = after;
    if (rows.ok()) {
      for (const auto& row : *rows) {
        last = row.seq;
        auto msg = render_(row, EncodeResumeToken(deps_.runtime->tokens(),
                                                  deps_.feed_name, row.seq));
        if (!msg.ok()) {
          st = msg.status();
          break;
        }
        if (msg->has_value()) out.push_back(std::move(**msg));
      }
    }
    bool drop;
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      if (!st.ok()) {
        FinishLocked(deps_.runtime->Finish(st));
      } else if (!finished_) {
        cursor_ = last;
        more_ = rows->size() == static_cast<size_t>(kBatch);
        for (auto& m : out) pending_.push_back(std::move(m));
        PumpLocked();
      }
      drop = --refs_ == 0;
    }
    if (drop) delete this;
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    pending_.clear();
    this->Finish(s);
  }

  void Unref() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --refs_ == 0;
    }
    if (last) delete this;
  }
  ChangeStreamDeps deps_;
  Render render_;
  int subscription_ = 0;
  absl::Mutex mu_;
  int refs_ ABSL_GUARDED_BY(mu_) = 1;  // gRPC's, dropped in OnDone
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  bool more_ ABSL_GUARDED_BY(mu_) = false;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Response> pending_ ABSL_GUARDED_BY(mu_);
  Response current_;
};

}  // namespace sightline::server
