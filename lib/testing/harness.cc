#include "lib/testing/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "libpq-fe.h"

extern char** environ;

namespace sightline::testing {
namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

struct User {
  uid_t uid;
  gid_t gid;
};

absl::StatusOr<User> LookupUser(const std::string& name) {
  struct passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) return absl::NotFoundError(absl::StrCat("no user ", name));
  return User{pw->pw_uid, pw->pw_gid};
}

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A whole-line Redis PING over a raw socket, so the harness needs no client.
bool RedisAnswersPing(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const char ping[] = "PING\r\n";
    if (write(fd, ping, sizeof(ping) - 1) == sizeof(ping) - 1) {
      char buf[16] = {};
      ssize_t n = read(fd, buf, sizeof(buf) - 1);
      ok = n >= 5 && std::strncmp(buf, "+PONG", 5) == 0;
    }
  }
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string MakeTempDir(absl::string_view prefix) {
  const char* base = getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr && *base ? base : "/tmp", "/",
                                  prefix, "-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return "";
  chmod(buf.data(), 0755);
  return std::string(buf.data());
}

void RemoveTree(const std::string& path) {
  if (path.empty() || path == "/") return;
  nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) {
        return remove(p);
      },
      16, FTW_DEPTH | FTW_PHYS);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(
    ProcessOptions options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::optional<User> user;
  if (!options.run_as.empty() && geteuid() == 0) {
    auto u = LookupUser(options.run_as);
    if (!u.ok()) return u.status();
    user = *u;
  }
  int log_fd = open(options.log_path.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Errno(absl::StrCat("open ", options.log_path));
  if (user.has_value() && fchown(log_fd, user->uid, user->gid) != 0) {
    close(log_fd);
    return Errno("chown log");
  }

  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    if (options.env.count(key) == 0) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : options.env)
    env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : options.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return Errno("fork");
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (!options.working_dir.empty() && chdir(options.working_dir.c_str()) != 0)
      _exit(126);
    if (user.has_value()) {
      if (setgroups(0, nullptr) != 0 || setgid(user->gid) != 0 ||
          setuid(user->uid) != 0) {
        _exit(126);
      }
    }
    // After any credential change, which clears it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(log_fd);
  return std::unique_ptr<Process>(new Process(pid, options.log_path));
}

Process::~Process() { Stop(absl::Seconds(10)); }

bool Process::Running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
    return false;
  }
  return true;
}

absl::Status Process::Signal(int sig) {
  if (!Running()) return absl::FailedPreconditionError("process has exited");
  if (kill(pid_, sig) != 0) return Errno("kill");
  return absl::OkStatus();
}

absl::StatusOr<int> Process::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError("still running");
    absl::SleepFor(absl::Milliseconds(10));
  }
  return wait_status_;
}

int Process::Stop(absl::Duration grace) {
  if (!Running()) return wait_status_;
  // A paused process must be continued to see SIGTERM.
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  auto st = Wait(grace);
  if (st.ok()) return *st;
  kill(pid_, SIGKILL);
  auto killed = Wait(absl::Seconds(10));
  return killed.ok() ? *killed : -1;
}

absl::Status RedisServer::Start(int port) {
  if (process_ != nullptr)
    return absl::FailedPreconditionError("already started");
  port_ = port != 0 ? port : FreePort();
  ProcessOptions o;
  o.argv = {"/usr/bin/redis-server",
            "--port",
            std::to_string(port_),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir_,
            "--daemonize",
            "no"};
  o.log_path = dir_ + "/redis.log";
  auto p = Process::Start(o);
  if (!p.ok()) return p.status();
  process_ = std::move(*p);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (!process_->Running()) {
      process_.reset();
      return absl::InternalError("redis-server exited: " +
                                 ReadFile(o.log_path));
    }
    if (RedisAnswersPing(port_)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("redis-server did not answer PING");
}

void RedisServer::Stop() {
  if (process_ == nullptr) return;
  process_->Stop();
  process_.reset();
}

absl::Status RedisServer::Pause() {
  if (process_ == nullptr) return absl::FailedPreconditionError("not running");
  return process_->Signal(SIGSTOP);
}

absl::Status RedisServer::Resume() {
  if (process_ == nullptr) return absl::FailedPreconditionError("not running");
  return process_->Signal(SIGCONT);
}

std::string RedisServer::url() const {
  return absl::StrCat("redis://127.0.0.1:", port_);
}

absl::StatusOr<std::pair<int, std::string>> HttpGet(int port,
                                                    const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Errno("socket");
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return absl::UnavailableError(absl::StrCat("connect to port ", port));
  std::string req =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size()))
    return Errno("write");
  std::string answer;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  int code = 0;
  if (answer.size() < 12 || !absl::SimpleAtoi(answer.substr(9, 3), &code))
    return absl::UnavailableError("not an HTTP answer");
  size_t body = answer.find("\r\n\r\n");
  return std::make_pair(
      code, body == std::string::npos ? "" : answer.substr(body + 4));
}

absl::Status PrometheusServer::Start(const std::vector<std::string>& targets) {
  constexpr char kBinary[] = "/usr/bin/prometheus";
  if (process_ != nullptr)
    return absl::FailedPreconditionError("already started");
  if (access(kBinary, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "/usr/bin/prometheus is missing: run scripts/install-deps.sh");
  }
  port_ = FreePort();
  std::string self = absl::StrCat("127.0.0.1:", port_);
  std::string config = absl::StrCat(
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "scrape_configs:\n  - job_name: ",
      targets.empty() ? "self" : "sightline",
      "\n    static_configs:\n      - targets: [");
  std::vector<std::string> quoted;
  for (const auto& t :
       targets.empty() ? std::vector<std::string>{self} : targets) {
    quoted.push_back(absl::StrCat("'", t, "'"));
  }
  absl::StrAppend(&config, absl::StrJoin(quoted, ", "), "]\n");
  {
    FILE* f = fopen((dir_ + "/prometheus.yml").c_str(), "w");
    if (f == nullptr) return Errno("write prometheus.yml");
    fwrite(config.data(), 1, config.size(), f);
    fclose(f);
  }
  ProcessOptions o;
  o.argv = {kBinary, "--config.file=" + dir_ + "/prometheus.yml",
            "--storage.tsdb.path=" + dir_ + "/prometheus-data",
            "--web.listen-address=" + self, "--log.level=warn"};
  o.log_path = dir_ + "/prometheus.log";
  o.working_dir = dir_;
  auto p = Process::Start(o);
  if (!p.ok()) return p.status();
  process_ = std::move(*p);
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (!process_->Running()) {
      process_.reset();
      return absl::InternalError("prometheus exited: " + ReadFile(o.log_path));
    }
    auto ready = HttpGet(port_, "/-/ready");
    if (ready.ok() && ready->first == 200) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError("prometheus not ready after 30 s: " +
                                     ReadFile(o.log_path));
}

int PrometheusServer::Stop() {
  if (process_ == nullptr) return 0;
  int status = process_->Stop();
  process_.reset();
  return status;
}

std::string PrometheusServer::url() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

absl::Status PostgresServer::Start() {
  if (process_ != nullptr)
    return absl::FailedPreconditionError("already started");
  const bool root = geteuid() == 0;
  std::string data = dir_ + "/pg";
  if (mkdir(data.c_str(), 0700) != 0 && errno != EEXIST)
    return Errno("mkdir pg");
  if (root) {
    auto u = LookupUser("postgres");
    if (!u.ok()) return u.status();
    if (chown(data.c_str(), u->uid, u->gid) != 0) return Errno("chown pg");
  }
  std::string run_as = root ? "postgres" : "";
  {
    ProcessOptions o;
    o.argv = {std::string(kPgBin) + "/initdb",
              "-D",
              data,
              "-A",
              "trust",
              "-U",
              "postgres",
              "--no-sync",
              "-E",
              "UTF8",
              "--locale=C"};
    o.log_path = dir_ + "/initdb.log";
    o.run_as = run_as;
    auto p = Process::Start(o);
    if (!p.ok()) return p.status();
    auto st = (*p)->Wait(absl::Seconds(120));
    if (!st.ok() || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
      return absl::InternalError("initdb failed: " + ReadFile(o.log_path));
    }
  }
  port_ = FreePort();
  return Launch();
}

absl::Status PostgresServer::Restart() {
  if (process_ != nullptr)
    return absl::FailedPreconditionError("still running");
  if (port_ == 0) return absl::FailedPreconditionError("never started");
  return Launch();
}

absl::Status PostgresServer::Launch() {
  const bool root = geteuid() == 0;
  std::string data = dir_ + "/pg";
  std::string run_as = root ? "postgres" : "";
  ProcessOptions o;
  o.argv = {std::string(kPgBin) + "/postgres",
            "-D",
            data,
            "-p",
            std::to_string(port_),
            "-k",
            data,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200"};
  o.log_path = dir_ + "/postgres.log";
  o.run_as = run_as;
  auto p = Process::Start(o);
  if (!p.ok()) return p.status();
  process_ = std::move(*p);
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::string conninfo = absl::StrCat("host=127.0.0.1 port=", port_,
                                      " user=postgres dbname=postgres");
  while (absl::Now() < deadline) {
    if (!process_->Running()) {
      process_.reset();
      return absl::InternalError("postgres exited: " + ReadFile(o.log_path));
    }
    if (CanConnect(port_)) {
      PGconn* c = PQconnectdb(conninfo.c_str());
      bool ok = PQstatus(c) == CONNECTION_OK;
      PQfinish(c);
      if (ok) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("postgres did not accept connections");
}

void PostgresServer::Stop() {
  if (process_ == nullptr) return;
  // SIGINT is PostgreSQL's fast shutdown.
  process_->Signal(SIGINT).IgnoreError();
  if (!process_->Wait(absl::Seconds(20)).ok()) process_->Stop(absl::Seconds(1));
  process_.reset();
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase(
    absl::string_view name) {
  std::string conninfo = absl::StrCat("host=127.0.0.1 port=", port_,
                                      " user=postgres dbname=postgres");
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string err = PQerrorMessage(c);
    PQfinish(c);
    return absl::UnavailableError(err);
  }
  std::string sql = absl::StrCat("CREATE DATABASE \"", name, "\"");
  PGresult* r = PQexec(c, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string err = ok ? "" : PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) return absl::InternalError(err);
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", name);
}

absl::Status WaitForServing(const std::string& address, absl::Duration timeout,
                            Process* process, const std::string& service) {
  absl::Time deadline = absl::Now() + timeout;
  std::string last = "no answer";
  while (absl::Now() < deadline) {
    if (process != nullptr && !process->Running()) {
      return absl::InternalError("process exited: " + process->Log());
    }
    // A fresh channel with its own subchannel each time: a shared one would sit
    // in reconnect backoff for seconds after the first refused connection.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(500));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    if (s.ok() &&
        resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    last = s.ok() ? "NOT_SERVING" : s.error_message();
    absl::SleepFor(absl::Milliseconds(25));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(address, " not SERVING: ", last));
}

std::string BinaryPath(absl::string_view env_var) {
  const char* v = getenv(std::string(env_var).c_str());
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace sightline::testing
