#include "lib/server/api.h"

#include <cstring>

#include "absl/strings/ascii.h"

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

namespace {

// The ids of `name` when it has `shape` (allocates nothing: names are parsed
// on every call).
bool SplitName(absl::string_view name, const Shape& shape,
               absl::string_view ids[2]) {
  absl::string_view parts[4];
  size_t n = 0;
  for (absl::string_view rest = name;;) {
    if (n == 4) return false;
    size_t slash = rest.find('/');
    parts[n++] = rest.substr(0, slash);
    if (slash == absl::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  size_t want = shape.second.empty() ? 2 : 4;
  bool ok = n == want && parts[0] == shape.first && IsId(parts[1]);
  if (ok && want == 4) ok = parts[2] == shape.second && IsId(parts[3]);
  if (!ok) return false;
  ids[0] = parts[1];
  ids[1] = want == 4 ? parts[3] : absl::string_view();
  return true;
}

void AddNameError(absl::string_view name, const Shape& shape,
                  absl::string_view field, status::FieldErrors* errors) {
  if (name.empty()) {
    errors->Add(field,
                absl::StrCat("must not be empty; expected ", shape.text));
  } else {
    errors->Add(field, absl::StrCat("must look like ", shape.text,
                                    " (ids of [a-z0-9-], 1..63 characters)"));
  }
}

}  // namespace

bool ParseInto(absl::string_view name, const Shape& shape,
               absl::string_view field, std::vector<std::string>* ids,
               status::FieldErrors* errors) {
  ids->clear();
  absl::string_view parsed[2];
  if (!SplitName(name, shape, parsed)) {
    AddNameError(name, shape, field, errors);
    return false;
  }
  ids->emplace_back(parsed[0]);
  if (!shape.second.empty()) ids->emplace_back(parsed[1]);
  return true;
}

std::string IdOf(absl::string_view name, const Shape& shape,
                 absl::string_view field, status::FieldErrors* errors) {
  absl::string_view parsed[2];
  if (!SplitName(name, shape, parsed)) {
    AddNameError(name, shape, field, errors);
    return "";
  }
  return std::string(parsed[0]);
}

std::string OptionalIdOf(absl::string_view name, const Shape& shape,
                         absl::string_view field, status::FieldErrors* errors) {
  if (name.empty()) return "";
  return IdOf(name, shape, field, errors);
}

absl::StatusOr<std::string> ParseOne(absl::string_view name, const Shape& shape,
                                     absl::string_view field) {
  absl::string_view parsed[2];
  if (SplitName(name, shape, parsed)) return std::string(parsed[0]);
  status::FieldErrors errors;
  AddNameError(name, shape, field, &errors);
  return errors.Build();
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
  // gRPC runs a raw handler even when the call ended before its message
  // arrived (a typed handler is not run at all).
  if (!bytes.Valid()) {
    return absl::CancelledError(
        "request: no message arrived; the call was cut off");
  }
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
  SetRaw({wire}, out);
}

void SetRaw(std::initializer_list<absl::string_view> pieces,
            grpc::ByteBuffer* out) {
  size_t size = 0;
  for (absl::string_view p : pieces) size += p.size();
  grpc::Slice slice(size);  // a new buffer, ours to fill
  auto* dst = const_cast<uint8_t*>(slice.begin());
  for (absl::string_view p : pieces) {
    if (!p.empty()) std::memcpy(dst, p.data(), p.size());
    dst += p.size();
  }
  grpc::ByteBuffer bytes(&slice, 1);
  out->Swap(&bytes);
}

}  // namespace sightline::server
