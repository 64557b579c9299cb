#include "services/feedback/metrics.h"

#include "sightline/feedback/v1/feedback_service.pb.h"

namespace sightline::feedback {

FeedbackMetrics::FeedbackMetrics(prometheus::Registry* registry)
    : created_(prometheus::BuildCounter()
                   .Name("sightline_feedback_created_total")
                   .Help("Feedback given, by kind and relationship.")
                   .Register(*registry)),
      open_(prometheus::BuildGauge()
                .Name("sightline_feedback_requests_open")
                .Help("Responders asked for feedback who have not answered "
                      "and are not yet due.")
                .Register(*registry)
                .Add({})),
      overdue_(prometheus::BuildGauge()
                   .Name("sightline_feedback_requests_overdue")
                   .Help("Responders asked for feedback who did not answer "
                         "by the due time.")
                   .Register(*registry)
                   .Add({})) {
  for (int k = 1; k <= 3; ++k) {
    for (int r = 1; r <= 5; ++r) {
      series_[k][r] =
          &created_.Add({{"kind", v1::Kind_Name(k)},
                         {"relationship", v1::Relationship_Name(r)}});
    }
  }
}

void FeedbackMetrics::Created(int kind, int relationship) {
  if (kind < 1 || kind > 3 || relationship < 1 || relationship > 5) return;
  series_[kind][relationship]->Increment();
}

void FeedbackMetrics::Requests(int64_t open, int64_t overdue) {
  open_.Set(static_cast<double>(open));
  overdue_.Set(static_cast<double>(overdue));
}

}  // namespace sightline::feedback
