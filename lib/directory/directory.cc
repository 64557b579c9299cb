#include "lib/directory/directory.h"

#include <deque>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "lib/status/status.h"
#include "lib/telemetry/log.h"

namespace sightline::directory {
namespace {

namespace pv1 = people::v1;
using google::protobuf::util::TimeUtil;

constexpr int kMaxDepth = 64;

std::string IdOf(absl::string_view name, absl::string_view prefix) {
  absl::ConsumePrefix(&name, prefix);
  return std::string(name);
}

TeamEntry TeamFromProto(const pv1::Team& t) {
  TeamEntry e;
  e.id = IdOf(t.name(), "teams/");
  e.external_id = t.external_id();
  e.display_name = t.display_name();
  e.parent_id = IdOf(t.parent(), "teams/");
  e.lead_id = IdOf(t.lead(), "people/");
  e.update_time = TimeUtil::TimestampToMicroseconds(t.update_time());
  return e;
}

}  // namespace

PersonEntry FromProto(const pv1::Person& p) {
  PersonEntry e;
  e.id = IdOf(p.name(), "people/");
  e.external_id = p.external_id();
  e.email = p.email();
  e.display_name = p.display_name();
  e.team_id = IdOf(p.team(), "teams/");
  e.manager_id = IdOf(p.manager(), "people/");
  e.status = p.status() == pv1::Person::TERMINATED ? PersonStatus::kTerminated
             : p.status() == pv1::Person::ON_LEAVE ? PersonStatus::kOnLeave
                                                   : PersonStatus::kActive;
  e.update_time = TimeUtil::TimestampToMicroseconds(p.update_time());
  return e;
}

Directory::Directory(std::shared_ptr<grpc::Channel> channel,
                     server::ServiceToken* token, DirectoryOptions options)
    : channel_(std::move(channel)),
      stub_(pv1::PeopleService::NewStub(channel_)),
      token_(token),
      options_(options) {}

Directory::~Directory() { Stop(); }

void Directory::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Directory::Stop() {
  stopping_ = true;
  {
    absl::MutexLock lock(&stream_mu_);
    if (stream_ctx_ != nullptr) stream_ctx_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool Directory::WaitReady(absl::Duration timeout) const {
  return ready_.WaitForNotificationWithTimeout(timeout);
}

void Directory::Apply(const pv1::Person& proto) {
  PersonEntry e = FromProto(proto);
  absl::MutexLock lock(&mu_);
  auto it = people_.find(e.id);
  if (it != people_.end()) {
    // The load and the Watch overlap: keep the newest version.
    if (it->second.update_time > e.update_time) return;
    if (it->second.email != e.email) by_email_.erase(it->second.email);
  }
  by_email_[e.email] = e.id;
  by_external_id_[e.external_id] = e.id;
  people_[e.id] = std::move(e);
}

void Directory::Apply(const pv1::Team& proto) {
  TeamEntry e = TeamFromProto(proto);
  absl::MutexLock lock(&mu_);
  auto it = teams_.find(e.id);
  if (it != teams_.end() && it->second.update_time > e.update_time) return;
  teams_[e.id] = std::move(e);
}

void Directory::Run() {
  std::string resume_token;
  absl::Duration backoff = options_.min_backoff;
  while (!stopping_) {
    absl::Status st = Follow(&resume_token);
    if (stopping_) break;
    telemetry::LogWarn("people directory stream ended; reconnecting",
                       {{"error", st.message()},
                        {"backoff_ms", absl::ToInt64Milliseconds(backoff)}});
    // Sleep in small steps so Stop() is prompt.
    absl::Time until = absl::Now() + backoff;
    while (!stopping_ && absl::Now() < until)
      absl::SleepFor(absl::Milliseconds(20));
    backoff = std::min(backoff * 2, options_.max_backoff);
    if (st.ok()) backoff = options_.min_backoff;
  }
}

// One Watch stream: on the first connection, the stream is opened before the
// directory is listed, so no change can fall between the two; later
// connections resume from the last token received.
absl::Status Directory::Follow(std::string* resume_token) {
  grpc::ClientContext ctx;
  auto header = token_->Header();
  if (!header.ok()) return header.status();
  ctx.AddMetadata("authorization", *header);
  {
    absl::MutexLock lock(&stream_mu_);
    if (stopping_) return absl::CancelledError("stopping");
    stream_ctx_ = &ctx;
  }
  struct Clear {
    Directory* d;
    ~Clear() {
      absl::MutexLock lock(&d->stream_mu_);
      d->stream_ctx_ = nullptr;
    }
  } clear{this};
  pv1::WatchPeopleRequest req;
  req.set_resume_token(*resume_token);
  auto reader = stub_->WatchPeople(&ctx, req);
  reader->WaitForInitialMetadata();
  // Without a resume token (first connection, or a stream that ended before
  // its first event) the stream starts "now": list everything again after it
  // is open, so nothing committed in between is missed.
  if (resume_token->empty()) {
    auto st = Load();
    if (!st.ok()) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return st;
    }
    if (!ready()) ready_.Notify();
    telemetry::LogInfo("people directory loaded",
                       {{"people", static_cast<int64_t>(people_count())}});
  }
  pv1::WatchPeopleResponse event;
  while (reader->Read(&event)) {
    if (event.has_person()) Apply(event.person());
    if (event.has_team()) Apply(event.team());
    *resume_token = event.resume_token();
  }
  grpc::Status s = reader->Finish();
  if (s.error_code() == grpc::StatusCode::OUT_OF_RANGE ||
      s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // The token is too old (or from another deployment): start afresh.
    resume_token->clear();
  }
  return status::FromGrpc(s);
}

absl::Status Directory::Load() {
  std::string page;
  do {
    grpc::ClientContext ctx;
    if (auto st = token_->Prepare(&ctx, options_.call_timeout); !st.ok())
      return st;
    pv1::ListPeopleRequest req;
    req.set_page_size(1000);
    req.set_page_token(page);
    pv1::ListPeopleResponse resp;
    grpc::Status s = stub_->ListPeople(&ctx, req, &resp);
    if (!s.ok()) return status::FromDependency("people", s);
    for (const auto& p : resp.people()) Apply(p);
    page = resp.next_page_token();
  } while (!page.empty() && !stopping_);
  page.clear();
  do {
    grpc::ClientContext ctx;
    if (auto st = token_->Prepare(&ctx, options_.call_timeout); !st.ok())
      return st;
    pv1::ListTeamsRequest req;
    req.set_page_size(1000);
    req.set_page_token(page);
    pv1::ListTeamsResponse resp;
    grpc::Status s = stub_->ListTeams(&ctx, req, &resp);
    if (!s.ok()) return status::FromDependency("people", s);
    for (const auto& t : resp.teams()) Apply(t);
    page = resp.next_page_token();
  } while (!page.empty() && !stopping_);
  return absl::OkStatus();
}

std::optional<PersonEntry> Directory::Person(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = people_.find(id);
  if (it == people_.end()) return std::nullopt;
  return it->second;
}

std::optional<TeamEntry> Directory::Team(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = teams_.find(id);
  if (it == teams_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Directory::ResolveSubject(
    const std::string& subject) const {
  absl::string_view s = subject;
  absl::MutexLock lock(&mu_);
  if (absl::ConsumePrefix(&s, "people/")) {
    if (people_.contains(std::string(s))) return std::string(s);
    return std::nullopt;
  }
  if (absl::StrContains(subject, "@")) {
    auto it = by_email_.find(absl::AsciiStrToLower(subject));
    if (it != by_email_.end()) return it->second;
    return std::nullopt;
  }
  auto it = by_external_id_.find(subject);
  if (it != by_external_id_.end()) return it->second;
  return std::nullopt;
}

std::vector<std::string> Directory::ManagementChain(
    const std::string& person_id) const {
  std::vector<std::string> chain;
  absl::MutexLock lock(&mu_);
  absl::flat_hash_set<std::string> seen = {person_id};
  std::string cur = person_id;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    auto it = people_.find(cur);
    if (it == people_.end() || it->second.manager_id.empty()) break;
    cur = it->second.manager_id;
    if (!seen.insert(cur).second) break;
    chain.push_back(cur);
  }
  return chain;
}

std::vector<std::string> Directory::TeamMembers(const std::string& team_id,
                                                bool subteams) const {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_set<std::string> teams = {team_id};
  if (subteams) {
    // Teams whose parent chain reaches team_id.
    for (const auto& [id, t] : teams_) {
      std::string cur = id;
      absl::flat_hash_set<std::string> seen;
      for (int d = 0; d < kMaxDepth && !cur.empty() && seen.insert(cur).second;
           ++d) {
        if (cur == team_id) {
          teams.insert(id);
          break;
        }
        auto it = teams_.find(cur);
        cur = it == teams_.end() ? "" : it->second.parent_id;
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& [id, p] : people_) {
    if (p.active() && teams.contains(p.team_id)) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Directory::Reports(const std::string& manager_id,
                                            bool all_levels) const {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_map<std::string, std::vector<std::string>> children;
  for (const auto& [id, p] : people_) {
    if (!p.manager_id.empty()) children[p.manager_id].push_back(id);
  }
  std::vector<std::string> out;
  absl::flat_hash_set<std::string> seen = {manager_id};
  std::deque<std::string> queue = {manager_id};
  while (!queue.empty()) {
    std::string cur = queue.front();
    queue.pop_front();
    for (const auto& child : children[cur]) {
      if (!seen.insert(child).second) continue;
      if (people_.at(child).active()) out.push_back(child);
      if (all_levels) queue.push_back(child);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Directory::people_count() const {
  absl::MutexLock lock(&mu_);
  return people_.size();
}

absl::StatusOr<std::vector<PersonEntry>> Directory::FetchPeople(
    const std::vector<std::string>& ids) {
  std::vector<PersonEntry> out;
  for (size_t start = 0; start < ids.size(); start += 1000) {
    grpc::ClientContext ctx;
    if (auto st = token_->Prepare(&ctx, options_.call_timeout); !st.ok())
      return st;
    pv1::BatchGetPeopleRequest req;
    for (size_t i = start; i < ids.size() && i < start + 1000; ++i) {
      req.add_names(absl::StrCat("people/", ids[i]));
    }
    pv1::BatchGetPeopleResponse resp;
    grpc::Status s = stub_->BatchGetPeople(&ctx, req, &resp);
    if (!s.ok()) return status::FromDependency("people", s);
    for (const auto& p : resp.people()) {
      Apply(p);
      out.push_back(FromProto(p));
    }
  }
  return out;
}

absl::StatusOr<TeamEntry> Directory::FetchTeam(const std::string& id) {
  grpc::ClientContext ctx;
  if (auto st = token_->Prepare(&ctx, options_.call_timeout); !st.ok())
    return st;
  pv1::GetTeamRequest req;
  req.set_name(absl::StrCat("teams/", id));
  pv1::Team resp;
  grpc::Status s = stub_->GetTeam(&ctx, req, &resp);
  if (!s.ok()) return status::FromDependency("people", s);
  Apply(resp);
  return TeamFromProto(resp);
}

absl::StatusOr<std::vector<std::string>> Directory::FetchReportingChain(
    const std::string& id) {
  grpc::ClientContext ctx;
  if (auto st = token_->Prepare(&ctx, options_.call_timeout); !st.ok())
    return st;
  pv1::GetReportingChainRequest req;
  req.set_name(absl::StrCat("people/", id));
  pv1::GetReportingChainResponse resp;
  grpc::Status s = stub_->GetReportingChain(&ctx, req, &resp);
  if (!s.ok()) return status::FromDependency("people", s);
  std::vector<std::string> out;
  for (const auto& m : resp.managers()) {
    Apply(m);
    out.push_back(IdOf(m.name(), "people/"));
  }
  return out;
}

absl::StatusOr<PersonEntry> Directory::FetchBySubject(
    const std::string& subject) {
  grpc::ClientContext ctx;
  if (auto st = token_->Prepare(&ctx, options_.call_timeout); !st.ok())
    return st;
  absl::string_view s = subject;
  pv1::Person resp;
  grpc::Status status;
  if (absl::ConsumePrefix(&s, "people/")) {
    pv1::GetPersonRequest req;
    req.set_name(subject);
    status = stub_->GetPerson(&ctx, req, &resp);
  } else {
    pv1::LookupPersonRequest req;
    if (absl::StrContains(subject, "@")) {
      req.set_email(subject);
    } else {
      req.set_external_id(subject);
    }
    status = stub_->LookupPerson(&ctx, req, &resp);
  }
  if (!status.ok()) return status::FromDependency("people", status);
  Apply(resp);
  return FromProto(resp);
}

absl::Status Directory::ValidatePeople(const std::vector<std::string>& ids,
                                       const std::vector<std::string>& fields) {
  std::vector<std::string> unique;
  absl::flat_hash_map<std::string, bool> seen;
  for (const auto& id : ids) {
    if (!seen.contains(id)) unique.push_back(id);
    seen[id] = true;
  }
  auto found = FetchPeople(unique);
  absl::flat_hash_map<std::string, directory::PersonEntry> by_id;
  if (found.ok()) {
    for (auto& p : *found) by_id[p.id] = p;
  } else if (found.status().code() == absl::StatusCode::kNotFound) {
    // The batch is all or nothing: find out which ones exist, one by one.
    for (const auto& id : unique) {
      auto p = FetchBySubject(absl::StrCat("people/", id));
      if (p.ok()) {
        by_id[p->id] = *p;
      } else if (p.status().code() != absl::StatusCode::kNotFound) {
        return p.status();
      }
    }
  } else {
    return found.status();
  }
  status::FieldErrors errors;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = by_id.find(ids[i]);
    const std::string& field = i < fields.size() ? fields[i] : "person";
    if (it == by_id.end()) {
      errors.Add(field, absl::StrCat("people/", ids[i], " does not exist"));
    } else if (!it->second.active()) {
      errors.Add(field,
                 absl::StrCat("people/", ids[i], " has left the organization"));
    }
  }
  return errors.Build();
}

}  // namespace sightline::directory
