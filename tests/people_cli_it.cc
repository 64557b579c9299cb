// The sightline CLI as a child process against the real people service:
// roster imports (dry run, apply, bad rows, refused rows, column mappings,
// authorization) and the generic JSON call.

#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::testing::HasSubstr;
using ::testing::Not;

struct CliResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string output;  // stdout and stderr
};

class PeopleCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = PeopleCluster::Start(Db::kSqlite);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    stub_ = cluster_->Stub();
    ASSERT_FALSE(BinaryPath("SIGHTLINE_CLI_BINARY").empty())
        << "SIGHTLINE_CLI_BINARY is not set";
    ASSERT_FALSE(BinaryPath("SIGHTLINE_SOURCE_DIR").empty())
        << "SIGHTLINE_SOURCE_DIR is not set";
  }

  // Runs `sightline args...` with SIGHTLINE_TOKEN=token and waits for it.
  CliResult Run(std::vector<std::string> args, const std::string& token) {
    ProcessOptions o;
    o.argv = {BinaryPath("SIGHTLINE_CLI_BINARY")};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.log_path = absl::StrCat(cluster_->dir(), "/cli-", ++runs_, ".log");
    o.env["SIGHTLINE_TOKEN"] = token;
    CliResult r;
    auto p = Process::Start(o);
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return r;
    }
    auto status = (*p)->Wait(absl::Seconds(60));
    if (!status.ok()) {
      ADD_FAILURE() << "sightline " << args[0] << ": " << status.status();
      (*p)->Stop(absl::Seconds(1));
      return r;
    }
    if (WIFEXITED(*status)) r.exit_code = WEXITSTATUS(*status);
    r.output = ReadFile(o.log_path);
    return r;
  }

  std::string WriteCsv(const std::string& name, const std::string& text) {
    std::string path = absl::StrCat(cluster_->dir(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  std::string Roster() const {
    return BinaryPath("SIGHTLINE_SOURCE_DIR") + "/examples/roster.csv";
  }

  std::vector<pv1::Person> Everyone() {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::ListPeopleRequest req;
    req.set_page_size(1000);
    pv1::ListPeopleResponse resp;
    EXPECT_THAT(stub_->ListPeople(&ctx, req, &resp), GrpcOk());
    return {resp.people().begin(), resp.people().end()};
  }

  grpc::Status Lookup(const std::string& ext, pv1::Person* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::LookupPersonRequest req;
    req.set_external_id(ext);
    return stub_->LookupPerson(&ctx, req, out);
  }

  std::unique_ptr<PeopleCluster> cluster_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
  int runs_ = 0;
};

TEST_F(PeopleCliTest, ImportRosterDryRunThenApplyThenNothingToDo) {
  const std::string address = cluster_->service().address();
  const std::string admin = cluster_->AdminToken();

  CliResult dry = Run({"import-roster", address, Roster(), "--dry_run"}, admin);
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("dry run"));
  EXPECT_THAT(dry.output, HasSubstr("people: 13 created"));
  EXPECT_THAT(dry.output, HasSubstr("teams: 4 created"));
  EXPECT_TRUE(Everyone().empty());

  CliResult applied = Run({"import-roster", address, Roster()}, admin);
  EXPECT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_THAT(applied.output, HasSubstr("applied"));
  EXPECT_THAT(applied.output, HasSubstr("people: 13 created"));
  EXPECT_THAT(applied.output, HasSubstr("CREATED E1006 (people/"));
  EXPECT_EQ(Everyone().size(), 13u);
  pv1::Person kenji, ana, chloe, liam;
  ASSERT_THAT(Lookup("E1006", &kenji), GrpcOk());
  ASSERT_THAT(Lookup("E1005", &ana), GrpcOk());
  ASSERT_THAT(Lookup("E1013", &chloe), GrpcOk());
  ASSERT_THAT(Lookup("E1008", &liam), GrpcOk());
  EXPECT_EQ(kenji.display_name(), "Kenji Watanabe");
  EXPECT_EQ(kenji.title(), "Staff Engineer");
  EXPECT_EQ(kenji.manager(), ana.name());
  EXPECT_EQ(kenji.team(), ana.team());
  EXPECT_EQ(kenji.start_date(), "2019-06-24");
  EXPECT_EQ(liam.status(), pv1::Person::ON_LEAVE);
  EXPECT_EQ(chloe.status(), pv1::Person::TERMINATED);
  EXPECT_EQ(chloe.end_date(), "2025-12-31");

  CliResult again = Run({"import-roster", address, Roster()}, admin);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("people: 0 created, 0 updated, "
                                      "0 terminated, 13 unchanged"));
  EXPECT_THAT(again.output, HasSubstr("teams: 0 created, 0 updated, "
                                      "0 terminated, 4 unchanged"));
  pv1::Person kenji_again;
  ASSERT_THAT(Lookup("E1006", &kenji_again), GrpcOk());
  EXPECT_EQ(kenji_again.etag(), kenji.etag());
}

TEST_F(PeopleCliTest, BadRowsAreReportedByLineAndNothingIsSent) {
  std::string csv = WriteCsv(
      "bad.csv",
      "employee_id,email,first_name,last_name,title,department,"
      "manager_employee_id,status,hire_date,termination_date\n"
      "A1,a1@example.com,Ada,One,CEO,Exec,,Active,2020-01-01,\n"
      "A2,a2@example.com,Bob,Two,Engineer\n"
      "A3,a3@example.com,Cy,Three,Engineer,Eng,A1,Ghosted,2020-01-01,\n"
      "A4,a4@example.com,Di,Four,Engineer,Eng,A1,Active,2020-01-01,\n");
  CliResult r = Run({"import-roster", cluster_->service().address(), csv},
                    cluster_->AdminToken());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("2 bad row(s), nothing was sent"));
  EXPECT_THAT(r.output, HasSubstr("line 3: has 5 fields, the header has 10"));
  EXPECT_THAT(r.output, HasSubstr("line 4 (status): unknown status 'Ghosted'"));
  EXPECT_THAT(r.output, Not(HasSubstr("line 2")));
  EXPECT_THAT(r.output, Not(HasSubstr("line 5")));
  // The good rows were not imported either.
  EXPECT_TRUE(Everyone().empty());
  // The service saw no sync at all.
  auto metrics = cluster_->service().ScrapeMetrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(MetricValue(*metrics,
                        "grpc_server_started_total{grpc_method=\"SyncPeople\","
                        "grpc_service=\"sightline.people.v1.PeopleService\","
                        "grpc_type=\"client_stream\"}"),
            0);
}

// An export with its own status spellings and US dates: mapped, converted,
// and what is still unknown refused with its line.
TEST_F(PeopleCliTest, StatusMapAndDateFormatReadRealExports) {
  std::string csv =
      WriteCsv("export.csv",
               "employee_id,email,first_name,last_name,title,department,"
               "manager_employee_id,status,hire_date,termination_date\n"
               "X1,x1@example.com,Ada,One,CEO,Exec,,Full-Time,01/15/2020,\n"
               "X2,x2@example.com,Bob,Two,Engineer,Eng,X1,Bench,03/01/2021,\n"
               "X3,x3@example.com,Cy,Three,Engineer,Eng,X1,Retired,03/01/2021,"
               "12/31/2024\n"
               "X4,x4@example.com,Di,Four,Engineer,Eng,X1,Maternity Leave,"
               "03/01/2021,\n");
  std::string map = WriteCsv("statuses.txt",
                             "# our HRIS\nBench=Active\nGhosted=Terminated\n");
  std::string address = cluster_->service().address();

  // Without the map "Bench" is unknown; without the format the dates are.
  CliResult unmapped =
      Run({"import-roster", address, csv, "--date_format=MM/DD/YYYY"},
          cluster_->AdminToken());
  EXPECT_EQ(unmapped.exit_code, 1) << unmapped.output;
  EXPECT_THAT(unmapped.output,
              HasSubstr("line 3 (status): unknown status 'Bench'"));
  CliResult iso = Run({"import-roster", address, csv, "--status_map=" + map},
                      cluster_->AdminToken());
  EXPECT_EQ(iso.exit_code, 1) << iso.output;
  EXPECT_THAT(iso.output, HasSubstr("start_date"));
  EXPECT_TRUE(Everyone().empty());
  CliResult bad = Run({"import-roster", address, csv, "--status_map=Bench"},
                      cluster_->AdminToken());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--status_map: 'Bench'"));

  CliResult ok = Run({"import-roster", address, csv, "--status_map=" + map,
                      "--date_format=MM/DD/YYYY"},
                     cluster_->AdminToken());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  pv1::Person x1, x2, x3, x4;
  ASSERT_THAT(Lookup("X1", &x1), GrpcOk());
  ASSERT_THAT(Lookup("X2", &x2), GrpcOk());
  ASSERT_THAT(Lookup("X3", &x3), GrpcOk());
  ASSERT_THAT(Lookup("X4", &x4), GrpcOk());
  EXPECT_EQ(x1.start_date(), "2020-01-15");
  EXPECT_EQ(x2.status(), pv1::Person::ACTIVE);
  EXPECT_EQ(x3.status(), pv1::Person::TERMINATED);
  EXPECT_EQ(x3.end_date(), "2024-12-31");
  EXPECT_EQ(x4.status(), pv1::Person::ON_LEAVE);

  // Inline entries work as the file does.
  CliResult inline_map =
      Run({"import-roster", address, csv, "--status_map=Bench=On Leave",
           "--date_format=MM/DD/YYYY", "--mode=incremental"},
          cluster_->AdminToken());
  EXPECT_EQ(inline_map.exit_code, 0) << inline_map.output;
  ASSERT_THAT(Lookup("X2", &x2), GrpcOk());
  EXPECT_EQ(x2.status(), pv1::Person::ON_LEAVE);
}

TEST_F(PeopleCliTest, RowsTheServerRefusesAreNamedByRowAndField) {
  std::string csv = WriteCsv(
      "refused.csv",
      "employee_id,email,first_name,last_name,title,department,"
      "manager_employee_id,status,hire_date,termination_date\n"
      "B1,b1@example.com,Ada,One,CEO,Exec,,Active,2020-01-01,\n"
      "B2,b2@example.com,Bob,Two,Engineer,Eng,B999,Active,2020-01-01,\n"
      "B3,not-an-email,Cy,Three,Engineer,Eng,B1,Active,2020-01-01,\n"
      "B4,b4@example.com,Di,Four,Engineer,Eng,B1,Active,2020-01-01,\n");
  CliResult r = Run({"import-roster", cluster_->service().address(), csv},
                    cluster_->AdminToken());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("the sync was refused; nothing changed"));
  EXPECT_THAT(r.output, HasSubstr("InvalidArgument"));
  // Two teams go first: records[2] is line 2, records[3] line 3...
  EXPECT_THAT(r.output,
              HasSubstr("records[3].manager_external_id: row 3: manager B999 "
                        "does not exist"));
  EXPECT_THAT(r.output, HasSubstr("records[4].email: row 4: 'not-an-email'"));
  EXPECT_THAT(r.output, Not(HasSubstr("row 2:")));
  EXPECT_THAT(r.output, Not(HasSubstr("row 5:")));
  EXPECT_TRUE(Everyone().empty());
}

TEST_F(PeopleCliTest, MappedColumnsImportAndOnlyAnHrAdminMayImport) {
  std::string csv =
      WriteCsv("mapped.csv",
               "Worker ID,Work Email,Given Name,Family Name,Job Title,Org Unit,"
               "Reports To,Employment Status,Start Date,End Date\n"
               "W1,w1@example.com,Ada,One,CEO,Exec,,A,2020-01-01,\n"
               "W2,W2@Example.com,Bob,Two,Engineer,Eng,W1,Leave,2021-02-03,\n"
               "W3,w3@example.com,Cy,Three,Engineer,Eng,W2,Former,2021-02-03,"
               "2024-04-30\n");
  std::vector<std::string> args = {
      "import-roster", cluster_->service().address(), csv,
      "--map=employee_id=Worker ID,email=Work Email,first_name=Given Name,"
      "last_name=Family Name,title=Job Title,department=Org Unit,"
      "manager_employee_id=Reports To,status=Employment Status,"
      "hire_date=Start Date,termination_date=End Date"};

  CliResult employee = Run(args, cluster_->EmployeeToken());
  EXPECT_EQ(employee.exit_code, 1) << employee.output;
  EXPECT_THAT(employee.output, HasSubstr("PermissionDenied"));
  EXPECT_TRUE(Everyone().empty());

  CliResult none = Run(args, "");
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_THAT(none.output, HasSubstr("Unauthenticated"));
  EXPECT_TRUE(Everyone().empty());

  // Without the mapping the columns are not found.
  std::vector<std::string> unmapped(args.begin(), args.end() - 1);
  CliResult missing = Run(unmapped, cluster_->AdminToken());
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("missing column(s) employee_id"));

  CliResult admin = Run(args, cluster_->AdminToken());
  EXPECT_EQ(admin.exit_code, 0) << admin.output;
  EXPECT_THAT(admin.output, HasSubstr("people: 3 created"));
  EXPECT_THAT(admin.output, HasSubstr("teams: 2 created"));
  pv1::Person w1, w2, w3;
  ASSERT_THAT(Lookup("W1", &w1), GrpcOk());
  ASSERT_THAT(Lookup("W2", &w2), GrpcOk());
  ASSERT_THAT(Lookup("W3", &w3), GrpcOk());
  EXPECT_EQ(w2.email(), "w2@example.com");
  EXPECT_EQ(w2.display_name(), "Bob Two");
  EXPECT_EQ(w2.title(), "Engineer");
  EXPECT_EQ(w2.manager(), w1.name());
  EXPECT_EQ(w2.status(), pv1::Person::ON_LEAVE);
  EXPECT_EQ(w2.start_date(), "2021-02-03");
  EXPECT_EQ(w3.status(), pv1::Person::TERMINATED);
  EXPECT_EQ(w3.end_date(), "2024-04-30");
  EXPECT_NE(w1.team(), "");
  EXPECT_EQ(w2.team(), w3.team());
  EXPECT_NE(w1.team(), w2.team());
}

TEST_F(PeopleCliTest, CallPrintsTheAnswerAsJson) {
  const std::string address = cluster_->service().address();
  CliResult imported =
      Run({"import-roster", address, Roster()}, cluster_->AdminToken());
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  pv1::Person want;
  ASSERT_THAT(Lookup("E1006", &want), GrpcOk());

  const std::string method = "sightline.people.v1.PeopleService/LookupPerson";
  CliResult r = Run(
      {"call", address, method, R"({"email":"Kenji.Watanabe@example.com"})"},
      cluster_->EmployeeToken());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"external_id\": \"E1006\""));
  size_t open = r.output.find('{'), close = r.output.rfind('}');
  ASSERT_NE(open, std::string::npos) << r.output;
  ASSERT_NE(close, std::string::npos) << r.output;
  pv1::Person printed;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      r.output.substr(open, close - open + 1), &printed);
  ASSERT_TRUE(parsed.ok()) << parsed << "\n" << r.output;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(printed, want))
      << printed.DebugString() << "\nvs\n"
      << want.DebugString();

  CliResult missing =
      Run({"call", address, method, R"({"email":"nobody@example.com"})"},
          cluster_->EmployeeToken());
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("NotFound"));

  CliResult bad = Run({"call", address, method, R"({"email":"nope"})"},
                      cluster_->EmployeeToken());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("InvalidArgument"));
  EXPECT_THAT(bad.output, HasSubstr("email"));

  CliResult anonymous = Run(
      {"call", address, method, R"({"email":"kenji.watanabe@example.com"})"},
      "");
  EXPECT_EQ(anonymous.exit_code, 1) << anonymous.output;
  EXPECT_THAT(anonymous.output, HasSubstr("Unauthenticated"));
  EXPECT_THAT(anonymous.output, Not(HasSubstr("E1006")));
}

}  // namespace
}  // namespace sightline::testing
