#include "lib/storage/idempotency.h"

#include <soci/soci.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "lib/status/status.h"
#include "lib/storage/tokens.h"

namespace sightline::storage {

std::string RequestFingerprint(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  const auto* field = copy->GetDescriptor()->FindFieldByName("request_id");
  if (field != nullptr && !field->is_repeated()) {
    copy->GetReflection()->ClearField(copy.get(), field);
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    copy->SerializeToCodedStream(&cos);
  }
  return Sha256Hex(bytes);
}

absl::StatusOr<absl::optional<std::string>> LookupIdempotent(
    soci::session& sql, absl::string_view scope, absl::string_view request_id,
    absl::string_view fingerprint) {
  // SOCI runs the statement when its own temporary dies, after any temporaries
  // bound here would be gone: bind named locals only.
  const std::string scope_s(scope), request_s(request_id);
  std::string stored_fp, response;
  soci::indicator ind = soci::i_null;
  sql << "SELECT fingerprint, response FROM idempotency WHERE scope = :s AND "
         "request_id = :r",
      soci::use(scope_s), soci::use(request_s), soci::into(stored_fp, ind),
      soci::into(response);
  if (!sql.got_data() || ind == soci::i_null)
    return absl::optional<std::string>();
  if (stored_fp != fingerprint) {
    return status::InvalidField(
        "request_id", "was already used for a different request; use a new id");
  }
  std::string decoded;
  if (!absl::Base64Unescape(response, &decoded)) {
    return absl::DataLossError("idempotency: response is not base64");
  }
  return absl::optional<std::string>(std::move(decoded));
}

absl::Status RecordIdempotent(Tx& tx, absl::string_view scope,
                              absl::string_view request_id,
                              absl::string_view fingerprint,
                              absl::string_view response) {
  long long now = NowMicros();
  const std::string scope_s(scope), request_s(request_id), fp_s(fingerprint);
  const std::string encoded = absl::Base64Escape(response);
  if (tx.dialect() == Dialect::kSqlite) {
    // One writer at a time: the caller's lookup in this transaction saw
    // every record there is.
    tx.sql() << "INSERT INTO idempotency (scope, request_id, fingerprint, "
                "response, create_time) VALUES (:s, :r, :f, :resp, :t)",
        soci::use(scope_s), soci::use(request_s), soci::use(fp_s),
        soci::use(encoded), soci::use(now);
    return absl::OkStatus();
  }
  // A concurrent retry of the same request may have inserted the key since
  // the lookup: the insert waits for it and, when it committed, inserts
  // nothing. Then the write runs again and its lookup finds the first
  // answer. (Under SERIALIZABLE PostgreSQL reports that case as a
  // serialization failure, also run again.)
  soci::statement st =
      (tx.sql().prepare
           << "INSERT INTO idempotency (scope, request_id, fingerprint, "
              "response, create_time) VALUES (:s, :r, :f, :resp, :t) "
              "ON CONFLICT (scope, request_id) DO NOTHING",
       soci::use(scope_s), soci::use(request_s), soci::use(fp_s),
       soci::use(encoded), soci::use(now));
  st.execute(true);
  if (st.get_affected_rows() == 0) {
    return RetryableConflict(
        "idempotency: a concurrent call with the same request id committed "
        "first");
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view request_id,
                               absl::string_view field) {
  if (request_id.size() > 128) {
    return status::InvalidField(field, "must be at most 128 characters");
  }
  for (char c : request_id) {
    if (c < 0x21 || c > 0x7e) {
      return status::InvalidField(field,
                                  "must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> FindIdempotent(
    Database& db, absl::string_view op, const Idempotency& idem) {
  std::optional<std::string> out;
  if (idem.request_id.empty()) return out;
  auto st = db.Read(op, [&](soci::session& sql) {
    auto prior =
        LookupIdempotent(sql, idem.scope, idem.request_id, idem.fingerprint);
    if (!prior.ok()) return prior.status();
    if (prior->has_value()) out = std::move(**prior);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace sightline::storage
