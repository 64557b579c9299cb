#pragma once

// gRPC metrics with exactly the names and labels of go-grpc-prometheus, so that
// the usual gRPC Grafana dashboards work unchanged, and one JSON log line per
// server RPC. Both come from interceptors, which see every call, health and
// reflection included.
//
// Handlers tell the interceptor who called (for the log line) through
// CallRegistry, keyed by the call's ServerContext.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/client_interceptor.h"
#include "grpcpp/support/server_interceptor.h"
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

// What the handler learned about a call, for its log line.
struct CallRecord {
  std::string principal;
  std::string request_id;
  // Set when naming the caller would reveal something (an anonymous author).
  bool redact_principal = false;
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

// Counts every server call and writes its log line.
class ServerInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  ServerInterceptorFactory(RpcMetrics* metrics, CallRegistry* registry,
                           bool log_calls)
      : metrics_(metrics), registry_(registry), log_calls_(log_calls) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  RpcMetrics* metrics_;
  CallRegistry* registry_;
  bool log_calls_;
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
