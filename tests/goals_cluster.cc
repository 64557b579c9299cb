#include "tests/goals_cluster.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"

namespace sightline::testing {
namespace {

std::string Email(const std::string& ext) {
  return absl::StrCat(ext, "@example.com");
}

absl::Status FromGrpcStatus(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

// Labels of one sample line (`name{a="x",b="y"} value`), unescaped.
std::map<std::string, std::string> ParseLabels(absl::string_view text) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t eq = text.find('=', i);
    if (eq == absl::string_view::npos || eq + 1 >= text.size() ||
        text[eq + 1] != '"') {
      break;
    }
    std::string key(text.substr(i, eq - i));
    std::string value;
    size_t j = eq + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) ++j;
      value.push_back(text[j]);
    }
    out[key] = value;
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  return out;
}

}  // namespace

OrgSpec DefaultOrg() {
  OrgSpec org;
  org.teams = {{"exec", "", "ceo"},
               {"eng", "exec", "mgr-eng"},
               {"platform", "eng", ""},
               {"sales", "exec", "mgr-sales"}};
  org.people = {{"ceo", "", "exec", {}},
                {"hr", "ceo", "exec", {auth::Role::kHrAdmin}},
                {"mgr-eng", "ceo", "eng", {}},
                {"ic-eng-1", "mgr-eng", "eng", {}},
                {"ic-eng-2", "mgr-eng", "eng", {}},
                {"ic-plat", "mgr-eng", "platform", {}},
                {"mgr-sales", "ceo", "sales", {}},
                {"ic-sales-1", "mgr-sales", "sales", {}},
                {"ic-sales-2", "mgr-sales", "sales", {}}};
  return org;
}

absl::StatusOr<std::unique_ptr<GoalsCluster>> GoalsCluster::Start(
    Db db, std::vector<std::string> goals_args, OrgSpec org,
    BeforeGoals before_goals) {
  std::unique_ptr<GoalsCluster> c(new GoalsCluster());
  auto people = PeopleCluster::Start(db);
  if (!people.ok()) return people.status();
  c->people_ = std::move(*people);
  if (auto st = c->Seed(org); !st.ok()) return st;

  std::string db_url = c->dir() + "/goals.db";
  if (db == Db::kPostgres) {
    if (c->people_->postgres() == nullptr)
      return absl::InternalError("the people cluster has no PostgreSQL");
    auto url = c->people_->postgres()->CreateDatabase("goals");
    if (!url.ok()) return url.status();
    db_url = *url;
  }
  std::vector<std::string> args = {
      "--db=" + db_url,
      "--redis=" + c->people_->redis().url(),
      "--jwt_key_file=" + c->people_->tokens().secret_file(),
      "--people_address=" + c->people_->service().address(),
      "--change_poll_interval=50ms",
      "--shutdown_grace=10s"};
  args.insert(args.end(), goals_args.begin(), goals_args.end());
  if (before_goals) {
    auto more = before_goals(*c);
    if (!more.ok()) return more.status();
    args.insert(args.end(), more->begin(), more->end());
  }
  c->goals_args_ = args;
  auto svc = ServiceProcess::Start(c->dir(), "goals",
                                   BinaryPath("SIGHTLINE_GOALS_BINARY"), args);
  if (!svc.ok()) return svc.status();
  c->goals_ = std::move(*svc);
  c->stub_ = c->NewStub();
  if (auto st = c->WaitForOrg(org, absl::Seconds(60)); !st.ok()) return st;
  return c;
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> GoalsCluster::StartReplica(
    const std::string& name) {
  auto svc = ServiceProcess::Start(
      dir(), name, BinaryPath("SIGHTLINE_GOALS_BINARY"), goals_args_);
  if (!svc.ok()) return svc.status();
  // The org was seeded before: the replica's first load of the directory
  // holds it.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!absl::StrContains((*svc)->Log(), "people directory loaded")) {
    if (absl::Now() > deadline) {
      (*svc)->Stop();
      return absl::DeadlineExceededError("the goals replica never loaded");
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return svc;
}

GoalsCluster::~GoalsCluster() {
  // The goals process first: it follows the people service, not the reverse.
  // Our channel first: the server's shutdown waits on open connections.
  stub_.reset();
  if (goals_ != nullptr) goals_->Stop();
  goals_.reset();
  people_.reset();
}

std::unique_ptr<gv1::GoalService::Stub> GoalsCluster::NewStub() const {
  return gv1::GoalService::NewStub(goals_->Channel());
}

absl::Status SeedOrg(PeopleCluster& people, const OrgSpec& org,
                     std::map<std::string, std::string>* person_names,
                     std::map<std::string, std::string>* team_names) {
  std::vector<pv1::SyncPeopleRequest> records;
  for (const auto& t : org.teams) {
    auto m = TeamMsg(t.ext, t.parent);
    m.mutable_team()->set_lead_external_id(t.lead);
    records.push_back(std::move(m));
  }
  for (const auto& p : org.people) {
    records.push_back(PersonMsg(p.ext, p.manager, p.team));
  }
  pv1::SyncPeopleResponse resp;
  if (auto st = FromGrpcStatus(people.Sync(Full(), records, &resp), "sync");
      !st.ok()) {
    return st;
  }
  auto stub = people.Stub();
  for (const auto& p : org.people) {
    grpc::ClientContext ctx;
    Authorize(&ctx, people.AdminToken());
    pv1::LookupPersonRequest req;
    req.set_external_id(p.ext);
    pv1::Person person;
    if (auto st = FromGrpcStatus(stub->LookupPerson(&ctx, req, &person),
                                 "lookup " + p.ext);
        !st.ok()) {
      return st;
    }
    (*person_names)[p.ext] = person.name();
  }
  std::string page;
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext ctx;
    Authorize(&ctx, people.AdminToken());
    pv1::ListTeamsRequest req;
    req.set_page_size(1000);
    req.set_page_token(page);
    pv1::ListTeamsResponse teams;
    if (auto st =
            FromGrpcStatus(stub->ListTeams(&ctx, req, &teams), "list teams");
        !st.ok()) {
      return st;
    }
    for (const auto& t : teams.teams())
      (*team_names)[t.external_id()] = t.name();
    page = teams.next_page_token();
    if (page.empty()) break;
  }
  for (const auto& t : org.teams) {
    if (!team_names->contains(t.ext))
      return absl::InternalError("team " + t.ext + " was not created");
  }
  return absl::OkStatus();
}

absl::Status GoalsCluster::Seed(const OrgSpec& org) {
  for (const auto& p : org.people) roles_[p.ext] = p.roles;
  return SeedOrg(*people_, org, &person_names_, &team_names_);
}

// The replica has loaded the org when the goals process says so and every
// person resolves from their token: ListDueCheckIns for oneself is allowed
// only to a caller the replica knows as that person.
absl::Status GoalsCluster::WaitForOrg(const OrgSpec& org,
                                      absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!absl::StrContains(goals_->Log(), "people directory loaded")) {
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError("the goals replica never loaded");
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (const auto& p : org.people) {
    grpc::Status last;
    for (;;) {
      gv1::ListDueCheckInsRequest req;
      req.set_person(Person(p.ext));
      gv1::ListDueCheckInsResponse resp;
      last = Call(&gv1::GoalService::Stub::ListDueCheckIns, Token(p.ext), req,
                  &resp);
      if (last.ok()) break;
      if (absl::Now() > deadline) {
        return FromGrpcStatus(last, "the goals replica does not know " + p.ext);
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  return absl::OkStatus();
}

const std::string& GoalsCluster::Person(const std::string& ext) const {
  auto it = person_names_.find(ext);
  if (it == person_names_.end()) {
    ADD_FAILURE() << "no person " << ext << " in the org";
    static const std::string* empty = new std::string();
    return *empty;
  }
  return it->second;
}

const std::string& GoalsCluster::Team(const std::string& ext) const {
  auto it = team_names_.find(ext);
  if (it == team_names_.end()) {
    ADD_FAILURE() << "no team " << ext << " in the org";
    static const std::string* empty = new std::string();
    return *empty;
  }
  return it->second;
}

std::string GoalsCluster::Token(const std::string& ext) const {
  auto it = roles_.find(ext);
  std::vector<auth::Role> roles;
  if (it != roles_.end()) roles = it->second;
  return people_->tokens().Mint(Email(ext), roles);
}

std::string GoalsCluster::ServiceToken() const {
  return people_->tokens().Mint("goals-it-service", {auth::Role::kService});
}

absl::StatusOr<gv1::Cycle> GoalsCluster::CreateCycle(
    const std::string& display_name) {
  absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  gv1::CreateCycleRequest req;
  req.mutable_cycle()->set_display_name(display_name);
  req.mutable_cycle()->set_start_date(absl::FormatCivilTime(today));
  req.mutable_cycle()->set_end_date(absl::FormatCivilTime(today + 300));
  req.mutable_cycle()->set_state(gv1::Cycle::ACTIVE);
  gv1::Cycle cycle;
  if (auto st = FromGrpcStatus(
          Call(&gv1::GoalService::Stub::CreateCycle, Token("hr"), req, &cycle),
          "create cycle");
      !st.ok()) {
    return st;
  }
  return cycle;
}

grpc::Status GoalsCluster::CreateGoal(
    const std::string& as, const gv1::Goal& goal,
    const std::vector<gv1::KeyResult>& key_results, gv1::Goal* out,
    const std::string& request_id) {
  gv1::CreateGoalRequest req;
  *req.mutable_goal() = goal;
  for (const auto& k : key_results) *req.add_key_results() = k;
  req.set_request_id(request_id);
  return Call(&gv1::GoalService::Stub::CreateGoal, Token(as), req, out);
}

grpc::Status GoalsCluster::GetGoal(const std::string& as,
                                   const std::string& name, gv1::Goal* out) {
  gv1::GetGoalRequest req;
  req.set_name(name);
  return Call(&gv1::GoalService::Stub::GetGoal, Token(as), req, out);
}

absl::StatusOr<std::vector<gv1::KeyResult>> GoalsCluster::KeyResults(
    const std::string& as, const std::string& goal) {
  gv1::ListKeyResultsRequest req;
  req.set_parent(goal);
  gv1::ListKeyResultsResponse resp;
  if (auto st = FromGrpcStatus(
          Call(&gv1::GoalService::Stub::ListKeyResults, Token(as), req, &resp),
          "list key results");
      !st.ok()) {
    return st;
  }
  return std::vector<gv1::KeyResult>(resp.key_results().begin(),
                                     resp.key_results().end());
}

grpc::Status GoalsCluster::CheckIn(const std::string& as,
                                   const std::string& goal,
                                   const std::string& key_result, double value,
                                   gv1::CheckIn* out,
                                   const std::string& request_id) {
  gv1::CreateCheckInRequest req;
  req.set_parent(goal);
  auto* v = req.mutable_check_in()->add_values();
  v->set_key_result(key_result);
  v->set_value(value);
  req.mutable_check_in()->set_confidence(0.8);
  req.mutable_check_in()->set_note(absl::StrCat("moved to ", value));
  req.set_request_id(request_id);
  return Call(&gv1::GoalService::Stub::CreateCheckIn, Token(as), req, out);
}

grpc::Status GoalsCluster::ListAllGoals(const std::string& as,
                                        gv1::ListGoalsRequest request,
                                        std::vector<gv1::Goal>* out) {
  out->clear();
  for (int page = 0; page < 100; ++page) {
    gv1::ListGoalsResponse resp;
    grpc::Status s =
        Call(&gv1::GoalService::Stub::ListGoals, Token(as), request, &resp);
    if (!s.ok()) return s;
    out->insert(out->end(), resp.goals().begin(), resp.goals().end());
    if (resp.next_page_token().empty()) return grpc::Status::OK;
    request.set_page_token(resp.next_page_token());
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "more than 100 pages");
}

grpc::Status GoalsCluster::Tree(const std::string& as,
                                const gv1::GetAlignmentTreeRequest& request,
                                std::vector<gv1::AlignmentNode>* nodes) {
  nodes->clear();
  grpc::ClientContext ctx;
  Authorize(&ctx, Token(as), absl::Seconds(20));
  auto reader = stub_->GetAlignmentTree(&ctx, request);
  gv1::AlignmentTreeChunk chunk;
  while (reader->Read(&chunk)) {
    nodes->insert(nodes->end(), chunk.nodes().begin(), chunk.nodes().end());
  }
  return reader->Finish();
}

gv1::Goal GoalMsg(const std::string& title, const std::string& owner,
                  gv1::Level level, const std::string& cycle,
                  const std::string& parent, gv1::Goal::Visibility visibility) {
  gv1::Goal g;
  g.set_title(title);
  g.set_owner(owner);
  g.set_level(level);
  g.set_cycle(cycle);
  g.set_parent(parent);
  g.set_visibility(visibility);
  return g;
}

gv1::KeyResult NumberKr(const std::string& title, double baseline,
                        double target) {
  gv1::KeyResult k;
  k.set_title(title);
  k.set_measure(gv1::KeyResult::NUMBER);
  k.set_direction(gv1::KeyResult::INCREASE);
  k.set_baseline(baseline);
  k.set_target(target);
  k.set_current(baseline);
  return k;
}

GoalWatch::GoalWatch(gv1::GoalService::Stub* stub, const std::string& token,
                     const std::string& resume_token, absl::Duration deadline) {
  Authorize(&ctx_, token, deadline);
  gv1::WatchGoalsRequest req;
  req.set_resume_token(resume_token);
  reader_ = stub->WatchGoals(&ctx_, req);
  // Headers come once the stream is positioned: whatever commits after this
  // is seen.
  reader_->WaitForInitialMetadata();
}

std::vector<gv1::WatchGoalsResponse> GoalWatch::Read(int n) {
  std::vector<gv1::WatchGoalsResponse> out;
  for (int i = 0; i < n; ++i) {
    gv1::WatchGoalsResponse r;
    if (!reader_->Read(&r)) break;
    out.push_back(std::move(r));
  }
  return out;
}

grpc::Status GoalWatch::Cancel() {
  ctx_.TryCancel();
  return reader_->Finish();
}

std::string GoalOfEvent(const gv1::WatchGoalsResponse& event) {
  std::string name;
  if (event.has_goal()) return event.goal().name();
  if (event.has_key_result()) name = event.key_result().name();
  if (event.has_check_in()) name = event.check_in().name();
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() < 2 || parts[0] != "goals") return "";
  return absl::StrCat("goals/", parts[1]);
}

double SeriesValue(const std::string& exposition, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  double sum = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    size_t brace = line.find('{');
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    absl::string_view series_name = line.substr(
        0, brace == absl::string_view::npos ? space : std::min(brace, space));
    if (series_name != name) continue;
    std::map<std::string, std::string> have;
    if (brace != absl::string_view::npos) {
      size_t close = line.rfind('}');
      if (close == absl::string_view::npos || close < brace) continue;
      have = ParseLabels(line.substr(brace + 1, close - brace - 1));
    }
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = have.find(k);
      match = match && it != have.end() && it->second == v;
    }
    double value = 0;
    if (!match || !absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    sum += value;
    found = true;
  }
  return found ? sum : -1;
}

std::pair<int, std::string> PromtoolCheck(const std::string& exposition,
                                          const std::string& dir) {
  std::string path = dir + "/goals-metrics.txt";
  std::ofstream(path) << exposition;
  std::string cmd = "promtool check metrics < '" + path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

void ClusterFixture::StartCluster(Db db, const std::string& cycle_name,
                                  std::vector<std::string> goals_args) {
  auto c = GoalsCluster::Start(db, std::move(goals_args));
  ASSERT_TRUE(c.ok()) << c.status();
  cluster_ = std::move(*c);
  auto cycle = cluster_->CreateCycle(cycle_name);
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  cycle_ = cycle->name();
}

}  // namespace sightline::testing
