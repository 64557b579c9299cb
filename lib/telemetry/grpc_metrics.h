#pragma once

// gRPC metrics with exactly the names and labels of go-grpc-prometheus, so that
// the usual gRPC Grafana dashboards work unchanged, and one JSON log line per
// server RPC.
//
// Every server call is measured by a ServerCall. Calls of the unary methods
// the server names (HandedOverMethods) are driven by the code that serves
// them (server::Runtime::Unary): the interceptor factory hands the call's
// series over (TakeServerCall) and adds no interceptor, because gRPC's
// interception machinery alone costs more per call than a warm read does.
// Every other call (streams, health, reflection, unknown methods) is driven by
// an interceptor; its handler tells it who called (for the log line) through
// CallRegistry, keyed by the call's ServerContext.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/client_interceptor.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/string_ref.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace grpc {
class ServerContextBase;
}

namespace sightline::telemetry {

// "unary", "client_stream", "server_stream", "bidi_stream".
enum class RpcType { kUnary, kClientStream, kServerStream, kBidiStream };
absl::string_view RpcTypeName(RpcType t);

struct MethodMetrics;

// What the handler learned about a call, for its log line.
struct CallRecord {
  // The method called (its series); null for a call nobody measures.
  const MethodMetrics* method = nullptr;
  std::string principal;
  std::string request_id;
  // Set when naming the caller would reveal something (an anonymous author).
  bool redact_principal = false;
  // Run once when the call ends (gives back what the handler took for it).
  std::function<void()> on_end;
};

class CallRegistry {
 public:
  void Register(const grpc::ServerContextBase* ctx, CallRecord* record);
  void Unregister(const grpc::ServerContextBase* ctx);
  // Runs `fn` on the record of a live call, if any.
  template <typename Fn>
  void Update(const grpc::ServerContextBase* ctx, Fn&& fn) {
    Shard& s = shard(ctx);
    absl::MutexLock lock(&s.mu);
    auto it = s.calls.find(ctx);
    if (it != s.calls.end()) fn(*it->second);
  }

 private:
  static constexpr int kShards = 16;
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<const grpc::ServerContextBase*, CallRecord*> calls
        ABSL_GUARDED_BY(mu);
  };
  Shard& shard(const grpc::ServerContextBase* ctx) {
    return shards_[(reinterpret_cast<uintptr_t>(ctx) >> 4) % kShards];
  }
  Shard shards_[kShards];
};

// The counters and histogram of one method, resolved once so that the hot path
// does no label lookups.
struct MethodMetrics {
  std::string full;  // "/pkg.Service/Method", as the log line names it
  std::string type;
  std::string service;
  std::string method;
  prometheus::Counter* started = nullptr;
  prometheus::Counter* msg_received = nullptr;
  prometheus::Counter* msg_sent = nullptr;
  prometheus::Histogram* handling = nullptr;
  prometheus::Counter* handled[17] = {};
};

// One side's (server or client) families.
class RpcMetrics {
 public:
  enum class Side { kServer, kClient };
  RpcMetrics(Side side, prometheus::Registry* registry);

  // Creates every series of a method up front ("/pkg.Service/Method").
  void Initialize(absl::string_view full_method, RpcType type);
  // Finds (or creates) the series of a method.
  MethodMetrics* Get(absl::string_view full_method, RpcType type);

 private:
  MethodMetrics* Create(absl::string_view full_method, RpcType type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Counter>& msg_received_;
  prometheus::Family<prometheus::Counter>& msg_sent_;
  prometheus::Family<prometheus::Histogram>& handling_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodMetrics>> methods_
      ABSL_GUARDED_BY(mu_);
};

// The measurements of one server call: counted when it starts, its messages
// counted, and at its end counted by code, timed and logged. A default-made
// ServerCall measures nothing.
class ServerCall {
 public:
  ServerCall() = default;
  ServerCall(MethodMetrics* metrics, bool log);
  ServerCall(ServerCall&& other) noexcept;
  ServerCall& operator=(ServerCall&& other) noexcept;

  // Counts the start and takes the client's x-request-id if it is valid, or
  // makes one; true when the id came from the client, who expects it back.
  bool Begin(const std::multimap<grpc::string_ref, grpc::string_ref>& md);
  void MessageReceived();
  void MessageSent();
  // Counts the call by its code, observes its handling time, writes its log
  // line. Once ended (or moved from), a ServerCall measures nothing more.
  void End(const grpc::Status& status);

  CallRecord& record() { return record_; }

 private:
  MethodMetrics* metrics_ = nullptr;
  bool log_ = false;
  std::chrono::steady_clock::time_point start_;
  CallRecord record_;
};

// The ServerCall of a unary call that the factory handed over instead of
// adding an interceptor; it must be taken on the thread that gRPC runs the
// method handler on, before the handler returns (gRPC calls the factory and
// then the handler on one thread, with nothing in between). A call the
// factory did not hand over (a server built without it) is not measured.
ServerCall TakeServerCall(const grpc::ServerContextBase* ctx);

// Unary methods ("/pkg.Service/Method") whose calls the factory hands over
// (TakeServerCall), with their series.
using HandedOverMethods = absl::flat_hash_map<std::string, MethodMetrics*>;

// Measures every server call and writes its log line. Calls of `handed_over`
// methods are handed over; every other call gets an interceptor.
class ServerInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  ServerInterceptorFactory(RpcMetrics* metrics, CallRegistry* registry,
                           bool log_calls, HandedOverMethods handed_over = {})
      : metrics_(metrics),
        registry_(registry),
        log_calls_(log_calls),
        handed_over_(std::move(handed_over)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  RpcMetrics* metrics_;
  CallRegistry* registry_;
  bool log_calls_;
  // Read-only once built: looked up without a lock on every call.
  const HandedOverMethods handed_over_;
};

// Counts every call made by a client channel (calls between services).
class ClientInterceptorFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ClientInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override;

 private:
  RpcMetrics* metrics_;
};

// A fresh request id (16 hex chars) for calls that bring none.
std::string NewRequestId();

// A client-supplied x-request-id is kept if it is short and printable.
bool IsValidRequestId(absl::string_view id);

}  // namespace sightline::telemetry
