#include "lib/server/api.h"

#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::server {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;

google::protobuf::Timestamp Stamp() {
  google::protobuf::Timestamp t;
  t.set_seconds(1795511222);
  t.set_nanos(123456789);
  return t;
}

TEST(RawTest, SetRawThenParseRawGivesTheMessageBack) {
  std::string wire = Stamp().SerializeAsString();
  grpc::ByteBuffer bytes;
  SetRaw(wire, &bytes);
  EXPECT_EQ(bytes.Length(), wire.size());
  google::protobuf::Timestamp back;
  ASSERT_TRUE(ParseRaw(bytes, &back).ok());
  EXPECT_EQ(back.seconds(), 1795511222);
  EXPECT_EQ(back.nanos(), 123456789);
}

TEST(RawTest, PiecesAreSentInOrderAsOneMessage) {
  google::protobuf::Timestamp seconds;
  seconds.set_seconds(42);
  google::protobuf::Timestamp nanos;
  nanos.set_nanos(7);
  grpc::ByteBuffer bytes;
  SetRaw({seconds.SerializeAsString(), "", nanos.SerializeAsString()}, &bytes);
  google::protobuf::Timestamp back;
  ASSERT_TRUE(ParseRaw(bytes, &back).ok());
  EXPECT_EQ(back.seconds(), 42);
  EXPECT_EQ(back.nanos(), 7);
}

TEST(RawTest, ParsesARequestSpreadOverSeveralSlices) {
  std::string wire = Stamp().SerializeAsString();
  ASSERT_GT(wire.size(), 3u);
  std::vector<grpc::Slice> slices = {
      grpc::Slice(wire.data(), 2), grpc::Slice(wire.data() + 2, 1),
      grpc::Slice(wire.data() + 3, wire.size() - 3)};
  grpc::ByteBuffer bytes(slices.data(), slices.size());
  google::protobuf::Timestamp back;
  ASSERT_TRUE(ParseRaw(bytes, &back).ok());
  EXPECT_EQ(back.nanos(), 123456789);
}

TEST(RawTest, NoMessageAtAllIsACutOffCall) {
  grpc::ByteBuffer none;
  google::protobuf::Timestamp m;
  EXPECT_THAT(ParseRaw(none, &m), StatusIs(absl::StatusCode::kCancelled));
  grpc::Slice nothing("", 0);  // an empty message is a message
  grpc::ByteBuffer empty(&nothing, 1);
  ASSERT_TRUE(empty.Valid());
  EXPECT_TRUE(ParseRaw(empty, &m).ok());
}

TEST(RawTest, BytesThatAreNotTheMessageAreInvalidArgument) {
  std::string junk = "\xff\xff\xff\xff";
  grpc::Slice slice(junk.data(), junk.size());
  grpc::ByteBuffer bytes(&slice, 1);
  google::protobuf::Timestamp m;
  EXPECT_THAT(
      ParseRaw(bytes, &m),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("not a serialized google.protobuf.Timestamp")));
}

}  // namespace
}  // namespace sightline::server
