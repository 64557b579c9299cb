#pragma once

// The gRPC face of the directory: validates requests, converts between protos
// and domain types, and maps statuses. The only code here that sees protos.

#include "lib/server/change_stream.h"
#include "lib/server/runtime.h"
#include "services/people/convert.h"
#include "services/people/people_service.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

namespace sightline::people {

// GetPerson is a raw method (bytes in, bytes out): see GetPerson.
class PeopleHandler : public v1::PeopleService::WithRawCallbackMethod_GetPerson<
                          v1::PeopleService::CallbackService> {
 public:
  PeopleHandler(server::Runtime* runtime, PeopleService* service,
                server::ChangeStreamDeps watch);

  // A sightline.people.v1.GetPersonRequest in, a Person out.
  grpc::ServerUnaryReactor* GetPerson(grpc::CallbackServerContext* ctx,
                                      const grpc::ByteBuffer* req,
                                      grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* BatchGetPeople(
      grpc::CallbackServerContext* ctx, const v1::BatchGetPeopleRequest* req,
      v1::BatchGetPeopleResponse* resp) override;
  grpc::ServerUnaryReactor* ListPeople(grpc::CallbackServerContext* ctx,
                                       const v1::ListPeopleRequest* req,
                                       v1::ListPeopleResponse* resp) override;
  grpc::ServerUnaryReactor* LookupPerson(grpc::CallbackServerContext* ctx,
                                         const v1::LookupPersonRequest* req,
                                         v1::Person* resp) override;
  grpc::ServerUnaryReactor* GetTeam(grpc::CallbackServerContext* ctx,
                                    const v1::GetTeamRequest* req,
                                    v1::Team* resp) override;
  grpc::ServerUnaryReactor* ListTeams(grpc::CallbackServerContext* ctx,
                                      const v1::ListTeamsRequest* req,
                                      v1::ListTeamsResponse* resp) override;
  grpc::ServerUnaryReactor* GetReportingChain(
      grpc::CallbackServerContext* ctx, const v1::GetReportingChainRequest* req,
      v1::GetReportingChainResponse* resp) override;
  grpc::ServerUnaryReactor* ListReports(grpc::CallbackServerContext* ctx,
                                        const v1::ListReportsRequest* req,
                                        v1::ListReportsResponse* resp) override;
  grpc::ServerWriteReactor<v1::WatchPeopleResponse>* WatchPeople(
      grpc::CallbackServerContext* ctx,
      const v1::WatchPeopleRequest* req) override;
  grpc::ServerReadReactor<v1::SyncPeopleRequest>* SyncPeople(
      grpc::CallbackServerContext* ctx, v1::SyncPeopleResponse* resp) override;

  // Shared with the sync reactor.
  server::Runtime* runtime() { return runtime_; }
  PeopleService* service() { return service_; }
  const server::ChangeStreamDeps& watch() const { return watch_; }

 private:
  server::Runtime* runtime_;
  PeopleService* service_;
  server::ChangeStreamDeps watch_;
};

}  // namespace sightline::people
