#pragma once

// sightline_feedback_* metrics: counts by kind and relationship, open and
// overdue requests. Labels are enum names only; nothing identifies a person.

#include <cstdint>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace sightline::feedback {

class FeedbackMetrics {
 public:
  // Creates every kind x relationship series at zero.
  explicit FeedbackMetrics(prometheus::Registry* registry);
  void Created(int kind, int relationship);
  void Requests(int64_t open, int64_t overdue);

 private:
  prometheus::Family<prometheus::Counter>& created_;
  prometheus::Counter* series_[4][6] = {};
  prometheus::Gauge& open_;
  prometheus::Gauge& overdue_;
};

}  // namespace sightline::feedback
