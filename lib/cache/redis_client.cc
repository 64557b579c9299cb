#include "lib/cache/redis_client.h"

#include <hiredis/hiredis.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace sightline::cache {
namespace {

// Keys per DEL command: keeps each command (and Redis's time on it) small.
constexpr size_t kDelBatch = 256;

// KEYS[1] = target, KEYS[2..] = guards; ARGV[1] = value, ARGV[2] = ttl ms,
// ARGV[i + 1] = what KEYS[i] must still hold.
constexpr absl::string_view kSetIfUnchangedScript =
    "for i = 2, #KEYS do "
    "if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i + 1] then return 0 end "
    "end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return 1";

absl::Status BadUrl(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("redis url: ", why));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(static_cast<unsigned char>(c));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return BadUrl("bad percent escape");
    int hi = HexDigit(in[i + 1]);
    int lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return BadUrl("bad percent escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool ValidHostName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '-' || c == '_';
  });
}

bool ValidIpv6(absl::string_view host) {
  if (host.empty() || host.size() > 45) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' ||
           c == '.';
  });
}

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current = {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 &&
        current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

struct timeval AtLeastOneMs(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

absl::Status ReplyError(const redisReply& r) {
  return absl::UnavailableError(
      absl::StrCat("redis: ", absl::string_view(r.str, r.len)));
}

absl::Status Unexpected(const redisReply& r) {
  if (r.type == REDIS_REPLY_ERROR) return ReplyError(r);
  return absl::UnavailableError(
      absl::StrCat("redis: unexpected reply type ", r.type));
}

absl::StatusOr<absl::optional<std::string>> OptionalString(
    const redisReply& r) {
  if (r.type == REDIS_REPLY_NIL) return absl::nullopt;
  if (r.type == REDIS_REPLY_STRING) return std::string(r.str, r.len);
  return Unexpected(r);
}

RedisValue ToValue(const redisReply& r) {
  RedisValue v;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      v.kind = RedisValue::Kind::kString;
      v.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      v.kind = RedisValue::Kind::kStatus;
      v.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      v.kind = RedisValue::Kind::kError;
      v.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      v.kind = RedisValue::Kind::kInteger;
      v.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.kind = RedisValue::Kind::kArray;
      v.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) {
        v.elements.push_back(ToValue(*r.element[i]));
      }
      break;
    default:
      v.kind = RedisValue::Kind::kNil;
      break;
  }
  return v;
}

}  // namespace

absl::StatusOr<RedisConfig> ParseRedisUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "redis://";
  if (url.empty()) return BadUrl("empty");
  if (!absl::StartsWithIgnoreCase(url, kScheme)) {
    return BadUrl("must start with redis:// (TLS is not supported)");
  }
  RedisConfig config;
  config.url = std::string(url);
  absl::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return BadUrl("query and fragment are not supported");
  }

  // Path: "/db".
  size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  if (slash != absl::string_view::npos) {
    absl::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      if (!std::all_of(db.begin(), db.end(),
                       [](char c) {
                         return absl::ascii_isdigit(
                             static_cast<unsigned char>(c));
                       }) ||
          db.size() > 6 || !absl::SimpleAtoi(db, &config.db)) {
        return BadUrl("database must be a non-negative number");
      }
    }
  }

  // Userinfo: "[user]:password@".
  size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) {
    absl::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      return BadUrl("credentials must be [user]:password");
    }
    auto user = PercentDecode(userinfo.substr(0, colon));
    if (!user.ok()) return user.status();
    auto password = PercentDecode(userinfo.substr(colon + 1));
    if (!password.ok()) return password.status();
    if (password->empty()) return BadUrl("empty password");
    config.username = std::move(*user);
    config.password = std::move(*password);
  }

  // Host and port: "host", "host:port", "[v6]", "[v6]:port".
  absl::string_view host;
  absl::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return BadUrl("unclosed [");
    host = authority.substr(1, close - 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl("junk after ]");
      port = after.substr(1);
      has_port = true;
    }
    if (!ValidIpv6(host)) return BadUrl("bad IPv6 address");
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != absl::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return BadUrl("missing host");
    if (!ValidHostName(host)) return BadUrl("bad host");
  }
  if (has_port) {
    int p = 0;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(),
                     [](char c) {
                       return absl::ascii_isdigit(
                           static_cast<unsigned char>(c));
                     }) ||
        !absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
      return BadUrl("port must be 1..65535");
    }
    config.port = p;
  }
  config.host = std::string(host);
  return config;
}

RedisClient::RedisClient(RedisConfig config) : config_(std::move(config)) {
  IgnoreSigpipeOnce();
  if (config_.host.empty()) {
    auto parsed = ParseRedisUrl(config_.url);
    if (parsed.ok()) {
      config_.host = parsed->host;
      config_.port = parsed->port;
      config_.db = parsed->db;
      config_.username = parsed->username;
      config_.password = parsed->password;
    } else {
      config_error_ = absl::UnavailableError(parsed.status().message());
    }
  }
  int n = std::max(1, config_.pool_size);
  contexts_.assign(n, nullptr);
  absl::MutexLock lock(&mu_);
  for (int i = n - 1; i >= 0; --i) idle_.push_back(i);
}

RedisClient::~RedisClient() {
  for (redisContext* c : contexts_) {
    if (c != nullptr) redisFree(c);
  }
}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Create(
    RedisConfig config) {
  if (config.url.empty() && config.host.empty()) {
    return std::unique_ptr<RedisClient>();
  }
  if (config.host.empty()) {
    auto parsed = ParseRedisUrl(config.url);
    if (!parsed.ok()) return parsed.status();
  }
  return std::make_unique<RedisClient>(std::move(config));
}

int RedisClient::Acquire(absl::Time deadline) {
  auto has_idle = [](std::vector<int>* idle) { return !idle->empty(); };
  // idle_ is guarded by mu_, which the condition runs under.
  std::vector<int>* idle = &idle_;
  if (!mu_.LockWhenWithDeadline(absl::Condition(+has_idle, idle), deadline)) {
    mu_.Unlock();
    return -1;
  }
  int slot = idle_.back();
  idle_.pop_back();
  mu_.Unlock();
  return slot;
}

void RedisClient::Release(int slot) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(slot);
}

void RedisClient::DropIdle() {
  std::vector<redisContext*> dead;
  {
    absl::MutexLock lock(&mu_);
    for (int slot : idle_) {
      if (contexts_[slot] != nullptr) {
        dead.push_back(contexts_[slot]);
        contexts_[slot] = nullptr;
      }
    }
  }
  for (redisContext* c : dead) redisFree(c);
}

absl::StatusOr<redisContext*> RedisClient::Connect(absl::Duration timeout) {
  redisContext* c = redisConnectWithTimeout(config_.host.c_str(), config_.port,
                                            AtLeastOneMs(timeout));
  if (c == nullptr) return absl::UnavailableError("redis: out of memory");
  if (c->err != 0) {
    absl::Status s = absl::UnavailableError(absl::StrCat(
        "redis: connect ", config_.host, ":", config_.port, ": ", c->errstr));
    redisFree(c);
    return s;
  }
  if (redisSetTimeout(c, AtLeastOneMs(config_.command_timeout)) != REDIS_OK) {
    redisFree(c);
    return absl::UnavailableError("redis: cannot set socket timeout");
  }
  redisEnableKeepAlive(c);
  return c;
}

absl::Status RedisClient::Execute(absl::Span<const Command> commands,
                                  ReplyFn on_reply) {
  if (!config_error_.ok()) return config_error_;
  if (commands.empty()) return absl::OkStatus();
  // Waiting for a free connection and connecting share connect_timeout, so a
  // call never takes longer than connect_timeout + command_timeout.
  const absl::Time start = absl::Now();
  const int slot = Acquire(start + config_.connect_timeout);
  if (slot < 0) return absl::UnavailableError("redis: no free connection");
  redisContext*& ctx = contexts_[slot];

  // A new connection sends AUTH/SELECT in the same round trip as the call.
  Command auth;
  Command select;
  std::string db;
  size_t setup = 0;
  if (ctx == nullptr) {
    absl::Duration left = config_.connect_timeout - (absl::Now() - start);
    if (left < absl::Milliseconds(1)) {
      Release(slot);
      return absl::UnavailableError("redis: no time left to connect");
    }
    auto c = Connect(left);
    if (!c.ok()) {
      Release(slot);
      DropIdle();
      return c.status();
    }
    ctx = *c;
    if (!config_.password.empty()) {
      auth.Add("AUTH");
      if (!config_.username.empty()) auth.Add(config_.username);
      auth.Add(config_.password);
      redisAppendCommandArgv(ctx, static_cast<int>(auth.argv.size()),
                             auth.argv.data(), auth.len.data());
      ++setup;
    }
    if (config_.db != 0) {
      db = absl::StrCat(config_.db);
      select.Add("SELECT");
      select.Add(db);
      redisAppendCommandArgv(ctx, 2, select.argv.data(), select.len.data());
      ++setup;
    }
  }

  for (const Command& c : commands) {
    // hiredis takes `const char**` but only reads the array.
    redisAppendCommandArgv(ctx, static_cast<int>(c.argv.size()),
                           const_cast<const char**>(c.argv.data()),
                           c.len.data());
  }
  absl::Status first;
  bool setup_failed = false;
  bool io_error = false;
  const size_t total = setup + commands.size();
  for (size_t i = 0; i < total; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) {
      io_error = true;
      break;
    }
    const redisReply& r = *static_cast<redisReply*>(raw);
    absl::Status s;
    if (i < setup) {
      if (r.type == REDIS_REPLY_ERROR) {
        s = ReplyError(r);
        setup_failed = true;
      }
    } else {
      s = on_reply(i - setup, r);
    }
    freeReplyObject(raw);
    if (first.ok() && !s.ok()) first = std::move(s);
  }
  if (io_error) {
    const bool timed_out =
        ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    absl::Status s = absl::UnavailableError(
        timed_out ? std::string("redis: command timed out")
                  : absl::StrCat("redis: ", ctx->errstr));
    redisFree(ctx);
    ctx = nullptr;
    Release(slot);
    DropIdle();
    return s;
  }
  if (setup_failed) {
    // AUTH or SELECT failed: do not keep a half-set-up connection.
    redisFree(ctx);
    ctx = nullptr;
  }
  Release(slot);
  return first;
}

absl::StatusOr<absl::optional<std::string>> RedisClient::Get(
    absl::string_view key) {
  Command c;
  c.Add("GET");
  c.Add(key);
  absl::optional<std::string> value;
  absl::Status s = Execute({&c, 1}, [&](size_t, const redisReply& r) {
    auto v = OptionalString(r);
    if (!v.ok()) return v.status();
    value = std::move(*v);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return value;
}

absl::StatusOr<std::vector<absl::optional<std::string>>> RedisClient::MGet(
    const std::vector<std::string>& keys) {
  absl::InlinedVector<absl::string_view, 8> views(keys.begin(), keys.end());
  return MGetViews(views);
}

absl::StatusOr<std::vector<absl::optional<std::string>>> RedisClient::MGetViews(
    absl::Span<const absl::string_view> keys) {
  std::vector<absl::optional<std::string>> values;
  if (keys.empty()) return values;
  Command c;
  c.argv.reserve(keys.size() + 1);
  c.len.reserve(keys.size() + 1);
  c.Add("MGET");
  for (absl::string_view k : keys) c.Add(k);
  absl::Status s = Execute({&c, 1}, [&](size_t, const redisReply& r) {
    if (r.type != REDIS_REPLY_ARRAY || r.elements != keys.size()) {
      return Unexpected(r);
    }
    values.reserve(r.elements);
    for (size_t i = 0; i < r.elements; ++i) {
      auto v = OptionalString(*r.element[i]);
      if (!v.ok()) return v.status();
      values.push_back(std::move(*v));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return values;
}

absl::Status RedisClient::Set(absl::string_view key, absl::string_view value,
                              absl::Duration ttl) {
  const int64_t ms = absl::ToInt64Milliseconds(ttl);
  if (ms < 1) return absl::InvalidArgumentError("redis: ttl must be >= 1ms");
  const std::string ms_str = absl::StrCat(ms);  // short: no allocation
  Command c;
  c.Add("SET");
  c.Add(key);
  c.Add(value);
  c.Add("PX");
  c.Add(ms_str);
  return Execute({&c, 1}, [](size_t, const redisReply& r) {
    if (r.type == REDIS_REPLY_STATUS) return absl::OkStatus();
    return Unexpected(r);
  });
}

absl::StatusOr<bool> RedisClient::SetIfUnchanged(
    absl::string_view key, absl::string_view value, absl::Duration ttl,
    absl::Span<const std::pair<absl::string_view, absl::string_view>> guards) {
  const int64_t ms = absl::ToInt64Milliseconds(ttl);
  if (ms < 1) return absl::InvalidArgumentError("redis: ttl must be >= 1ms");
  const std::string numkeys = absl::StrCat(guards.size() + 1);
  const std::string ms_str = absl::StrCat(ms);
  Command c;
  c.Add("EVAL");
  c.Add(kSetIfUnchangedScript);
  c.Add(numkeys);
  c.Add(key);
  for (const auto& g : guards) c.Add(g.first);
  c.Add(value);
  c.Add(ms_str);
  for (const auto& g : guards) c.Add(g.second);
  bool stored = false;
  absl::Status s = Execute({&c, 1}, [&](size_t, const redisReply& r) {
    if (r.type != REDIS_REPLY_INTEGER) return Unexpected(r);
    stored = r.integer == 1;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return stored;
}

absl::Status RedisClient::Del(const std::vector<std::string>& keys) {
  if (keys.empty()) return absl::OkStatus();
  std::vector<Command> commands((keys.size() + kDelBatch - 1) / kDelBatch);
  for (size_t i = 0; i < keys.size(); ++i) {
    Command& c = commands[i / kDelBatch];
    if (c.argv.empty()) c.Add("DEL");
    c.Add(keys[i]);
  }
  return Execute(commands, [](size_t, const redisReply& r) {
    if (r.type == REDIS_REPLY_INTEGER) return absl::OkStatus();
    return Unexpected(r);
  });
}

absl::StatusOr<int64_t> RedisClient::Incr(absl::string_view key) {
  Command c;
  c.Add("INCR");
  c.Add(key);
  int64_t value = 0;
  absl::Status s = Execute({&c, 1}, [&](size_t, const redisReply& r) {
    if (r.type != REDIS_REPLY_INTEGER) return Unexpected(r);
    value = r.integer;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return value;
}

absl::Status RedisClient::Ping() {
  Command c;
  c.Add("PING");
  return Execute({&c, 1}, [](size_t, const redisReply& r) {
    if (r.type == REDIS_REPLY_STATUS) return absl::OkStatus();
    return Unexpected(r);
  });
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::Pipeline(
    absl::Span<const std::vector<std::string>> commands) {
  std::vector<Command> built(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    if (commands[i].empty()) {
      return absl::InvalidArgumentError("redis: empty command");
    }
    for (const std::string& arg : commands[i]) built[i].Add(arg);
  }
  std::vector<RedisValue> values;
  values.reserve(commands.size());
  absl::Status s = Execute(built, [&](size_t, const redisReply& r) {
    values.push_back(ToValue(r));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return values;
}

}  // namespace sightline::cache
