#include "lib/auth/internal.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sightline::auth::internal {
namespace {

absl::Status ReadError(const std::string& path, int err) {
  std::string message =
      absl::StrCat("cannot read ", path, ": ", std::strerror(err));
  return err == ENOENT ? absl::NotFoundError(message)
                       : absl::InvalidArgumentError(message);
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(absl::string_view pem) {
  if (pem.size() > INT_MAX) return nullptr;
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

int NoPassphrase(char*, int, int, void*) { return -1; }

// Failed parses leave entries on OpenSSL's per-thread error queue, where gRPC
// would later find and misreport them.
template <typename T>
T Cleared(T result) {
  if (!result) ERR_clear_error();
  return result;
}

}  // namespace

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  Fd file{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return ReadError(path, errno);
  struct stat st;
  if (fstat(file.fd, &st) != 0) return ReadError(path, errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, ": not a regular file"));
  }
  std::string data;
  char buf[4096];
  while (true) {
    ssize_t n = read(file.fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return ReadError(path, errno);
    }
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

PkeyPtr ParsePrivateKey(absl::string_view pem) {
  auto bio = MemoryBio(pem);
  if (bio == nullptr) return nullptr;
  return Cleared(PkeyPtr(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr)));
}

PkeyPtr ParsePublicKey(absl::string_view pem) {
  auto bio = MemoryBio(pem);
  if (bio == nullptr) return nullptr;
  return Cleared(
      PkeyPtr(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr)));
}

X509Ptr ParseCertificate(absl::string_view pem) {
  auto bio = MemoryBio(pem);
  if (bio == nullptr) return nullptr;
  return Cleared(
      X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)));
}

bool IsStrongRsaKey(const EVP_PKEY* key) {
  return key != nullptr && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
         EVP_PKEY_get_bits(key) >= 2048;
}

}  // namespace sightline::auth::internal
