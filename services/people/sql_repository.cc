#include "services/people/sql_repository.h"

#include <soci/soci.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/storage/idempotency.h"
#include "services/people/codec.h"

namespace sightline::people {
namespace {

constexpr char kPersonColumns[] =
    "id, external_id, email, display_name, title, team_id, manager_id, status, "
    "start_date, "
    "end_date, roles, revision, create_time, update_time";
constexpr char kTeamColumns[] =
    "id, external_id, display_name, parent_id, lead_id, revision, create_time, "
    "update_time";

// Column buffers for one person row, bound once to a statement.
struct PersonRow {
  Person p;
  int status = 1;
  std::string roles;
  long long revision = 0, create_time = 0, update_time = 0;

  void Bind(soci::statement& st) {
    st.exchange(soci::into(p.id));
    st.exchange(soci::into(p.external_id));
    st.exchange(soci::into(p.email));
    st.exchange(soci::into(p.display_name));
    st.exchange(soci::into(p.title));
    st.exchange(soci::into(p.team_id));
    st.exchange(soci::into(p.manager_id));
    st.exchange(soci::into(status));
    st.exchange(soci::into(p.start_date));
    st.exchange(soci::into(p.end_date));
    st.exchange(soci::into(roles));
    st.exchange(soci::into(revision));
    st.exchange(soci::into(create_time));
    st.exchange(soci::into(update_time));
  }
  Person Take() {
    Person out = p;
    out.status = static_cast<PersonStatus>(status);
    out.roles = roles.empty()
                    ? std::vector<std::string>{}
                    : std::vector<std::string>(absl::StrSplit(roles, ','));
    out.revision = revision;
    out.create_time = create_time;
    out.update_time = update_time;
    return out;
  }
};

struct TeamRow {
  Team t;
  long long revision = 0, create_time = 0, update_time = 0;
  void Bind(soci::statement& st) {
    st.exchange(soci::into(t.id));
    st.exchange(soci::into(t.external_id));
    st.exchange(soci::into(t.display_name));
    st.exchange(soci::into(t.parent_id));
    st.exchange(soci::into(t.lead_id));
    st.exchange(soci::into(revision));
    st.exchange(soci::into(create_time));
    st.exchange(soci::into(update_time));
  }
  Team Take() {
    Team out = t;
    out.revision = revision;
    out.create_time = create_time;
    out.update_time = update_time;
    return out;
  }
};

// Runs `sql` (with `uses` bound by the caller through `bind`) and collects the
// rows.
template <typename Row, typename Out, typename BindUses>
void Query(soci::session& session, const std::string& sql, BindUses bind_uses,
           std::vector<Out>* out) {
  Row row;
  soci::statement st(session);
  row.Bind(st);
  bind_uses(st);
  st.alloc();
  st.prepare(sql);
  st.define_and_bind();
  st.execute(false);
  while (st.fetch()) out->push_back(row.Take());
}

void EmitPerson(storage::Tx& tx, const Person& p, ChangeKind kind) {
  tx.Emit({std::string(kPersonEntity), absl::StrCat("people/", p.id),
           static_cast<int>(kind), EncodePerson(p), ""});
}

void EmitTeam(storage::Tx& tx, const Team& t, ChangeKind kind) {
  tx.Emit({std::string(kTeamEntity), absl::StrCat("teams/", t.id),
           static_cast<int>(kind), EncodeTeam(t), ""});
}

struct PersonColumns {
  std::vector<std::string> id, external_id, email, display_name, title, team_id,
      manager_id, start_date, end_date, roles;
  std::vector<int> status;
  std::vector<long long> revision, create_time, update_time;

  explicit PersonColumns(const std::vector<Person>& people) {
    for (const auto& p : people) {
      id.push_back(p.id);
      external_id.push_back(p.external_id);
      email.push_back(p.email);
      display_name.push_back(p.display_name);
      title.push_back(p.title);
      team_id.push_back(p.team_id);
      manager_id.push_back(p.manager_id);
      status.push_back(static_cast<int>(p.status));
      start_date.push_back(p.start_date);
      end_date.push_back(p.end_date);
      roles.push_back(absl::StrJoin(p.roles, ","));
      revision.push_back(p.revision);
      create_time.push_back(p.create_time);
      update_time.push_back(p.update_time);
    }
  }
};

void InsertPeople(soci::session& sql, const std::vector<Person>& people) {
  if (people.empty()) return;
  PersonColumns c(people);
  sql << "INSERT INTO people (" << kPersonColumns
      << ") VALUES (:id, :ext, :email, :dn, :title, :team, :mgr, :status, :sd, "
         ":ed, :roles, "
         ":rev, :ct, :ut)",
      soci::use(c.id), soci::use(c.external_id), soci::use(c.email),
      soci::use(c.display_name), soci::use(c.title), soci::use(c.team_id),
      soci::use(c.manager_id), soci::use(c.status), soci::use(c.start_date),
      soci::use(c.end_date), soci::use(c.roles), soci::use(c.revision),
      soci::use(c.create_time), soci::use(c.update_time);
}

void UpdatePeople(soci::session& sql, const std::vector<Person>& people) {
  if (people.empty()) return;
  PersonColumns c(people);
  sql << "UPDATE people SET email = :email, display_name = :dn, title = "
         ":title, team_id = :team, "
         "manager_id = :mgr, status = :status, start_date = :sd, end_date = "
         ":ed, roles = :roles, "
         "revision = :rev, update_time = :ut WHERE id = :id",
      soci::use(c.email), soci::use(c.display_name), soci::use(c.title),
      soci::use(c.team_id), soci::use(c.manager_id), soci::use(c.status),
      soci::use(c.start_date), soci::use(c.end_date), soci::use(c.roles),
      soci::use(c.revision), soci::use(c.update_time), soci::use(c.id);
}

struct TeamColumns {
  std::vector<std::string> id, external_id, display_name, parent_id, lead_id;
  std::vector<long long> revision, create_time, update_time;
  explicit TeamColumns(const std::vector<Team>& teams) {
    for (const auto& t : teams) {
      id.push_back(t.id);
      external_id.push_back(t.external_id);
      display_name.push_back(t.display_name);
      parent_id.push_back(t.parent_id);
      lead_id.push_back(t.lead_id);
      revision.push_back(t.revision);
      create_time.push_back(t.create_time);
      update_time.push_back(t.update_time);
    }
  }
};

}  // namespace

const std::vector<storage::Migration>& PeopleMigrations() {
  static const auto* m = new std::vector<storage::Migration>{
      {1, "people and teams", R"sql(
CREATE TABLE teams (
  id TEXT PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  parent_id TEXT NOT NULL,
  lead_id TEXT NOT NULL,
  revision BIGINT NOT NULL,
  create_time BIGINT NOT NULL,
  update_time BIGINT NOT NULL
);
CREATE INDEX teams_parent ON teams (parent_id, id);
CREATE TABLE people (
  id TEXT PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  title TEXT NOT NULL,
  team_id TEXT NOT NULL,
  manager_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  start_date TEXT NOT NULL,
  end_date TEXT NOT NULL,
  roles TEXT NOT NULL,
  revision BIGINT NOT NULL,
  create_time BIGINT NOT NULL,
  update_time BIGINT NOT NULL
);
CREATE INDEX people_manager ON people (manager_id, id);
CREATE INDEX people_team ON people (team_id, id);
CREATE INDEX people_status ON people (status, id);
)sql",
       ""},
  };
  return *m;
}

absl::StatusOr<Person> SqlPeopleRepository::FindOne(absl::string_view op,
                                                    const std::string& column,
                                                    const std::string& value) {
  std::vector<Person> out;
  auto st = db_->Read(op, [&](soci::session& sql) {
    Query<PersonRow>(
        sql,
        absl::StrCat("SELECT ", kPersonColumns, " FROM people WHERE ", column,
                     " = :v"),
        [&](soci::statement& s) { s.exchange(soci::use(value)); }, &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (out.empty())
    return absl::NotFoundError(absl::StrCat("no person with this ", column));
  return out.front();
}

absl::StatusOr<Person> SqlPeopleRepository::GetPerson(const std::string& id) {
  auto p = FindOne("people.get", "id", id);
  if (!p.ok() && p.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("people/", id, " does not exist"));
  }
  return p;
}

absl::StatusOr<std::vector<Person>> SqlPeopleRepository::GetPeople(
    const std::vector<std::string>& ids) {
  absl::flat_hash_map<std::string, Person> found;
  auto st = db_->Read("people.batch_get", [&](soci::session& sql) {
    Person p;
    PersonRow row;
    std::string id;
    soci::statement s(sql);
    row.Bind(s);
    s.exchange(soci::use(id));
    s.alloc();
    s.prepare(
        absl::StrCat("SELECT ", kPersonColumns, " FROM people WHERE id = :id"));
    s.define_and_bind();
    for (const auto& want : ids) {
      id = want;
      if (s.execute(true)) found.emplace(want, row.Take());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  std::vector<Person> out;
  for (const auto& id : ids) {
    auto it = found.find(id);
    if (it != found.end()) out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<Person> SqlPeopleRepository::FindByExternalId(
    const std::string& external_id) {
  return FindOne("people.by_external_id", "external_id", external_id);
}

absl::StatusOr<Person> SqlPeopleRepository::FindByEmail(
    const std::string& email) {
  return FindOne("people.by_email", "email", email);
}

absl::StatusOr<std::vector<Person>> SqlPeopleRepository::ListPeople(
    const PeopleFilter& f, const Page& page) {
  std::vector<Person> out;
  auto st = db_->Read("people.list", [&](soci::session& sql) {
    std::string q = absl::StrCat("SELECT ", kPersonColumns,
                                 " FROM people WHERE id > :after");
    if (!f.team_id.empty()) absl::StrAppend(&q, " AND team_id = :team");
    if (!f.manager_id.empty()) absl::StrAppend(&q, " AND manager_id = :mgr");
    if (f.status != 0) absl::StrAppend(&q, " AND status = :status");
    absl::StrAppend(&q, " ORDER BY id LIMIT :lim");
    int status = f.status;
    int limit = page.limit;
    Query<PersonRow>(
        sql, q,
        [&](soci::statement& s) {
          s.exchange(soci::use(page.after));
          if (!f.team_id.empty()) s.exchange(soci::use(f.team_id));
          if (!f.manager_id.empty()) s.exchange(soci::use(f.manager_id));
          if (f.status != 0) s.exchange(soci::use(status));
          s.exchange(soci::use(limit));
        },
        &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<Person>> SqlPeopleRepository::ListReports(
    const std::string& manager_id, bool all_levels, int status,
    const Page& page) {
  if (!all_levels) {
    PeopleFilter f;
    f.manager_id = manager_id;
    f.status = status;
    return ListPeople(f, page);
  }
  std::vector<Person> out;
  auto st = db_->Read("people.list_reports_all", [&](soci::session& sql) {
    std::string q = absl::StrCat(
        "WITH RECURSIVE below(id) AS ("
        " SELECT id FROM people WHERE manager_id = :mgr"
        " UNION SELECT p.id FROM people p JOIN below b ON p.manager_id = b.id)"
        " SELECT ",
        kPersonColumns,
        " FROM people WHERE id IN (SELECT id FROM below) AND id > :after");
    if (status != 0) absl::StrAppend(&q, " AND status = :status");
    absl::StrAppend(&q, " ORDER BY id LIMIT :lim");
    int limit = page.limit;
    Query<PersonRow>(
        sql, q,
        [&](soci::statement& s) {
          s.exchange(soci::use(manager_id));
          s.exchange(soci::use(page.after));
          if (status != 0) s.exchange(soci::use(status));
          s.exchange(soci::use(limit));
        },
        &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<Person>> SqlPeopleRepository::ReportingChain(
    const std::string& id) {
  std::vector<Person> out;
  bool exists = false;
  auto st = db_->Read("people.chain", [&](soci::session& sql) {
    int n = 0;
    sql << "SELECT COUNT(*) FROM people WHERE id = :id", soci::use(id),
        soci::into(n);
    exists = n > 0;
    if (!exists) return absl::OkStatus();
    // Depth-bounded, so even corrupt data that loops cannot run away.
    Query<PersonRow>(
        sql,
        absl::StrCat(
            "WITH RECURSIVE up(id, depth) AS ("
            " SELECT manager_id, 1 FROM people WHERE id = :id AND manager_id "
            "<> ''"
            " UNION ALL SELECT p.manager_id, up.depth + 1 FROM people p JOIN "
            "up ON "
            "p.id = up.id WHERE p.manager_id <> '' AND up.depth < 64)"
            " SELECT ",
            absl::StrJoin(absl::StrSplit(kPersonColumns, ", "), ", ",
                          [](std::string* o, absl::string_view c) {
                            absl::StrAppend(o, "people.", c);
                          }),
            " FROM up JOIN people ON people.id = up.id ORDER BY up.depth"),
        [&](soci::statement& s) { s.exchange(soci::use(id)); }, &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!exists)
    return absl::NotFoundError(absl::StrCat("people/", id, " does not exist"));
  return out;
}

absl::StatusOr<Team> SqlPeopleRepository::GetTeam(const std::string& id) {
  std::vector<Team> out;
  auto st = db_->Read("teams.get", [&](soci::session& sql) {
    Query<TeamRow>(
        sql,
        absl::StrCat("SELECT ", kTeamColumns, " FROM teams WHERE id = :id"),
        [&](soci::statement& s) { s.exchange(soci::use(id)); }, &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (out.empty())
    return absl::NotFoundError(absl::StrCat("teams/", id, " does not exist"));
  return out.front();
}

absl::StatusOr<std::vector<Team>> SqlPeopleRepository::ListTeams(
    const std::string& parent_id, const Page& page) {
  std::vector<Team> out;
  auto st = db_->Read("teams.list", [&](soci::session& sql) {
    std::string q =
        absl::StrCat("SELECT ", kTeamColumns, " FROM teams WHERE id > :after");
    if (!parent_id.empty()) absl::StrAppend(&q, " AND parent_id = :parent");
    absl::StrAppend(&q, " ORDER BY id LIMIT :lim");
    int limit = page.limit;
    Query<TeamRow>(
        sql, q,
        [&](soci::statement& s) {
          s.exchange(soci::use(page.after));
          if (!parent_id.empty()) s.exchange(soci::use(parent_id));
          s.exchange(soci::use(limit));
        },
        &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

// A sync's transaction; `tx` is null in a dry run (a read-only session).
class SqlSyncTx : public SyncTx {
 public:
  SqlSyncTx(soci::session& sql, storage::Tx* tx) : sql_(sql), tx_(tx) {}

  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const Idempotency& idem) override {
    auto prior = storage::LookupIdempotent(sql_, idem.scope, idem.request_id,
                                           idem.fingerprint);
    if (!prior.ok()) return prior.status();
    if (!prior->has_value()) return std::nullopt;
    return std::optional<std::string>(std::move(**prior));
  }

  absl::StatusOr<Snapshot> ReadAll() override {
    Snapshot snap;
    Query<PersonRow>(
        sql_, absl::StrCat("SELECT ", kPersonColumns, " FROM people"),
        [](soci::statement&) {}, &snap.people);
    Query<TeamRow>(
        sql_, absl::StrCat("SELECT ", kTeamColumns, " FROM teams"),
        [](soci::statement&) {}, &snap.teams);
    return snap;
  }

  absl::Status Apply(const SyncPlan& p) override {
    if (tx_ == nullptr) return ReadOnly();
    // Emails that move between people: park the changed ones on unique
    // placeholders first, so no intermediate state breaks uniqueness.
    std::vector<std::string> parked_ids = p.email_changed_ids, parked_emails;
    for (const auto& id : parked_ids)
      parked_emails.push_back(absl::StrCat("~", id));
    if (!parked_ids.empty()) {
      sql_ << "UPDATE people SET email = :e WHERE id = :id",
          soci::use(parked_emails), soci::use(parked_ids);
    }
    UpdatePeople(sql_, p.update_people);
    InsertPeople(sql_, p.create_people);
    if (!p.create_teams.empty()) {
      TeamColumns c(p.create_teams);
      sql_ << "INSERT INTO teams (" << kTeamColumns
           << ") VALUES (:id, :ext, :dn, :parent, :lead, :rev, :ct, :ut)",
          soci::use(c.id), soci::use(c.external_id), soci::use(c.display_name),
          soci::use(c.parent_id), soci::use(c.lead_id), soci::use(c.revision),
          soci::use(c.create_time), soci::use(c.update_time);
    }
    if (!p.update_teams.empty()) {
      TeamColumns c(p.update_teams);
      sql_ << "UPDATE teams SET display_name = :dn, parent_id = :parent, "
              "lead_id = :lead, "
              "revision = :rev, update_time = :ut WHERE id = :id",
          soci::use(c.display_name), soci::use(c.parent_id),
          soci::use(c.lead_id), soci::use(c.revision), soci::use(c.update_time),
          soci::use(c.id);
    }
    for (const auto& t : p.create_teams)
      EmitTeam(*tx_, t, ChangeKind::kCreated);
    for (const auto& t : p.update_teams)
      EmitTeam(*tx_, t, ChangeKind::kUpdated);
    for (const auto& person : p.create_people)
      EmitPerson(*tx_, person, ChangeKind::kCreated);
    for (const auto& person : p.update_people)
      EmitPerson(*tx_, person, ChangeKind::kUpdated);
    return absl::OkStatus();
  }

  absl::Status RecordIdempotent(
      const Idempotency& idem,
      std::function<std::string(int64_t last_seq)> answer) override {
    if (tx_ == nullptr) return ReadOnly();
    // The stored answer must carry the feed position this sync ends at.
    tx_->BeforeCommit([idem, answer = std::move(answer)](storage::Tx& t) {
      return storage::RecordIdempotent(t, idem.scope, idem.request_id,
                                       idem.fingerprint, answer(t.last_seq()));
    });
    return absl::OkStatus();
  }

 private:
  static absl::Status ReadOnly() {
    return absl::FailedPreconditionError("a dry run writes nothing");
  }

  soci::session& sql_;
  storage::Tx* tx_;
};

}  // namespace

absl::Status SqlPeopleRepository::Sync(
    bool dry_run, const std::function<absl::Status(SyncTx&)>& fn,
    int64_t* last_seq) {
  *last_seq = 0;
  if (dry_run) {
    return db_->Read("people.sync_dry_run", [&](soci::session& sql) {
      SqlSyncTx tx(sql, nullptr);
      return fn(tx);
    });
  }
  return db_->Write(
      "people.sync",
      [&](storage::Tx& t) {
        SqlSyncTx tx(t.sql(), &t);
        return fn(tx);
      },
      last_seq);
}

}  // namespace sightline::people
