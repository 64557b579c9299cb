// sightline: the command-line client of the Sightline services.
//
//   sightline token  --key_file=F --subject=S [--roles=hr_admin,manager]
//   [--ttl=8h] sightline health ADDRESS sightline call   ADDRESS
//   package.Service/Method '{"json": "request"}' sightline import-roster
//   ADDRESS roster.csv [--mode=full|incremental] [--dry_run]
//   sightline import-datapoints ADDRESS points.csv
//
// Calls take the bearer token from --token or SIGHTLINE_TOKEN. Requests and
// answers are protobuf JSON; streaming answers print one JSON object per line.

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "lib/auth/jwt.h"
#include "lib/auth/tls.h"
#include "lib/server/config.h"
#include "lib/status/status.h"
#include "services/people/roster_csv.h"
#include "sightline/feedback/v1/feedback_service.grpc.pb.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "sightline/people/v1/people_service.grpc.pb.h"
#include "tools/cli/datapoints_csv.h"

ABSL_FLAG(std::string, token, "",
          "Bearer token for calls (or SIGHTLINE_TOKEN).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30),
          "Deadline of unary calls (0: none).");
ABSL_FLAG(std::string, tls_ca_file, "", "Trust this CA; enables TLS.");
ABSL_FLAG(std::string, tls_client_cert_file, "",
          "Client certificate for mTLS.");
ABSL_FLAG(std::string, tls_client_key_file, "", "Client key for mTLS.");
ABSL_FLAG(std::string, tls_server_name_override, "",
          "Expected server certificate name.");
// token
ABSL_FLAG(std::string, key_file, "",
          "token: HS256 secret or RS256 private key (PEM).");
ABSL_FLAG(std::string, algorithm, "HS256", "token: HS256 or RS256.");
ABSL_FLAG(std::string, subject, "",
          "token: the principal (email, employee id, people/...).");
ABSL_FLAG(std::string, roles, "", "token: comma-separated roles.");
ABSL_FLAG(std::string, issuer, "", "token: iss claim.");
ABSL_FLAG(std::string, audience, "", "token: aud claim.");
ABSL_FLAG(absl::Duration, ttl, absl::Hours(8), "token: lifetime.");
// import-roster
ABSL_FLAG(std::string, mode, "full", "import-roster: full or incremental.");
ABSL_FLAG(bool, dry_run, false,
          "import-roster: show the diff, change nothing.");
ABSL_FLAG(bool, allow_mass_termination, false,
          "import-roster: allow a FULL sync to terminate more than the "
          "server's share.");
ABSL_FLAG(std::string, request_id, "", "import-roster: makes a retry safe.");
ABSL_FLAG(
    std::vector<std::string>, map, {},
    "import-roster: column mappings field=Column Name, comma-separated, e.g. "
    "--map='employee_id=Worker ID,email=Work Email'.");
ABSL_FLAG(std::string, status_map, "",
          "import-roster: more status spellings, 'export value=status' "
          "(status: active, on leave, terminated), comma-separated, or the "
          "path of a file with one per line.");
ABSL_FLAG(std::string, date_format, "YYYY-MM-DD",
          "import-roster: how the file writes dates: YYYY-MM-DD, MM/DD/YYYY, "
          "DD.MM.YYYY or DD/MM/YYYY.");

namespace sl = sightline;
using google::protobuf::util::JsonPrintOptions;

namespace {

int Fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

// Prints a failed call: code, message and any field violations, each led by
// `where(field)` when given (e.g. the input line the field came from).
int FailCall(const grpc::Status& s,
             const std::function<std::string(const std::string&)>& where = {}) {
  std::cerr << "error: " << sl::status::GoCodeName(s.error_code()) << ": "
            << s.error_message() << "\n";
  google::rpc::Status rpc;
  if (!s.error_details().empty() && rpc.ParseFromString(s.error_details())) {
    for (const auto& any : rpc.details()) {
      google::rpc::BadRequest bad;
      google::rpc::ErrorInfo info;
      if (any.UnpackTo(&bad)) {
        for (const auto& v : bad.field_violations()) {
          std::cerr << "  " << (where ? where(v.field()) : "") << v.field()
                    << ": " << v.description() << "\n";
        }
      } else if (any.UnpackTo(&info)) {
        std::cerr << "  reason: " << info.reason();
        for (const auto& [k, v] : info.metadata())
          std::cerr << " " << k << "=" << v;
        std::cerr << "\n";
      }
    }
  }
  return 1;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel(
    const std::string& address) {
  sl::auth::ClientTlsConfig tls;
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  tls.cert_file = absl::GetFlag(FLAGS_tls_client_cert_file);
  tls.key_file = absl::GetFlag(FLAGS_tls_client_key_file);
  tls.server_name_override = absl::GetFlag(FLAGS_tls_server_name_override);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return sl::auth::MakeChannel(address, tls, args);
}

void Prepare(grpc::ClientContext* ctx, bool unary) {
  std::string token = absl::GetFlag(FLAGS_token);
  if (!token.empty())
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (unary && timeout > absl::ZeroDuration()) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

std::string ToJson(const google::protobuf::Message& m, bool pretty) {
  JsonPrintOptions o;
  o.add_whitespace = pretty;
  o.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

int Token() {
  sl::auth::MintOptions o;
  auto alg = sl::auth::ParseAlgorithm(absl::GetFlag(FLAGS_algorithm));
  if (!alg.ok()) return Fail(std::string(alg.status().message()));
  o.algorithm = *alg;
  auto key = sl::auth::ReadKeyFile(absl::GetFlag(FLAGS_key_file));
  if (!key.ok())
    return Fail(absl::StrCat("--key_file: ", key.status().message()));
  o.key = *key;
  o.subject = absl::GetFlag(FLAGS_subject);
  for (absl::string_view r :
       absl::StrSplit(absl::GetFlag(FLAGS_roles), ',', absl::SkipEmpty())) {
    auto role = sl::auth::ParseRole(r);
    if (!role.has_value())
      return Fail(absl::StrCat("--roles: unknown role ", r));
    o.roles.push_back(*role);
  }
  o.issuer = absl::GetFlag(FLAGS_issuer);
  o.audience = absl::GetFlag(FLAGS_audience);
  o.ttl = absl::GetFlag(FLAGS_ttl);
  auto token = sl::auth::Mint(o);
  if (!token.ok()) return Fail(std::string(token.status().message()));
  std::cout << *token << "\n";
  return 0;
}

int Health(const std::string& address) {
  auto channel = Channel(address);
  if (!channel.ok()) return Fail(std::string(channel.status().message()));
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) return FailCall(s);
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                   resp.status())
            << "\n";
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0
                                                                         : 1;
}

int Call(const std::string& address, const std::string& method_name,
         const std::string& json) {
  std::string full = method_name;
  if (!full.empty() && full[0] == '/') full = full.substr(1);
  std::vector<std::string> parts =
      absl::StrSplit(full, absl::MaxSplits('/', 1));
  if (parts.size() != 2)
    return Fail("method must look like package.Service/Method");
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* service = pool->FindServiceByName(parts[0]);
  if (service == nullptr)
    return Fail(absl::StrCat("unknown service ", parts[0]));
  const auto* method = service->FindMethodByName(parts[1]);
  if (method == nullptr) return Fail(absl::StrCat("unknown method ", full));
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::unique_ptr<google::protobuf::Message> req(
      factory->GetPrototype(method->input_type())->New());
  std::unique_ptr<google::protobuf::Message> resp(
      factory->GetPrototype(method->output_type())->New());
  if (!json.empty()) {
    auto st = google::protobuf::util::JsonStringToMessage(json, req.get());
    if (!st.ok()) return Fail(absl::StrCat("request JSON: ", st.ToString()));
  }
  auto channel = Channel(address);
  if (!channel.ok()) return Fail(std::string(channel.status().message()));
  grpc::GenericStub stub(*channel);
  grpc::ClientContext ctx;
  bool streaming = method->client_streaming() || method->server_streaming();
  Prepare(&ctx, !streaming);
  std::string path = absl::StrCat("/", full);
  std::string bytes = req->SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::CompletionQueue cq;
  void* tag;
  bool ok;
  if (!streaming) {
    auto call = stub.PrepareUnaryCall(&ctx, path, request, &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    if (!status.ok()) return FailCall(status);
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string out;
    for (auto& s : slices)
      out.append(reinterpret_cast<const char*>(s.begin()), s.size());
    if (!resp->ParseFromString(out)) return Fail("answer does not parse");
    std::cout << ToJson(*resp, true);
    return 0;
  }
  auto call = stub.PrepareCall(&ctx, path, &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  call->Write(request, reinterpret_cast<void*>(2));
  cq.Next(&tag, &ok);
  call->WritesDone(reinterpret_cast<void*>(3));
  cq.Next(&tag, &ok);
  for (;;) {
    grpc::ByteBuffer response;
    call->Read(&response, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    if (!ok) break;
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string out;
    for (auto& s : slices)
      out.append(reinterpret_cast<const char*>(s.begin()), s.size());
    resp->Clear();
    if (!resp->ParseFromString(out)) return Fail("answer does not parse");
    std::cout << ToJson(*resp, false) << std::endl;
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  if (!status.ok()) return FailCall(status);
  return 0;
}

int ImportRoster(const std::string& address, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  sl::people::RosterColumns columns;
  for (const auto& m : absl::GetFlag(FLAGS_map)) {
    auto st = columns.Override(m);
    if (!st.ok()) return Fail(std::string(st.message()));
  }
  sl::people::RosterFormat format;
  auto date_format =
      sl::people::ParseDateFormat(absl::GetFlag(FLAGS_date_format));
  if (!date_format.ok())
    return Fail(std::string(date_format.status().message()));
  format.date_format = *date_format;
  if (std::string map = absl::GetFlag(FLAGS_status_map); !map.empty()) {
    // A file when one exists by that name, else the entries themselves.
    std::ifstream map_file(map, std::ios::binary);
    bool is_file = static_cast<bool>(map_file);
    std::stringstream text;
    if (is_file) text << map_file.rdbuf();
    auto st = format.AddStatusMap(is_file ? text.str() : map, is_file);
    if (!st.ok()) return Fail(std::string(st.message()));
  }
  auto roster = sl::people::ReadRoster(ss.str(), columns, format);
  if (!roster.ok())
    return Fail(absl::StrCat(path, ": ", roster.status().message()));
  if (!roster->errors.empty()) {
    std::cerr << path << ": " << roster->errors.size()
              << " bad row(s), nothing was sent:\n";
    for (const auto& e : roster->errors) {
      std::cerr << "  line " << e.line
                << (e.column.empty() ? "" : " (" + e.column + ")") << ": "
                << e.message << "\n";
    }
    return 1;
  }
  std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "full" && mode != "incremental")
    return Fail("--mode: full or incremental");

  auto channel = Channel(address);
  if (!channel.ok()) return Fail(std::string(channel.status().message()));
  auto stub = sl::people::v1::PeopleService::NewStub(*channel);
  grpc::ClientContext ctx;
  Prepare(&ctx, false);
  sl::people::v1::SyncPeopleResponse resp;
  auto writer = stub->SyncPeople(&ctx, &resp);
  sl::people::v1::SyncPeopleRequest msg;
  auto* o = msg.mutable_options();
  o->set_mode(mode == "full" ? sl::people::v1::SyncOptions::FULL
                             : sl::people::v1::SyncOptions::INCREMENTAL);
  o->set_dry_run(absl::GetFlag(FLAGS_dry_run));
  o->set_allow_mass_termination(absl::GetFlag(FLAGS_allow_mass_termination));
  o->set_request_id(absl::GetFlag(FLAGS_request_id));
  bool open = writer->Write(msg);
  for (const auto& t : roster->teams) {
    if (!open) break;
    msg.Clear();
    auto* r = msg.mutable_team();
    r->set_external_id(t.external_id);
    r->set_display_name(t.display_name);
    r->set_source_row(t.source_row);
    open = writer->Write(msg);
  }
  for (const auto& p : roster->people) {
    if (!open) break;
    msg.Clear();
    auto* r = msg.mutable_person();
    r->set_external_id(p.external_id);
    r->set_email(p.email);
    r->set_display_name(p.display_name);
    r->set_title(p.title);
    r->set_team_external_id(p.team_external_id);
    r->set_manager_external_id(p.manager_external_id);
    r->set_status(static_cast<sl::people::v1::Person::Status>(p.status));
    r->set_start_date(p.start_date);
    r->set_end_date(p.end_date);
    r->set_source_row(p.source_row);
    open = writer->Write(msg);
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    std::cerr << path << ": the sync was refused; nothing changed.\n";
    return FailCall(s);
  }
  auto counts = [](const char* what,
                   const sl::people::v1::SyncPeopleResponse::Counts& c) {
    std::cout << what << ": " << c.created() << " created, " << c.updated()
              << " updated, " << c.terminated() << " terminated, "
              << c.unchanged() << " unchanged\n";
  };
  std::cout << (resp.applied() ? "applied" : "dry run (nothing changed)")
            << "\n";
  counts("people", resp.people());
  counts("teams", resp.teams());
  for (const auto& c : resp.changes()) {
    std::cout << "  "
              << sl::people::v1::SyncPeopleResponse::Change::Kind_Name(c.kind())
              << " " << c.external_id()
              << (c.name().empty() ? "" : " (" + c.name() + ")");
    std::vector<std::string> fields;
    for (const auto& f : c.fields()) {
      fields.push_back(absl::StrCat(f.field(), ": '", f.old_value(), "' -> '",
                                    f.new_value(), "'"));
    }
    if (!fields.empty()) std::cout << "  " << absl::StrJoin(fields, "; ");
    std::cout << "\n";
  }
  return 0;
}

// Points per WriteDataPoints message: well under gRPC's 4 MB default.
constexpr int kPointsPerMessage = 5000;

int ImportDataPoints(const std::string& address, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string content = ss.str();
  auto file = sl::cli::ReadDataPoints(content);
  if (!file.ok())
    return Fail(absl::StrCat(path, ": ", file.status().message()));
  if (!file->errors.empty()) {
    // Every problem at once, and nothing sent: a load is all or nothing.
    std::cerr << path << ": " << file->errors.size()
              << " error(s), nothing was sent:\n";
    for (const auto& e : file->errors) {
      std::cerr << "  line " << e.line
                << (e.column.empty() ? "" : " (" + e.column + ")") << ": "
                << e.message << "\n";
    }
    return 1;
  }
  const auto& points = file->points;

  auto channel = Channel(address);
  if (!channel.ok()) return Fail(std::string(channel.status().message()));
  auto stub = sl::metrics::v1::MetricsService::NewStub(*channel);
  grpc::ClientContext ctx;
  Prepare(&ctx, false);
  sl::metrics::v1::WriteDataPointsResponse resp;
  auto writer = stub->WriteDataPoints(&ctx, &resp);
  // The same file is the same request: running it again writes nothing twice.
  const std::string request_id = sl::cli::ImportRequestId(content);
  bool open = true;
  for (size_t i = 0; open && i < points.size(); i += kPointsPerMessage) {
    sl::metrics::v1::WriteDataPointsRequest msg;
    if (i == 0) msg.set_request_id(request_id);
    size_t end = std::min(points.size(), i + kPointsPerMessage);
    for (size_t j = i; j < end; ++j) {
      const auto& p = points[j];
      auto* d = msg.add_points();
      d->set_kpi(p.kpi);
      int64_t seconds = absl::ToUnixSeconds(p.time);
      d->mutable_time()->set_seconds(seconds);
      d->mutable_time()->set_nanos(static_cast<int32_t>(
          (p.time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
      d->set_value(p.value);
      d->set_dimension(p.dimension);
      d->set_source(p.source);
    }
    open = writer->Write(msg);
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    std::cerr << path << ": the import was refused; nothing was written.\n";
    // The server names points[i]; say which line of the file that is.
    return FailCall(s, [&points](const std::string& field) -> std::string {
      size_t index = 0;
      absl::string_view f = field;
      if (!absl::ConsumePrefix(&f, "points[")) return "";
      size_t close = f.find(']');
      if (close == absl::string_view::npos ||
          !absl::SimpleAtoi(f.substr(0, close), &index) ||
          index >= points.size()) {
        return "";
      }
      return absl::StrCat("line ", points[index].line, ": ");
    });
  }
  std::cout << resp.written() << " data point(s) written from " << path
            << " (request_id " << request_id << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "sightline token|health|call|import-roster|import-datapoints ...\n"
      "  token  --key_file=F --subject=S [--roles=a,b] [--ttl=8h]\n"
      "  health ADDRESS\n"
      "  call   ADDRESS package.Service/Method [JSON]\n"
      "  import-roster ADDRESS FILE.csv [--mode=full|incremental] [--dry_run] "
      "[--map=...] [--status_map=...] [--date_format=...]\n"
      "  import-datapoints ADDRESS FILE.csv  (columns "
      "kpi,time,value[,dimension][,source])");
  // Every contract the CLI can call must be linked in: the generic caller
  // finds methods in the generated descriptor pool.
  (void)sl::people::v1::PeopleService::service_full_name();
  (void)sl::goals::v1::GoalService::service_full_name();
  (void)sl::goals::v1::Goal::descriptor();
  (void)sl::feedback::v1::FeedbackService::service_full_name();
  (void)sl::feedback::v1::Feedback::descriptor();
  (void)sl::metrics::v1::MetricsService::service_full_name();
  (void)sl::metrics::v1::Kpi::descriptor();
  sl::server::ApplyEnvironmentOverrides();
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2)
    return Fail(
        "usage: sightline token|health|call|import-roster|import-datapoints "
        "(see --help)");
  std::string cmd = args[1];
  if (cmd == "token") return Token();
  if (cmd == "health" && args.size() == 3) return Health(args[2]);
  if (cmd == "call" && (args.size() == 4 || args.size() == 5)) {
    return Call(args[2], args[3], args.size() == 5 ? args[4] : "");
  }
  if (cmd == "import-roster" && args.size() == 4)
    return ImportRoster(args[2], args[3]);
  if (cmd == "import-datapoints" && args.size() == 4)
    return ImportDataPoints(args[2], args[3]);
  return Fail(
      "usage: sightline token|health|call|import-roster|import-datapoints "
      "(see --help)");
}
