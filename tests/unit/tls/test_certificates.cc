#include "test_certificates.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace ballast::tls::testing {
namespace {

struct Folder {
  Folder() {
    char pattern[] = "/tmp/ballast-tls-test-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path = pattern;
  }
  ~Folder() { std::filesystem::remove_all(path); }
  std::string path;
};

void write_pem(const std::string& path, auto&& write) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr || write(file) != 1) {
    throw std::runtime_error("cannot write " + path);
  }
  std::fclose(file);
}

}  // namespace

const std::string& scratch_folder() {
  static const Folder folder;
  return folder.path;
}

config::TlsCertificateConfig make_certificate(const std::string& file_name,
                                              const std::vector<std::string>& dns_names,
                                              KeyKind kind, int days) {
  EVP_PKEY* key = kind == KeyKind::ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), std::rand());
  X509_gmtime_adj(X509_getm_notBefore(certificate), days < 0 ? 2L * days * 86'400 : -60);
  X509_gmtime_adj(X509_getm_notAfter(certificate), static_cast<long>(days) * 86'400);
  X509_set_pubkey(certificate, key);
  X509_NAME* subject = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(file_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(certificate, subject);
  if (!dns_names.empty()) {
    std::string alt;
    for (const std::string& name : dns_names) {
      alt += (alt.empty() ? "DNS:" : ",DNS:") + name;
    }
    X509_EXTENSION* extension =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, alt.c_str());
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(certificate, key, EVP_sha256());
  config::TlsCertificateConfig files;
  files.cert.path = scratch_folder() + "/" + file_name + ".pem";
  files.key.path = scratch_folder() + "/" + file_name + ".key";
  files.cert.where = "test.yaml:1:1: cert";
  files.key.where = "test.yaml:1:1: key";
  write_pem(files.cert.path, [&](FILE* file) { return PEM_write_X509(file, certificate); });
  write_pem(files.key.path, [&](FILE* file) {
    return PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  X509_free(certificate);
  EVP_PKEY_free(key);
  return files;
}

}  // namespace ballast::tls::testing
