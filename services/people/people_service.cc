#include "services/people/people_service.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"
#include "services/people/codec.h"

namespace sightline::people {
namespace {

// Lookups answer one message whichever key missed.
absl::StatusOr<Person> Found(absl::StatusOr<Person> p) {
  if (!p.ok() && p.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError("no person has this key");
  }
  return p;
}

}  // namespace

PeopleService::PeopleService(PeopleRepository* repo, PeopleOptions options)
    : repo_(repo), options_(std::move(options)) {
  if (!options_.new_id) options_.new_id = [] { return storage::NewId(); };
}

absl::Status PeopleService::CheckCanRead(const auth::Principal& p) const {
  if (p.subject.empty()) return absl::UnauthenticatedError("no principal");
  return absl::OkStatus();
}

absl::Status PeopleService::CheckCanSync(const auth::Principal& p) const {
  if (p.HasRole(auth::Role::kHrAdmin) || p.HasRole(auth::Role::kService)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      "syncing the directory needs the hr_admin or service role");
}

absl::StatusOr<Person> PeopleService::GetPerson(const auth::Principal& who,
                                                const std::string& id) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  return repo_->GetPerson(id);
}

absl::StatusOr<std::shared_ptr<const CachedPerson>> PeopleService::PeekPerson(
    const auth::Principal& who, const std::string& id) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  return repo_->PeekPerson(id);
}

absl::StatusOr<std::vector<Person>> PeopleService::BatchGetPeople(
    const auth::Principal& who, const std::vector<std::string>& ids) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  auto people = repo_->GetPeople(ids);
  if (!people.ok()) return people.status();
  if (people->size() != ids.size()) {
    absl::flat_hash_set<std::string> found;
    for (const auto& p : *people) found.insert(p.id);
    for (const auto& id : ids) {
      if (!found.contains(id)) {
        return absl::NotFoundError(
            absl::StrCat("people/", id, " does not exist"));
      }
    }
  }
  return people;
}

absl::StatusOr<std::vector<Person>> PeopleService::ListPeople(
    const auth::Principal& who, const PeopleFilter& filter, const Page& page) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  return repo_->ListPeople(filter, page);
}

absl::StatusOr<Person> PeopleService::LookupByExternalId(
    const auth::Principal& who, const std::string& external_id) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  if (external_id.empty() || external_id.size() > 128) {
    return status::InvalidField("external_id", "must be 1..128 characters");
  }
  return Found(repo_->FindByExternalId(external_id));
}

absl::StatusOr<Person> PeopleService::LookupByEmail(const auth::Principal& who,
                                                    absl::string_view email) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  std::string normalized = NormalizeEmail(email);
  if (!IsValidEmail(normalized)) {
    return status::InvalidField("email", "is not a valid email address");
  }
  return Found(repo_->FindByEmail(normalized));
}

absl::StatusOr<Team> PeopleService::GetTeam(const auth::Principal& who,
                                            const std::string& id) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  return repo_->GetTeam(id);
}

absl::StatusOr<std::vector<Team>> PeopleService::ListTeams(
    const auth::Principal& who, const std::string& parent_id,
    const Page& page) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  return repo_->ListTeams(parent_id, page);
}

absl::StatusOr<std::vector<Person>> PeopleService::ReportingChain(
    const auth::Principal& who, const std::string& id) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  return repo_->ReportingChain(id);
}

absl::StatusOr<std::vector<Person>> PeopleService::ListReports(
    const auth::Principal& who, const std::string& manager_id, bool all_levels,
    int status, const Page& page, bool first_page) {
  if (auto st = CheckCanRead(who); !st.ok()) return st;
  if (first_page) {
    auto manager = repo_->GetPerson(manager_id);
    if (!manager.ok()) return manager.status();
  }
  return repo_->ListReports(manager_id, all_levels, status, page);
}

absl::StatusOr<SyncResult> PeopleService::Sync(
    const auth::Principal& who, const SyncInput& input, const Idempotency& idem,
    const SyncAnswer& answer, int64_t now_micros, const std::string& today) {
  if (auto st = CheckCanSync(who); !st.ok()) return st;
  if (!input.effective_date.empty() && !IsValidDate(input.effective_date)) {
    return status::InvalidField("options.effective_date",
                                "must be a date (YYYY-MM-DD)");
  }
  return Run(
      [&input](const Snapshot&) -> absl::StatusOr<SyncInput> { return input; },
      input.dry_run, idem, answer, now_micros, today);
}

absl::StatusOr<SyncResult> PeopleService::Edit(
    const auth::Principal& who, const EditFn& edit, const Idempotency& idem,
    const SyncAnswer& answer, int64_t now_micros, const std::string& today) {
  if (auto st = CheckCanSync(who); !st.ok()) return st;
  return Run(
      [&edit](const Snapshot& s) -> absl::StatusOr<SyncInput> {
        auto input = edit(s);
        if (input.ok() &&
            (input->mode != SyncMode::kIncremental || input->dry_run)) {
          return absl::InternalError("an edit must be an incremental write");
        }
        return input;
      },
      false, idem, answer, now_micros, today);
}

absl::StatusOr<SyncResult> PeopleService::Run(
    const EditFn& make_input, bool dry_run, const Idempotency& idem,
    const SyncAnswer& answer, int64_t now_micros, const std::string& today) {
  // A dry run changes nothing, so it is neither recorded nor replayed. A
  // retry is answered from the record, even when the directory moved since.
  bool idempotent = !idem.request_id.empty() && !dry_run;
  SyncResult result;
  auto body = [&](SyncTx& tx) -> absl::Status {
    // A transaction may be retried from the start.
    result = SyncResult{};
    if (idempotent) {
      auto prior = tx.FindIdempotent(idem);
      if (!prior.ok()) return prior.status();
      if (prior->has_value()) {
        result.replayed = true;
        result.response = std::move(**prior);
        return absl::OkStatus();
      }
    }
    auto snapshot = tx.ReadAll();
    if (!snapshot.ok()) return snapshot.status();
    auto input = make_input(*snapshot);
    if (!input.ok()) return input.status();
    auto plan = PlanSync(*snapshot, *input, options_.policy, options_.new_id,
                         now_micros, today);
    if (!plan.ok()) return plan.status();
    result.plan = std::move(*plan);
    if (dry_run) return absl::OkStatus();
    if (auto st = tx.Apply(result.plan); !st.ok()) return st;
    if (!idempotent) return absl::OkStatus();
    return tx.RecordIdempotent(idem, [&result, &answer](int64_t last_seq) {
      result.last_seq = last_seq;
      return answer(result);
    });
  };
  int64_t last_seq = 0;
  if (auto st = repo_->Sync(dry_run, body, &last_seq); !st.ok()) {
    return st;
  }
  result.last_seq = last_seq;
  return result;
}

absl::StatusOr<std::optional<DirectoryChange>> PeopleService::DecodeChange(
    absl::string_view entity, int kind, absl::string_view payload) {
  DirectoryChange change;
  change.kind = kind;
  if (entity == kPersonEntity) {
    Person p;
    if (!DecodePerson(payload, &p))
      return absl::DataLossError("change payload");
    change.person = std::move(p);
  } else if (entity == kTeamEntity) {
    Team t;
    if (!DecodeTeam(payload, &t)) return absl::DataLossError("change payload");
    change.team = std::move(t);
  } else {
    return std::nullopt;
  }
  return change;
}

}  // namespace sightline::people
