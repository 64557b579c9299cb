#pragma once

// The gRPC face of the feedback service: validates requests, converts between
// the API and the records, and maps statuses once. CreateFeedback's log line
// never names the caller (whether a call was anonymous must not show either).

#include "lib/server/change_stream.h"
#include "lib/server/runtime.h"
#include "services/feedback/convert.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/org.h"
#include "sightline/feedback/v1/feedback_service.grpc.pb.h"

namespace sightline::feedback {

class FeedbackHandler : public v1::FeedbackService::CallbackService {
 public:
  FeedbackHandler(server::Runtime* runtime, FeedbackService* service, Org* org,
                  server::ChangeStreamDeps watch);

#define SIGHTLINE_UNARY(Method, Request, Response)                             \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx,           \
                                   const v1::Request* req, v1::Response* resp) \
      override
  SIGHTLINE_UNARY(CreateFeedback, CreateFeedbackRequest, Feedback);
  SIGHTLINE_UNARY(GetFeedback, GetFeedbackRequest, Feedback);
  SIGHTLINE_UNARY(ListFeedback, ListFeedbackRequest, ListFeedbackResponse);
  SIGHTLINE_UNARY(AcknowledgeFeedback, AcknowledgeFeedbackRequest, Feedback);
  SIGHTLINE_UNARY(CreateFeedbackRequest, CreateFeedbackRequestRequest,
                  FeedbackRequest);
  SIGHTLINE_UNARY(ListFeedbackRequests, ListFeedbackRequestsRequest,
                  ListFeedbackRequestsResponse);
  SIGHTLINE_UNARY(DeclineFeedbackRequest, DeclineFeedbackRequestRequest,
                  FeedbackRequest);
  SIGHTLINE_UNARY(CreateReview360, CreateReview360Request, Review360);
  SIGHTLINE_UNARY(GetReview360Summary, GetReview360SummaryRequest,
                  Review360Summary);
  SIGHTLINE_UNARY(ListRecognition, ListRecognitionRequest,
                  ListRecognitionResponse);
  SIGHTLINE_UNARY(ReactToRecognition, ReactToRecognitionRequest, Feedback);
  SIGHTLINE_UNARY(CreateOneOnOne, CreateOneOnOneRequest, OneOnOne);
  SIGHTLINE_UNARY(UpdateOneOnOne, UpdateOneOnOneRequest, OneOnOne);
  SIGHTLINE_UNARY(ListOneOnOnes, ListOneOnOnesRequest, ListOneOnOnesResponse);
  SIGHTLINE_UNARY(CompleteActionItem, CompleteActionItemRequest, OneOnOne);
  SIGHTLINE_UNARY(GetFeedbackStats, GetFeedbackStatsRequest, FeedbackStats);
#undef SIGHTLINE_UNARY

  grpc::ServerWriteReactor<v1::WatchRecognitionResponse>* WatchRecognition(
      grpc::CallbackServerContext* ctx,
      const v1::WatchRecognitionRequest* req) override;

 private:
  absl::StatusOr<Caller> CallerOf(const server::CallContext& call, bool fresh);
  // AcknowledgeFeedback and ReactToRecognition: a name and a reaction in,
  // the feedback out; `action(caller, id, reaction)` does the change.
  template <typename Request, typename Action>
  grpc::ServerUnaryReactor* WithReaction(grpc::CallbackServerContext* ctx,
                                         const Request* req, v1::Feedback* resp,
                                         Action action);
  absl::Status RenderFeedback(const Caller& caller, const store::Feedback& f,
                              v1::Feedback* out);

  server::Runtime* runtime_;
  FeedbackService* service_;
  Org* org_;
  server::ChangeStreamDeps watch_;
};

}  // namespace sightline::feedback
