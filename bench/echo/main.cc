// sightline-bench-echo: the baseline server of `make bench`.
//
// Bare gRPC with the callback API: no interceptors, no authentication, no
// worker pool, no logging. Echo answers on the reactor thread that received
// the call, which is the cheapest a unary RPC can be served here; Sink reads a
// client stream to its end and counts it. Only the default health service is
// added, so that the bench can wait for readiness.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "sightline/bench/v1/echo_service.grpc.pb.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50099",
          "Address to listen on (host:port).");

namespace sightline::bench {
namespace {

class EchoService final : public v1::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerReadReactor<v1::SinkRequest>* Sink(
      grpc::CallbackServerContext* /*ctx*/,
      v1::SinkResponse* response) override {
    class Reader : public grpc::ServerReadReactor<v1::SinkRequest> {
     public:
      explicit Reader(v1::SinkResponse* response) : response_(response) {
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        response_->set_messages(response_->messages() + 1);
        response_->set_payload_bytes(response_->payload_bytes() +
                                     request_.payload().size());
        StartRead(&request_);
      }
      void OnDone() override { delete this; }

     private:
      v1::SinkResponse* response_;
      v1::SinkRequest request_;
    };
    return new Reader(response);
  }
};

int Run() {
  // Blocked before gRPC starts its threads, so that only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  grpc::EnableDefaultHealthCheckService(true);
  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_address),
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n",
                 absl::GetFlag(FLAGS_address).c_str());
    return 1;
  }
  std::fprintf(stderr, "echo serving on %s\n",
               absl::GetFlag(FLAGS_address).c_str());

  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return 0;
}

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trivial echo gRPC server: the baseline of `make bench`.");
  absl::ParseCommandLine(argc, argv);
  // The same Abseil configuration as the services (lib/server/config.cc):
  // Debian's build checks every mutex for deadlocks unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return sightline::bench::Run();
}
