#include "lib/server/api.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace sightline::server {

bool IsId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    auto u = static_cast<unsigned char>(c);
    if (!absl::ascii_islower(u) && !absl::ascii_isdigit(u) && c != '-') {
      return false;
    }
  }
  return true;
}

bool ParseInto(absl::string_view name, const Shape& shape,
               absl::string_view field, std::vector<std::string>* ids,
               status::FieldErrors* errors) {
  ids->clear();
  if (name.empty()) {
    errors->Add(field,
                absl::StrCat("must not be empty; expected ", shape.text));
    return false;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  size_t want = shape.second.empty() ? 2 : 4;
  bool ok = parts.size() == want && parts[0] == shape.first && IsId(parts[1]);
  if (ok && want == 4) ok = parts[2] == shape.second && IsId(parts[3]);
  if (!ok) {
    errors->Add(field, absl::StrCat("must look like ", shape.text,
                                    " (ids of [a-z0-9-], 1..63 characters)"));
    return false;
  }
  ids->emplace_back(parts[1]);
  if (want == 4) ids->emplace_back(parts[3]);
  return true;
}

std::string IdOf(absl::string_view name, const Shape& shape,
                 absl::string_view field, status::FieldErrors* errors) {
  std::vector<std::string> ids;
  if (!ParseInto(name, shape, field, &ids, errors)) return "";
  return ids[0];
}

std::string OptionalIdOf(absl::string_view name, const Shape& shape,
                         absl::string_view field, status::FieldErrors* errors) {
  if (name.empty()) return "";
  return IdOf(name, shape, field, errors);
}

absl::StatusOr<std::string> ParseOne(absl::string_view name, const Shape& shape,
                                     absl::string_view field) {
  status::FieldErrors errors;
  std::string id = IdOf(name, shape, field, &errors);
  if (!errors.empty()) return errors.Build();
  return id;
}

absl::StatusOr<Paging> StartPage(const storage::TokenCodec& codec,
                                 absl::string_view method,
                                 absl::string_view filters, int page_size,
                                 const std::string& token, bool extra,
                                 int default_size) {
  auto size = storage::PageSize(page_size, default_size, kMaxPageSize);
  if (!size.ok()) return size.status();
  Paging p;
  p.size = *size;
  p.page.limit = extra ? *size + 1 : *size;
  if (!token.empty()) {
    auto cursor = storage::DecodePageToken(codec, method, filters, token);
    if (!cursor.ok()) return cursor.status();
    p.page.after = *cursor;
  }
  return p;
}

std::string TokenFor(const storage::TokenCodec& codec, absl::string_view method,
                     absl::string_view filters, const std::string& cursor) {
  if (cursor.empty()) return "";
  return storage::EncodePageToken(codec, method, filters, cursor);
}

absl::StatusOr<storage::Idempotency> IdempotencyOf(
    absl::string_view method, absl::string_view principal_key,
    const google::protobuf::Message& request, const std::string& request_id) {
  if (auto st = storage::ValidateRequestId(request_id, "request_id");
      !st.ok()) {
    return st;
  }
  storage::Idempotency idem;
  idem.scope = absl::StrCat(method, "|", principal_key);
  idem.request_id = request_id;
  if (!request_id.empty())
    idem.fingerprint = storage::RequestFingerprint(request);
  return idem;
}

absl::Status ParseRaw(const grpc::ByteBuffer& bytes,
                      google::protobuf::MessageLite* m) {
  grpc::Slice single;
  bool ok = false;
  if (bytes.TrySingleSlice(&single).ok()) {
    ok = m->ParseFromArray(single.begin(), static_cast<int>(single.size()));
  } else if (std::vector<grpc::Slice> slices; bytes.Dump(&slices).ok()) {
    std::string all;
    for (const auto& s : slices) {
      all.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    ok = m->ParseFromString(all);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("request: not a serialized ", m->GetTypeName()));
  }
  return absl::OkStatus();
}

void SetRaw(absl::string_view wire, grpc::ByteBuffer* out) {
  grpc::Slice slice(wire.data(), wire.size());
  grpc::ByteBuffer bytes(&slice, 1);
  out->Swap(&bytes);
}

}  // namespace sightline::server
