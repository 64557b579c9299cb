// sightline-bench-sync: how long a people service takes to take in a whole HRIS
// roster, and how much memory it keeps afterwards.
//
//   1. FULL SyncPeople of --people generated people (teams in a tree with
//      leads, a manager tree, a few people on leave or terminated), timed
//      end to end as the client sees it;
//   2. the same roster again (every record unchanged), timed the same way;
//   3. the service's resident memory (/proc/<pid>/status);
//   0. first, for context, the same people inserted into SQLite directly in
//      one transaction, with the service's pragmas: into a bare table, and
//      into a table of the service's shape (keys and indexes); and the same
//      messages streamed over bare gRPC to the bench echo server's Sink.
//
// Prints `key=value` lines for bench/run.sh; exits non-zero when a sync fails
// or does not do exactly what the roster asks (so a fast failure is never
// reported as a fast sync).

#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/auth/jwt.h"
#include "lib/testing/service.h"
#include "sightline/bench/v1/echo_service.grpc.pb.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "",
          "The people service (host:port); empty: the SQLite baseline only.");
ABSL_FLAG(std::string, jwt_key_file, "",
          "The service's HS256 secret; the bench signs an hr_admin token.");
ABSL_FLAG(int, people, 100000, "People in the roster.");
ABSL_FLAG(int, teams, 1000, "Teams in the roster (a tree, 10 per parent).");
ABSL_FLAG(int, manager_fanout, 8, "Direct reports per manager.");
ABSL_FLAG(int, pid, 0, "The service's pid, for its resident memory.");
ABSL_FLAG(std::string, sqlite_baseline_db, "",
          "Path prefix of the SQLite baseline files (.bare, .schema); empty "
          "skips the baseline.");
ABSL_FLAG(std::string, sink_target, "",
          "The bench echo server (host:port): the roster is also streamed to "
          "its Sink, bare gRPC's time for the streaming part.");
ABSL_FLAG(absl::Duration, deadline, absl::Minutes(5), "Deadline of a sync.");

namespace sightline::bench {
namespace {

namespace pv1 = ::sightline::people::v1;

constexpr const char* kFirst[] = {"Ada",     "Grace",  "Alan",   "Edsger",
                                  "Barbara", "Ken",    "Dennis", "Margaret",
                                  "Linus",   "Radia",  "Donald", "Frances",
                                  "John",    "Sophie", "Tim",    "Katherine"};
constexpr const char* kLast[] = {"Lovelace", "Hopper",   "Turing",  "Dijkstra",
                                 "Liskov",   "Thompson", "Ritchie", "Hamilton",
                                 "Torvalds", "Perlman",  "Knuth",   "Allen",
                                 "Backus",   "Wilson",   "Berners", "Johnson"};
constexpr const char* kTitles[] = {"Engineer",        "Senior Engineer",
                                   "Staff Engineer",  "Designer",
                                   "Product Manager", "Analyst"};

int Fail(const std::string& message) {
  std::fprintf(stderr, "sightline-bench-sync: %s\n", message.c_str());
  return 1;
}

std::string Ext(absl::string_view prefix, int i) {
  return absl::StrFormat("%s%06d", prefix, i);
}

// The roster: teams first (a tree of 10 per parent, led by the top managers),
// then people breadth first under E000000, so managers precede their reports
// as an HRIS export usually lists them. Roles are in sorted order and statuses
// explicit, so that sending the same roster again changes nothing.
std::vector<pv1::SyncPeopleRequest> Roster(int people, int teams, int fanout) {
  std::vector<pv1::SyncPeopleRequest> out;
  out.reserve(static_cast<size_t>(people + teams));
  for (int t = 0; t < teams; ++t) {
    pv1::SyncPeopleRequest m;
    auto* r = m.mutable_team();
    r->set_external_id(Ext("T", t));
    r->set_display_name(absl::StrCat("Team ", t));
    if (t > 0) r->set_parent_external_id(Ext("T", (t - 1) / 10));
    if (t < people) r->set_lead_external_id(Ext("E", t));
    r->set_source_row(t + 2);
    out.push_back(std::move(m));
  }
  const absl::CivilDay first_start(2010, 1, 1);
  for (int i = 0; i < people; ++i) {
    const bool manager = static_cast<int64_t>(i) * fanout + 1 < people;
    pv1::SyncPeopleRequest m;
    auto* r = m.mutable_person();
    const char* given = kFirst[i % 16];
    const char* family = kLast[(i / 16) % 16];
    r->set_external_id(Ext("E", i));
    r->set_email(absl::AsciiStrToLower(
        absl::StrCat(given, ".", family, ".", i, "@example.com")));
    r->set_display_name(absl::StrCat(given, " ", family));
    r->set_title(manager ? "Engineering Manager" : kTitles[i % 6]);
    if (teams > 0) r->set_team_external_id(Ext("T", i % teams));
    if (i > 0) r->set_manager_external_id(Ext("E", (i - 1) / fanout));
    absl::CivilDay start = first_start + (i * 7) % 5000;
    r->set_start_date(absl::FormatCivilTime(start));
    if (!manager && i % 97 == 0) {
      r->set_status(pv1::Person::TERMINATED);
      r->set_end_date(absl::FormatCivilTime(start + 400));
    } else if (i % 50 == 49) {
      r->set_status(pv1::Person::ON_LEAVE);
    } else {
      r->set_status(pv1::Person::ACTIVE);
    }
    r->add_roles("employee");
    if (i % 1000 == 1) r->add_roles("hr_admin");
    if (manager) r->add_roles("manager");
    r->set_source_row(i + 2);
    out.push_back(std::move(m));
  }
  return out;
}

struct SyncTiming {
  double seconds = 0;       // call start to answer, as the client sees it
  double send_seconds = 0;  // call start to WritesDone: the streaming part
  pv1::SyncPeopleResponse response;
};

absl::StatusOr<SyncTiming> RunSync(
    pv1::PeopleService::Stub* stub, const std::string& token,
    const std::string& request_id,
    const std::vector<pv1::SyncPeopleRequest>& records) {
  SyncTiming t;
  grpc::ClientContext ctx;
  sightline::testing::Authorize(&ctx, token, absl::GetFlag(FLAGS_deadline));
  pv1::SyncPeopleRequest first;
  auto* options = first.mutable_options();
  options->set_mode(pv1::SyncOptions::FULL);
  options->set_request_id(request_id);

  const absl::Time start = absl::Now();
  auto writer = stub->SyncPeople(&ctx, &t.response);
  bool open = writer->Write(first);
  for (const auto& r : records) {
    if (!open) break;
    open = writer->Write(r);
  }
  writer->WritesDone();
  t.send_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  grpc::Status st = writer->Finish();
  t.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!st.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(st.error_code()),
        absl::StrCat("SyncPeople ", request_id, ": ", st.error_message()));
  }
  if (!open) return absl::InternalError("stream closed early, yet call OK");
  return t;
}

// Streams the roster, each message serialized into a payload, to the echo
// server's Sink: what carrying the same bytes over a bare gRPC client stream
// takes, without any service logic.
absl::StatusOr<double> StreamToSink(
    const std::string& target,
    const std::vector<pv1::SyncPeopleRequest>& records) {
  auto stub = v1::Echo::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::vector<v1::SinkRequest> payloads(records.size());
  int64_t bytes = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    payloads[i].set_payload(records[i].SerializeAsString());
    bytes += static_cast<int64_t>(payloads[i].payload().size());
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_deadline)));
  v1::SinkResponse response;
  const absl::Time start = absl::Now();
  auto writer = stub->Sink(&ctx, &response);
  bool open = true;
  for (const auto& p : payloads) {
    if (!open) break;
    open = writer->Write(p);
  }
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!st.ok()) return absl::UnavailableError("Sink: " + st.error_message());
  if (response.messages() != static_cast<int64_t>(records.size()) ||
      response.payload_bytes() != bytes) {
    return absl::DataLossError(
        absl::StrCat("Sink counted ", response.messages(), " messages, ",
                     response.payload_bytes(), " bytes; sent ", records.size(),
                     ", ", bytes));
  }
  return seconds;
}

// "VmRSS:  123456 kB" -> bytes; -1 when absent.
int64_t ProcStatusBytes(int pid, absl::string_view key) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, absl::StrCat(key, ":"))) continue;
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    int64_t kb = 0;
    if (f.size() >= 2 && absl::SimpleAtoi(f[1], &kb)) return kb * 1024;
  }
  return -1;
}

// Inserts the roster's people into a new SQLite table in one transaction,
// with WAL and synchronous=FULL as the service opens SQLite. `schema` false:
// a bare table (no key, no index), what the storage engine alone needs to
// write the rows. `schema` true: the people table of services/people with its
// unique keys and indexes, what that shape costs before any service logic.
absl::StatusOr<double> SqliteBaseline(
    const std::string& path, bool schema,
    const std::vector<pv1::SyncPeopleRequest>& records) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return absl::InternalError(absl::StrCat("cannot open ", path));
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> owner(db, sqlite3_close);
  auto exec = [db](const char* sql) -> absl::Status {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      absl::Status st = absl::InternalError(absl::StrCat(sql, ": ", err));
      sqlite3_free(err);
      return st;
    }
    return absl::OkStatus();
  };
  std::vector<const char*> setup = {"PRAGMA journal_mode=WAL",
                                    "PRAGMA synchronous=FULL"};
  if (schema) {
    setup.insert(
        setup.end(),
        {"CREATE TABLE people (id TEXT PRIMARY KEY, external_id TEXT NOT "
         "NULL UNIQUE, email TEXT NOT NULL UNIQUE, display_name TEXT NOT "
         "NULL, title TEXT NOT NULL, team_id TEXT NOT NULL, manager_id TEXT "
         "NOT NULL, status INTEGER NOT NULL, start_date TEXT NOT NULL, "
         "end_date TEXT NOT NULL, roles TEXT NOT NULL, revision BIGINT NOT "
         "NULL, create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)",
         "CREATE INDEX people_manager ON people (manager_id, id)",
         "CREATE INDEX people_team ON people (team_id, id)",
         "CREATE INDEX people_status ON people (status, id)"});
  } else {
    setup.push_back(
        "CREATE TABLE people (id TEXT, external_id TEXT, email TEXT, "
        "display_name TEXT, title TEXT, team_id TEXT, manager_id TEXT, status "
        "INTEGER, start_date TEXT, end_date TEXT, roles TEXT, revision "
        "BIGINT, create_time BIGINT, update_time BIGINT)");
  }
  for (const char* sql : setup) {
    if (auto st = exec(sql); !st.ok()) return st;
  }
  // Random ids, as the service chooses them, so the primary key index sees
  // the same scattered inserts.
  std::mt19937_64 rng(42);
  auto id = [&rng] { return absl::StrFormat("%016x", rng()); };
  std::vector<std::string> ids;
  for (size_t i = 0; i < records.size(); ++i) ids.push_back(id());

  const absl::Time start = absl::Now();
  if (auto st = exec("BEGIN"); !st.ok()) return st;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO people VALUES "
                         "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(sqlite3_errmsg(db));
  }
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt_owner(
      stmt, sqlite3_finalize);
  const int64_t now = absl::ToUnixMicros(absl::Now());
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].has_person()) continue;
    const auto& p = records[i].person();
    auto text = [stmt](int col, const std::string& s) {
      sqlite3_bind_text(stmt, col, s.data(), static_cast<int>(s.size()),
                        SQLITE_STATIC);
    };
    std::string roles = absl::StrJoin(p.roles(), ",");
    text(1, ids[i]);
    text(2, p.external_id());
    text(3, p.email());
    text(4, p.display_name());
    text(5, p.title());
    text(6, p.team_external_id());
    text(7, p.manager_external_id());
    sqlite3_bind_int(stmt, 8, p.status());
    text(9, p.start_date());
    text(10, p.end_date());
    text(11, roles);
    sqlite3_bind_int64(stmt, 12, 1);
    sqlite3_bind_int64(stmt, 13, now);
    sqlite3_bind_int64(stmt, 14, now);
    if (sqlite3_step(stmt) != SQLITE_DONE)
      return absl::InternalError(sqlite3_errmsg(db));
    sqlite3_reset(stmt);
  }
  if (auto st = exec("COMMIT"); !st.ok()) return st;
  return absl::ToDoubleSeconds(absl::Now() - start);
}

int Run() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const int people = absl::GetFlag(FLAGS_people);
  const int teams = absl::GetFlag(FLAGS_teams);
  const int fanout = absl::GetFlag(FLAGS_manager_fanout);
  if (people < 1 || teams < 0 || fanout < 1)
    return Fail("--people >= 1, --teams >= 0, --manager_fanout >= 1");
  const auto records = Roster(people, teams, fanout);
  // First, so that the service's own writes are not still being flushed.
  if (auto path = absl::GetFlag(FLAGS_sqlite_baseline_db); !path.empty()) {
    for (bool schema : {false, true}) {
      auto secs = SqliteBaseline(schema ? path + ".schema" : path + ".bare",
                                 schema, records);
      if (!secs.ok()) return Fail(std::string(secs.status().message()));
      std::printf("sqlite_%s_insert_seconds=%.3f\n", schema ? "schema" : "bare",
                  *secs);
    }
    std::printf("sqlite_rows=%d\n", people);
    std::fflush(stdout);
  }
  if (auto sink = absl::GetFlag(FLAGS_sink_target); !sink.empty()) {
    auto secs = StreamToSink(sink, records);
    if (!secs.ok()) return Fail(std::string(secs.status().message()));
    std::printf("sink_stream_seconds=%.3f\nsink_messages=%zu\n", *secs,
                records.size());
    std::fflush(stdout);
  }
  if (target.empty()) return 0;

  auto key = auth::ReadKeyFile(absl::GetFlag(FLAGS_jwt_key_file));
  if (!key.ok()) return Fail(std::string(key.status().message()));
  auth::MintOptions mint;
  mint.key = *key;
  mint.subject = "bench-hris-connector";
  mint.roles = {auth::Role::kHrAdmin};
  mint.ttl = absl::Hours(1);
  auto token = auth::Mint(mint);
  if (!token.ok()) return Fail(std::string(token.status().message()));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args);
  auto stub = pv1::PeopleService::NewStub(channel);

  auto full = RunSync(stub.get(), *token, "bench-full-1", records);
  if (!full.ok()) return Fail(std::string(full.status().message()));
  const auto& fp = full->response.people();
  const auto& ft = full->response.teams();
  if (!full->response.applied() || fp.created() != people ||
      ft.created() != teams || fp.updated() + fp.terminated() != 0) {
    return Fail(absl::StrCat("FULL sync did not create the roster: people ",
                             fp.ShortDebugString(), "; teams ",
                             ft.ShortDebugString()));
  }
  std::printf("full_sync_seconds=%.3f\nfull_sync_send_seconds=%.3f\n",
              full->seconds, full->send_seconds);
  std::printf("full_people_created=%d\nfull_teams_created=%d\n", fp.created(),
              ft.created());
  std::fflush(stdout);

  // A different request id: the same id would replay the stored answer.
  auto again = RunSync(stub.get(), *token, "bench-full-2", records);
  if (!again.ok()) return Fail(std::string(again.status().message()));
  const auto& ap = again->response.people();
  const auto& at = again->response.teams();
  if (!again->response.applied() || ap.unchanged() != people ||
      at.unchanged() != teams ||
      ap.created() + ap.updated() + ap.terminated() != 0) {
    return Fail(absl::StrCat("unchanged re-sync changed something: people ",
                             ap.ShortDebugString(), "; teams ",
                             at.ShortDebugString()));
  }
  std::printf("resync_seconds=%.3f\nresync_send_seconds=%.3f\n", again->seconds,
              again->send_seconds);
  std::printf("resync_people_unchanged=%d\n", ap.unchanged());
  std::fflush(stdout);

  if (int pid = absl::GetFlag(FLAGS_pid); pid > 0) {
    std::printf("rss_bytes=%lld\nrss_peak_bytes=%lld\n",
                static_cast<long long>(ProcStatusBytes(pid, "VmRSS")),
                static_cast<long long>(ProcStatusBytes(pid, "VmHWM")));
  }
  std::fflush(stdout);

  return 0;
}

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "FULL SyncPeople of a generated roster, then the same again; prints "
      "key=value lines.");
  absl::ParseCommandLine(argc, argv);
  return sightline::bench::Run();
}
