// sightline-bench-feedback: the feedback measures of `make bench`, against a
// feedback service whose people service holds the org of the goals bench.
//
//   sightline-bench-feedback create --target=A --jwt_key_file=K --leaves=F
//       --threads=N --seconds=S
//       CreateFeedback (durable, SUBJECT_ONLY, PEER or as the org says) from
//       N threads, each sending its next call when the last returned, for S
//       seconds; authors and subjects drawn from the owners listed in F (the
//       goals bench's leaves file). Prints create_* figures, and failed
//       calls by status code (create_codes, create_aborted). --target may
//       list several replicas (A1,A2,...): the threads are spread over them.
//       With --keep_going a failed call is counted, not a failure of the step.
//   sightline-bench-feedback list ... --entries=E --runs=R
//       Writes E feedback about one person (from many authors), then walks
//       ListFeedback of that person page by page (50 a page) R times, as the
//       person, one call at a time. Prints list_* figures (ms).

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/codes.h"
#include "grpcpp/create_channel.h"
#include "lib/auth/jwt.h"
#include "lib/testing/service.h"
#include "sightline/feedback/v1/feedback_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "",
          "The feedback service; create: replicas separated by commas.");
ABSL_FLAG(std::string, jwt_key_file, "", "The HS256 secret.");
ABSL_FLAG(std::string, leaves, "", "The goals bench's leaves file.");
ABSL_FLAG(int, threads, 64, "Calls in flight.");
ABSL_FLAG(double, seconds, 10, "create: how long.");
ABSL_FLAG(int, entries, 10000, "list: feedback about the listed person.");
ABSL_FLAG(int, runs, 5, "list: walks through every page.");
ABSL_FLAG(bool, keep_going, false,
          "create: count failed calls by code instead of failing the step.");

namespace sightline::bench {
namespace {

namespace fv1 = ::sightline::feedback::v1;

int Fail(const std::string& message) {
  std::fprintf(stderr, "sightline-bench-feedback: %s\n", message.c_str());
  return 1;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size()));
  return sorted[std::min(i, sorted.size() - 1)];
}

class Bench {
 public:
  int Init() {
    std::ifstream in(absl::GetFlag(FLAGS_leaves));
    std::string line;
    absl::flat_hash_map<std::string, bool> seen;
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() >= 2 && !seen[f[1]]) {
        seen[f[1]] = true;
        people_.push_back(f[1]);
      }
    }
    if (people_.size() < 3) return Fail("--leaves: fewer than 3 people");
    auto key = auth::ReadKeyFile(absl::GetFlag(FLAGS_jwt_key_file));
    if (!key.ok()) return Fail(std::string(key.status().message()));
    for (const auto& p : people_) {
      auth::MintOptions m;
      m.key = *key;
      m.subject = "people/" + p;
      m.roles = {auth::Role::kEmployee};
      m.ttl = absl::Hours(2);
      auto t = auth::Mint(m);
      if (!t.ok()) return Fail(std::string(t.status().message()));
      tokens_[p] = *t;
    }
    const std::vector<std::string> targets =
        Targets(absl::GetFlag(FLAGS_target));
    if (targets.empty()) return Fail("--target: no address");
    // Four connections per replica; thread t uses connection t % size, so
    // the threads are spread evenly over the replicas.
    for (size_t i = 0; i < 4 * targets.size(); ++i) {
      grpc::ChannelArguments args;
      args.SetInt("sightline.bench.channel", static_cast<int>(i));
      stubs_.push_back(fv1::FeedbackService::NewStub(
          grpc::CreateCustomChannel(targets[i % targets.size()],
                                    grpc::InsecureChannelCredentials(), args)));
    }
    return 0;
  }

  // Runs `threads` writers until `until` or until `total` calls were made
  // (whichever first); `subject` empty: a random one per call.
  void Write(int threads, absl::Time until, int64_t total,
             const std::string& subject) {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([this, t, until, total, &subject] {
        std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 17);
        std::vector<double> local;
        int64_t ok = 0;
        while (absl::Now() < until && issued_.fetch_add(1) < total) {
          const std::string& author = people_[rng() % people_.size()];
          std::string about =
              subject.empty() ? people_[rng() % people_.size()] : subject;
          if (about == author)
            about = people_[(rng() % (people_.size() - 1) + 1 +
                             (&author - &people_[0])) %
                            people_.size()];
          fv1::CreateFeedbackRequest req;
          auto* f = req.mutable_feedback();
          f->set_subject("people/" + about);
          f->set_kind(rng() % 2 == 0 ? fv1::PRAISE : fv1::CONSTRUCTIVE);
          f->set_visibility(fv1::SUBJECT_AND_MANAGERS);
          f->set_body("Clear write-up of the incident and what we change.");
          f->add_competencies("communication");
          fv1::Feedback resp;
          grpc::ClientContext ctx;
          testing::Authorize(&ctx, tokens_.at(author), absl::Seconds(30));
          absl::Time start = absl::Now();
          grpc::Status st =
              stubs_[static_cast<size_t>(t) % stubs_.size()]->CreateFeedback(
                  &ctx, req, &resp);
          local.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
          if (st.ok()) {
            ++ok;
          } else {
            std::lock_guard<std::mutex> lock(mu_);
            ++failed_[st.error_code()];
            if (first_error_.empty())
              first_error_ = absl::StrCat(CodeName(st.error_code()), ": ",
                                          st.error_message());
          }
        }
        std::lock_guard<std::mutex> lock(mu_);
        ms_.insert(ms_.end(), local.begin(), local.end());
        ok_ += ok;
      });
    }
    for (auto& w : workers) w.join();
  }

  int Create() {
    const int threads = absl::GetFlag(FLAGS_threads);
    const double seconds = absl::GetFlag(FLAGS_seconds);
    absl::Time start = absl::Now();
    Write(threads, start + absl::Seconds(seconds), INT64_MAX, "");
    double wall = absl::ToDoubleSeconds(absl::Now() - start);
    std::sort(ms_.begin(), ms_.end());
    std::printf("create_calls=%zu\ncreate_ok=%lld\n", ms_.size(),
                static_cast<long long>(ok_));
    std::printf("create_per_s=%.0f\ncreate_p50_ms=%.2f\ncreate_p99_ms=%.2f\n",
                static_cast<double>(ok_) / wall, Percentile(ms_, 0.5),
                Percentile(ms_, 0.99));
    PrintCodes("create", failed_);
    if (!first_error_.empty()) {
      Fail("first error: " + first_error_);
      return absl::GetFlag(FLAGS_keep_going) && ok_ > 0 ? 0 : 1;
    }
    return 0;
  }

  int List() {
    const int entries = absl::GetFlag(FLAGS_entries);
    const std::string& subject = people_[0];
    Write(absl::GetFlag(FLAGS_threads), absl::InfiniteFuture(), entries,
          subject);
    if (ok_ != entries || !first_error_.empty())
      return Fail(absl::StrCat("seeding wrote ", ok_, " of ", entries, ": ",
                               first_error_));
    std::vector<double> ms;
    int pages = 0, seen = 0;
    for (int r = 0; r < absl::GetFlag(FLAGS_runs); ++r) {
      fv1::ListFeedbackRequest req;
      req.set_subject("people/" + subject);
      req.set_page_size(50);
      seen = 0;
      pages = 0;
      for (;;) {
        fv1::ListFeedbackResponse resp;
        grpc::ClientContext ctx;
        testing::Authorize(&ctx, tokens_.at(subject), absl::Seconds(30));
        absl::Time start = absl::Now();
        grpc::Status st = stubs_[0]->ListFeedback(&ctx, req, &resp);
        ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
        if (!st.ok()) return Fail("ListFeedback: " + st.error_message());
        ++pages;
        seen += resp.feedback_size();
        if (resp.next_page_token().empty()) break;
        req.set_page_token(resp.next_page_token());
      }
    }
    if (seen < entries)
      return Fail(absl::StrCat("listed ", seen, " of at least ", entries));
    std::sort(ms.begin(), ms.end());
    std::printf("list_entries=%d\nlist_pages=%d\nlist_calls=%zu\n", seen, pages,
                ms.size());
    std::printf("list_p50_ms=%.2f\nlist_p99_ms=%.2f\nlist_max_ms=%.2f\n",
                Percentile(ms, 0.5), Percentile(ms, 0.99), ms.back());
    return 0;
  }

 private:
  std::vector<std::string> people_;
  absl::flat_hash_map<std::string, std::string> tokens_;
  std::vector<std::unique_ptr<fv1::FeedbackService::Stub>> stubs_;
  std::atomic<int64_t> issued_{0};
  std::mutex mu_;
  std::vector<double> ms_;
  int64_t ok_ = 0;
  std::map<grpc::StatusCode, int64_t> failed_;
  std::string first_error_;
};

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    return sightline::bench::Fail(
        "usage: sightline-bench-feedback create|list");
  }
  std::string mode = args[1];
  sightline::bench::Bench bench;
  if (int rc = bench.Init(); rc != 0) return rc;
  if (mode == "create") return bench.Create();
  if (mode == "list") return bench.List();
  return sightline::bench::Fail("unknown mode " + mode);
}
