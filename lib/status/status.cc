#include "lib/status/status.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace sightline::status {
namespace {

constexpr absl::string_view kTypePrefix = "type.googleapis.com/";

std::string TypeUrl(const google::protobuf::Message& m) {
  return absl::StrCat(kTypePrefix, m.GetDescriptor()->full_name());
}

template <typename M>
bool ReadPayload(const absl::Status& s, M* out) {
  auto payload = s.GetPayload(TypeUrl(*out));
  if (!payload.has_value()) return false;
  return out->ParseFromString(std::string(*payload));
}

bool HidesMessage(absl::StatusCode code) {
  return code == absl::StatusCode::kInternal ||
         code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kDataLoss;
}

}  // namespace

absl::Status InvalidField(absl::string_view field, absl::string_view rule) {
  return InvalidFields({{std::string(field), std::string(rule)}});
}

void FieldErrors::Add(absl::string_view field, absl::string_view rule) {
  violations_.push_back({std::string(field), std::string(rule)});
}

absl::Status FieldErrors::Build() const {
  if (violations_.empty()) return absl::OkStatus();
  return InvalidFields(violations_);
}

absl::Status InvalidFields(const std::vector<FieldViolation>& violations) {
  constexpr size_t kInMessage = 3;
  std::vector<std::string> parts;
  for (size_t i = 0; i < violations.size() && i < kInMessage; ++i) {
    parts.push_back(
        absl::StrCat(violations[i].field, ": ", violations[i].description));
  }
  std::string message = absl::StrJoin(parts, "; ");
  if (violations.size() > kInMessage) {
    absl::StrAppend(&message, " (and ", violations.size() - kInMessage,
                    " more)");
  }
  absl::Status s(absl::StatusCode::kInvalidArgument, message);
  google::rpc::BadRequest bad;
  for (const auto& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  s.SetPayload(TypeUrl(bad), absl::Cord(bad.SerializeAsString()));
  return s;
}

absl::Status WithErrorInfo(
    absl::Status status, absl::string_view reason,
    const absl::flat_hash_map<std::string, std::string>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kDomain));
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  status.SetPayload(TypeUrl(info), absl::Cord(info.SerializeAsString()));
  return status;
}

absl::Status WithRetryInfo(absl::Status status, absl::Duration retry_delay) {
  if (retry_delay < absl::ZeroDuration()) retry_delay = absl::ZeroDuration();
  google::rpc::RetryInfo info;
  const int64_t nanos = absl::ToInt64Nanoseconds(retry_delay);
  info.mutable_retry_delay()->set_seconds(nanos / 1000000000);
  info.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(nanos % 1000000000));
  status.SetPayload(TypeUrl(info), absl::Cord(info.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> FieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  google::rpc::BadRequest bad;
  if (!ReadPayload(status, &bad)) return out;
  for (const auto& fv : bad.field_violations()) {
    out.push_back({fv.field(), fv.description()});
  }
  return out;
}

std::string ErrorReason(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  if (!ReadPayload(status, &info)) return "";
  return info.reason();
}

std::optional<absl::Duration> RetryDelay(const absl::Status& status) {
  google::rpc::RetryInfo info;
  if (!ReadPayload(status, &info)) return std::nullopt;
  return absl::Seconds(info.retry_delay().seconds()) +
         absl::Nanoseconds(info.retry_delay().nanos());
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering by design.
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message = HidesMessage(status.code())
                            ? std::string("internal error")
                            : std::string(status.message());
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(code));
  rpc.set_message(message);
  if (!HidesMessage(status.code())) {
    status.ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) {
          auto* any = rpc.add_details();
          any->set_type_url(std::string(url));
          any->set_value(std::string(payload));
        });
  }
  if (rpc.details_size() == 0) return grpc::Status(code, message);
  return grpc::Status(code, message, rpc.SerializeAsString());
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status s(static_cast<absl::StatusCode>(status.error_code()),
                 status.error_message());
  google::rpc::Status rpc;
  if (!status.error_details().empty() &&
      rpc.ParseFromString(status.error_details())) {
    for (const auto& any : rpc.details()) {
      s.SetPayload(any.type_url(), absl::Cord(any.value()));
    }
  }
  return s;
}

absl::Status FromDependency(absl::string_view dependency,
                            const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return absl::UnavailableError(absl::StrCat(
          dependency, " is unavailable: ", status.error_message()));
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
      return FromGrpc(status);
    case grpc::StatusCode::UNAUTHENTICATED:
      // Our own credentials were refused: a deployment fault, not the caller's.
      return absl::InternalError(absl::StrCat(
          dependency, " refused our credentials: ", status.error_message()));
    default:
      return absl::InternalError(
          absl::StrCat(dependency, " failed: ", status.error_message()));
  }
}

absl::string_view GoCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

}  // namespace sightline::status
