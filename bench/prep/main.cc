// sightline-bench-prep: the small steps bench/run.sh needs around h2load.
//
//   sightline-bench-prep ports N
//       N distinct free loopback ports, one per line.
//   sightline-bench-prep wait ADDRESS
//       Waits (up to --timeout) until ADDRESS's health service says SERVING.
//   sightline-bench-prep echo-body --out=F [--payload_bytes=N]
//       Writes one gRPC-framed EchoRequest (h2load -d); prints the size of
//       the framed answer, so that h2load's data bytes can prove every
//       counted call carried one.
//   sightline-bench-prep person-body --target=A --token=T --external_id=E
//                                    --out=F
//       Looks the person up, then writes a framed GetPersonRequest for them;
//       prints their name and the size of the framed answer.
//
// gRPC framing: 1 byte "compressed" flag (0), 4-byte big-endian length, the
// serialized message.

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/frame.h"
#include "google/protobuf/message_lite.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/testing/harness.h"
#include "lib/testing/service.h"
#include "sightline/bench/v1/echo_service.pb.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

ABSL_FLAG(std::string, out, "", "File the framed request is written to.");
ABSL_FLAG(int, payload_bytes, 32, "echo-body: payload size.");
ABSL_FLAG(std::string, target, "", "person-body: the people service.");
ABSL_FLAG(std::string, token, "", "person-body: bearer token.");
ABSL_FLAG(std::string, external_id, "", "person-body: the person's HRIS key.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60), "wait: give up after.");
ABSL_FLAG(std::string, service, "",
          "wait: the service that must be SERVING (\"\": the server).");

namespace sightline::bench {
namespace {

namespace pv1 = ::sightline::people::v1;

int Fail(const std::string& message) {
  std::fprintf(stderr, "sightline-bench-prep: %s\n", message.c_str());
  return 1;
}

int WriteFrame(const google::protobuf::MessageLite& m) {
  const std::string path = absl::GetFlag(FLAGS_out);
  if (path.empty()) return Fail("--out must be set");
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << Frame(m);
  f.close();
  if (!f) return Fail(absl::StrCat("cannot write ", path));
  return 0;
}

int Ports(int n) {
  std::set<int> seen;
  for (int tries = 0; static_cast<int>(seen.size()) < n && tries < 100 * n;
       ++tries) {
    int p = sightline::testing::FreePort();
    if (p > 0 && seen.insert(p).second) std::printf("%d\n", p);
  }
  return static_cast<int>(seen.size()) == n ? 0 : Fail("no free ports");
}

int Wait(const std::string& address) {
  auto st =
      sightline::testing::WaitForServing(address, absl::GetFlag(FLAGS_timeout),
                                         nullptr, absl::GetFlag(FLAGS_service));
  return st.ok() ? 0 : Fail(std::string(st.message()));
}

int EchoBody() {
  v1::EchoRequest req;
  req.set_payload(std::string(absl::GetFlag(FLAGS_payload_bytes), 'x'));
  v1::EchoResponse resp;
  resp.set_payload(req.payload());
  if (int rc = WriteFrame(req); rc != 0) return rc;
  std::printf("response_frame_bytes=%zu\n", Frame(resp).size());
  return 0;
}

int PersonBody() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string token = absl::GetFlag(FLAGS_token);
  if (target.empty() || token.empty())
    return Fail("--target and --token must be set");
  auto stub = pv1::PeopleService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  pv1::Person person;
  {
    grpc::ClientContext ctx;
    sightline::testing::Authorize(&ctx, token);
    pv1::LookupPersonRequest req;
    req.set_external_id(absl::GetFlag(FLAGS_external_id));
    grpc::Status st = stub->LookupPerson(&ctx, req, &person);
    if (!st.ok()) return Fail("LookupPerson: " + st.error_message());
  }
  pv1::GetPersonRequest req;
  req.set_name(person.name());
  pv1::Person got;
  {
    grpc::ClientContext ctx;
    sightline::testing::Authorize(&ctx, token);
    grpc::Status st = stub->GetPerson(&ctx, req, &got);
    if (!st.ok()) return Fail("GetPerson: " + st.error_message());
  }
  if (int rc = WriteFrame(req); rc != 0) return rc;
  std::printf("name=%s\nresponse_frame_bytes=%zu\n", got.name().c_str(),
              Frame(got).size());
  return 0;
}

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "sightline-bench-prep ports N | wait ADDRESS | echo-body | person-body");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  using sightline::bench::Fail;
  if (args.size() < 2)
    return Fail("which step? ports, wait, echo-body, person-body");
  const std::string step = args[1];
  if (step == "ports" && args.size() == 3) {
    int n = 0;
    if (!absl::SimpleAtoi(args[2], &n) || n < 1) return Fail("ports N");
    return sightline::bench::Ports(n);
  }
  if (step == "wait" && args.size() == 3)
    return sightline::bench::Wait(args[2]);
  if (step == "echo-body") return sightline::bench::EchoBody();
  if (step == "person-body") return sightline::bench::PersonBody();
  return Fail("unknown step " + step);
}
