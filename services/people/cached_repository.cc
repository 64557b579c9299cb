#include "services/people/cached_repository.h"

#include "absl/strings/str_cat.h"
#include "services/people/codec.h"
#include "services/people/people_store.pb.h"

namespace sightline::people {
namespace {

std::string PersonKey(absl::string_view id) { return absl::StrCat("p:", id); }
std::string TeamKey(absl::string_view id) { return absl::StrCat("t:", id); }
std::string EmailKey(absl::string_view email) {
  return absl::StrCat("e:", email);
}
std::string ExternalKey(absl::string_view ext) {
  return absl::StrCat("x:", ext);
}
std::string ChainKey(absl::string_view id) { return absl::StrCat("c:", id); }

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("cached ", what, " does not parse"));
}

}  // namespace

absl::StatusOr<Person> CachedPeopleRepository::GetPerson(
    const std::string& id) {
  // Memory is read by PeekPerson (callers try it first); this fills it.
  uint64_t epoch = local_.epoch();
  auto bytes =
      entities_->GetOrLoad(PersonKey(id), [&]() -> absl::StatusOr<std::string> {
        auto p = inner_->GetPerson(id);
        if (!p.ok()) return p.status();
        return EncodePerson(*p);
      });
  if (!bytes.ok()) return bytes.status();
  Person p;
  if (!DecodePerson(*bytes, &p)) return Corrupt("person");
  local_.Put(id, std::make_shared<const CachedPerson>(p), epoch);
  return p;
}

absl::StatusOr<std::vector<Person>> CachedPeopleRepository::GetPeople(
    const std::vector<std::string>& ids) {
  std::vector<Person> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    if (auto hit = local_.Get(id); hit.has_value()) {
      out.push_back((*hit)->value());
      continue;
    }
    auto p = GetPerson(id);
    if (p.ok()) {
      out.push_back(std::move(*p));
    } else if (p.status().code() != absl::StatusCode::kNotFound) {
      return p.status();
    }
  }
  return out;
}

absl::StatusOr<Person> CachedPeopleRepository::ByLookupKey(
    const std::string& key,
    const std::function<absl::StatusOr<Person>()>& find) {
  auto id = entities_->GetOrLoad(key, [&]() -> absl::StatusOr<std::string> {
    auto p = find();
    if (!p.ok()) return p.status();
    return p->id;
  });
  if (!id.ok()) return id.status();
  return GetPerson(*id);
}

absl::StatusOr<Person> CachedPeopleRepository::FindByExternalId(
    const std::string& external_id) {
  return ByLookupKey(ExternalKey(external_id),
                     [&] { return inner_->FindByExternalId(external_id); });
}

absl::StatusOr<Person> CachedPeopleRepository::FindByEmail(
    const std::string& email) {
  return ByLookupKey(EmailKey(email),
                     [&] { return inner_->FindByEmail(email); });
}

absl::StatusOr<std::vector<Person>> CachedPeopleRepository::ReportingChain(
    const std::string& id) {
  auto bytes =
      chains_->GetOrLoad(ChainKey(id), [&]() -> absl::StatusOr<std::string> {
        auto chain = inner_->ReportingChain(id);
        if (!chain.ok()) return chain.status();
        store::PersonList list;
        for (const auto& p : *chain) {
          if (!list.add_people()->ParseFromString(EncodePerson(p)))
            return Corrupt("chain");
        }
        return list.SerializeAsString();
      });
  if (!bytes.ok()) return bytes.status();
  store::PersonList list;
  if (!list.ParseFromString(*bytes)) return Corrupt("chain");
  std::vector<Person> out(static_cast<size_t>(list.people_size()));
  for (int i = 0; i < list.people_size(); ++i) {
    if (!DecodePerson(list.people(i).SerializeAsString(),
                      &out[static_cast<size_t>(i)])) {
      return Corrupt("chain");
    }
  }
  return out;
}

absl::StatusOr<Team> CachedPeopleRepository::GetTeam(const std::string& id) {
  auto bytes =
      entities_->GetOrLoad(TeamKey(id), [&]() -> absl::StatusOr<std::string> {
        auto t = inner_->GetTeam(id);
        if (!t.ok()) return t.status();
        return EncodeTeam(*t);
      });
  if (!bytes.ok()) return bytes.status();
  Team t;
  if (!DecodeTeam(*bytes, &t)) return Corrupt("team");
  return t;
}

namespace {

// Passes a sync through and keeps the keys of what its plan changes, to drop
// them once the transaction committed.
class InvalidatingTx : public SyncTx {
 public:
  explicit InvalidatingTx(SyncTx* inner) : inner_(inner) {}

  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const Idempotency& idem) override {
    return inner_->FindIdempotent(idem);
  }
  absl::StatusOr<Snapshot> ReadAll() override { return inner_->ReadAll(); }
  absl::Status Apply(const SyncPlan& plan) override {
    auto st = inner_->Apply(plan);
    if (!st.ok() || plan.empty()) return st;
    applied = true;
    for (const auto& p : plan.update_people) {
      keys.push_back(PersonKey(p.id));
      local_keys.push_back(p.id);
    }
    for (const auto& t : plan.update_teams) keys.push_back(TeamKey(t.id));
    for (const auto& e : plan.old_emails) keys.push_back(EmailKey(e));
    people_changed = people_changed || !plan.create_people.empty() ||
                     !plan.update_people.empty();
    return st;
  }
  absl::Status RecordIdempotent(
      const Idempotency& idem,
      std::function<std::string(int64_t last_seq)> answer) override {
    return inner_->RecordIdempotent(idem, std::move(answer));
  }

  bool applied = false;  // a plan that changes something
  std::vector<std::string> keys;
  std::vector<std::string> local_keys;
  bool people_changed = false;

 private:
  SyncTx* inner_;
};

}  // namespace

absl::Status CachedPeopleRepository::Sync(
    bool dry_run, const std::function<absl::Status(SyncTx&)>& fn,
    int64_t* last_seq) {
  std::unique_ptr<InvalidatingTx> changed;
  auto st = inner_->Sync(
      dry_run,
      [&](SyncTx& tx) {
        // A retried transaction starts over.
        changed = std::make_unique<InvalidatingTx>(&tx);
        return fn(*changed);
      },
      last_seq);
  if (!st.ok() || changed == nullptr || !changed->applied) return st;
  // After the commit: drop what changed.
  local_.Invalidate(changed->local_keys);
  if (!changed->keys.empty()) entities_->Invalidate(changed->keys);
  if (changed->people_changed) chains_->InvalidateAll();
  return st;
}

}  // namespace sightline::people
