// SyncPeople: a client stream of roster records, planned and applied by the
// service in one transaction once the stream ends.

#include <malloc.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/tokens.h"
#include "services/people/convert.h"
#include "services/people/people_handler.h"

namespace sightline::people {
namespace {

constexpr int kMaxSyncRecords = 1000000;

std::string Today() {
  return absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
}

// Collects the records of a SyncPeople stream, then runs the sync on a worker.
class SyncReactor : public grpc::ServerReadReactor<v1::SyncPeopleRequest> {
 public:
  SyncReactor(PeopleHandler* handler, grpc::CallbackServerContext* ctx,
              v1::SyncPeopleResponse* resp)
      : handler_(handler), ctx_(ctx), resp_(resp) {
    auto principal = handler_->runtime()->Authenticate(ctx);
    if (!principal.ok()) {
      Finish(status::ToGrpc(principal.status()));
      return;
    }
    principal_ = *principal;
    if (auto st = handler_->service()->CheckCanSync(principal_); !st.ok()) {
      Finish(status::ToGrpc(st));
      return;
    }
    StartRead(&msg_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Run();
      return;
    }
    absl::Status st = Take();
    if (!st.ok()) {
      Finish(status::ToGrpc(st));
      return;
    }
    StartRead(&msg_);
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Take() {
    if (msg_.item_case() == v1::SyncPeopleRequest::kOptions) {
      if (have_options_ || records_ > 0) {
        return status::InvalidField("options",
                                    "must be sent once, in the first message");
      }
      have_options_ = true;
      options_ = msg_.options();
      return absl::OkStatus();
    }
    if (!have_options_) {
      return status::InvalidField(
          "options", "the first message must carry the sync options");
    }
    if (++records_ > kMaxSyncRecords) {
      return status::InvalidField(
          "records",
          absl::StrCat("at most ", kMaxSyncRecords, " records per sync"));
    }
    int index = records_ - 1;
    if (msg_.item_case() == v1::SyncPeopleRequest::kPerson) {
      input_.people.push_back(RecordOf(index, msg_.mutable_person()));
    } else if (msg_.item_case() == v1::SyncPeopleRequest::kTeam) {
      input_.teams.push_back(RecordOf(index, msg_.mutable_team()));
    } else {
      return status::InvalidField(absl::StrCat("records[", index, "]"),
                                  "must be a person or a team");
    }
    return absl::OkStatus();
  }

  void Run() {
    if (!have_options_) {
      Finish(status::ToGrpc(
          status::InvalidField("options", "the stream carried no options")));
      return;
    }
    switch (options_.mode()) {
      case v1::SyncOptions::FULL:
        input_.mode = SyncMode::kFull;
        break;
      case v1::SyncOptions::INCREMENTAL:
        input_.mode = SyncMode::kIncremental;
        break;
      default:
        Finish(status::ToGrpc(status::InvalidField(
            "options.mode", "must be FULL or INCREMENTAL")));
        return;
    }
    if (auto st = storage::ValidateRequestId(options_.request_id(),
                                             "options.request_id");
        !st.ok()) {
      Finish(status::ToGrpc(st));
      return;
    }
    input_.dry_run = options_.dry_run();
    input_.allow_mass_termination = options_.allow_mass_termination();
    input_.effective_date = options_.effective_date();
    auto* rt = handler_->runtime();
    if (!rt->executor().TrySubmit([this] { Apply(); }))
      Finish(server::Runtime::Overloaded());
  }

  void Apply() {
    // A dry run is never recorded: its key is left empty.
    storage::Idempotency key;
    if (!options_.request_id().empty() && !input_.dry_run) {
      key.scope = absl::StrCat("SyncPeople|", principal_.subject);
      key.request_id = options_.request_id();
      // The fingerprint covers the options and every record, in order.
      std::string all = options_.SerializeAsString();
      for (const auto& p : input_.people) {
        absl::StrAppend(&all, "|p", p.index, ":", p.external_id, ",", p.email,
                        ",", p.display_name, ",", p.title, ",",
                        p.team_external_id, ",", p.manager_external_id, ",",
                        p.status, ",", p.start_date, ",", p.end_date, ",",
                        absl::StrJoin(p.roles, ";"));
      }
      for (const auto& t : input_.teams) {
        absl::StrAppend(&all, "|t", t.index, ":", t.external_id, ",",
                        t.display_name, ",", t.parent_external_id, ",",
                        t.lead_external_id);
      }
      key.fingerprint = storage::Sha256Hex(all);
    }
    bool dry_run = input_.dry_run;
    auto encode = [this, dry_run](const SyncResult& applied) {
      v1::SyncPeopleResponse r;
      Fill(applied, dry_run, &r);
      return r.SerializeAsString();
    };
    absl::Status st;
    {
      auto result = handler_->service()->Sync(principal_, input_, key, encode,
                                              storage::NowMicros(), Today());
      input_ = SyncInput{};
      st = result.status();
      if (result.ok() && result->replayed) {
        if (!resp_->ParseFromString(result->response)) {
          st = absl::DataLossError("stored sync answer does not parse");
        }
      } else if (result.ok()) {
        Fill(*result, dry_run, resp_);
      }
    }
    // A large roster leaves freed heap behind; hand it back to the system.
    malloc_trim(0);
    Finish(handler_->runtime()->Finish(st));
  }

  void Fill(const SyncResult& applied, bool dry_run,
            v1::SyncPeopleResponse* r) {
    ToProto(applied.plan, dry_run, r);
    int64_t seq = applied.last_seq > 0 ? applied.last_seq
                                       : handler_->watch().feed->head();
    r->set_resume_token(server::EncodeResumeToken(
        handler_->runtime()->tokens(), handler_->watch().feed_name, seq));
  }

  PeopleHandler* handler_;
  grpc::CallbackServerContext* ctx_;
  v1::SyncPeopleResponse* resp_;
  auth::Principal principal_;
  v1::SyncPeopleRequest msg_;
  v1::SyncOptions options_;
  bool have_options_ = false;
  int records_ = 0;
  SyncInput input_;
};

}  // namespace

grpc::ServerReadReactor<v1::SyncPeopleRequest>* PeopleHandler::SyncPeople(
    grpc::CallbackServerContext* ctx, v1::SyncPeopleResponse* resp) {
  return new SyncReactor(this, ctx, resp);
}

}  // namespace sightline::people
