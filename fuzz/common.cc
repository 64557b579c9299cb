// Linked into every fuzz target.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "google/protobuf/stubs/logging.h"

namespace {

// protobuf reports strings that are not UTF-8 in its log, and carries on. When
// parsing, that is a request refused as it should be: quiet. When serializing,
// it is our own output (an error detail quoting a piece of the input, say)
// that clients in stricter languages cannot read: a finding.
void OnProtobufLog(google::protobuf::LogLevel level, const char* filename,
                   int line, const std::string& message) {
  if (message.find("when serializing") != std::string::npos) {
    fprintf(stderr, "[protobuf %s:%d] %s\n", filename, line, message.c_str());
    abort();
  }
  if (level >= google::protobuf::LOGLEVEL_FATAL) {
    fprintf(stderr, "[protobuf %s:%d] %s\n", filename, line, message.c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(&OnProtobufLog);
  return 0;
}
