#include "lib/testing/service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/auth/jwt.h"
#include "lib/storage/tokens.h"

namespace sightline::testing {
namespace {

constexpr char kMakeCertificates[] = R"(set -e
cat > req.cnf <<'END'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = sightline-test
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
subjectAltName = DNS:localhost,IP:127.0.0.1
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
END
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
  key "$1.key"
  openssl req -x509 -new -config req.cnf -extensions ca -key "$1.key" \
    -subj "/CN=$1" -days 2 -out "$1.pem"
}
leaf() {  # name ca extensions cn
  key "$1.key"
  openssl req -new -config req.cnf -key "$1.key" -subj "/CN=$4" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
    -days 2 -extfile req.cnf -extensions "$3" -out "$1.pem"
}
ca ca
ca other_ca
leaf server ca server localhost
leaf client ca client test-client
leaf rogue other_ca client rogue-client
)";

}  // namespace

absl::Status MakeTestCertificates(const std::string& dir) {
  std::ofstream(dir + "/make-certs.sh") << kMakeCertificates;
  std::string command =
      absl::StrCat("cd '", dir, "' && sh make-certs.sh > make-certs.log 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError("openssl failed: " +
                               ReadFile(dir + "/make-certs.log"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    const std::string& dir, const std::string& name, const std::string& binary,
    std::vector<std::string> args, bool wait) {
  if (binary.empty())
    return absl::FailedPreconditionError("no binary path for " + name);
  std::unique_ptr<ServiceProcess> s(new ServiceProcess());
  s->name_ = name;
  s->binary_ = binary;
  s->log_path_ = absl::StrCat(dir, "/", name, ".log");
  s->args_ = std::move(args);
  s->grpc_port_ = FreePort();
  s->metrics_port_ = FreePort();
  auto st = s->Launch(wait);
  if (!st.ok()) return st;
  return s;
}

absl::Status ServiceProcess::Launch(bool wait) {
  ProcessOptions o;
  o.argv = {binary_, absl::StrCat("--grpc_address=127.0.0.1:", grpc_port_),
            absl::StrCat("--metrics_address=127.0.0.1:", metrics_port_)};
  o.argv.insert(o.argv.end(), args_.begin(), args_.end());
  o.log_path = log_path_;
  auto p = Process::Start(o);
  if (!p.ok()) return p.status();
  process_ = std::move(*p);
  if (!wait) return absl::OkStatus();
  return WaitForServing(address(), absl::Seconds(60), process_.get());
}

int ServiceProcess::Stop() {
  if (process_ == nullptr) return 0;
  return process_->Stop(absl::Seconds(30));
}

absl::Status ServiceProcess::Restart() {
  Stop();
  // The ports were just released by our own child; binding them again is safe.
  return Launch(true);
}

std::shared_ptr<grpc::Channel> ServiceProcess::Channel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

absl::StatusOr<std::string> ServiceProcess::ScrapeMetrics() const {
  auto answer = HttpGet(metrics_port_, "/metrics");
  if (!answer.ok()) return answer.status();
  if (answer->first != 200) {
    return absl::UnavailableError(
        absl::StrCat("/metrics answered HTTP ", answer->first));
  }
  return answer->second;
}

TestTokens::TestTokens(const std::string& dir)
    : secret_(absl::BytesToHexString(storage::RandomBytes(32))),
      secret_file_(dir + "/jwt.secret") {
  std::ofstream(secret_file_) << secret_ << "\n";
}

std::string TestTokens::Mint(const std::string& subject,
                             std::vector<auth::Role> roles,
                             absl::Duration ttl) const {
  auth::MintOptions o;
  o.key = secret_;
  o.subject = subject;
  o.roles = std::move(roles);
  o.ttl = ttl;
  auto t = auth::Mint(o);
  return t.ok() ? *t : "";
}

std::string TestTokens::Expired(const std::string& subject) const {
  auth::MintOptions o;
  o.key = secret_;
  o.subject = subject;
  o.issued_at = absl::Now() - absl::Hours(2);
  o.ttl = absl::Hours(1);
  auto t = auth::Mint(o);
  return t.ok() ? *t : "";
}

std::string TestTokens::SignedWithOtherSecret(
    const std::string& subject) const {
  auth::MintOptions o;
  o.key = absl::BytesToHexString(storage::RandomBytes(32));
  o.subject = subject;
  o.roles = {auth::Role::kHrAdmin};
  auto t = auth::Mint(o);
  return t.ok() ? *t : "";
}

void Authorize(grpc::ClientContext* ctx, const std::string& token,
               absl::Duration timeout) {
  if (!token.empty())
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

size_t Count(absl::string_view text, absl::string_view what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != absl::string_view::npos;
       pos = text.find(what, pos + what.size())) {
    ++n;
  }
  return n;
}

double MetricValue(const std::string& exposition, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.size() > series.size() &&
        line.substr(0, series.size()) == series && line[series.size()] == ' ') {
      double v = -1;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

}  // namespace sightline::testing
