#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.h"

namespace ballast::config {
namespace {

// A file in a fresh temporary directory, removed with it.
class ConfigFile : public testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("ballast_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::string write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = directory_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  std::filesystem::path directory_;
};

std::string error_of(const std::string& path) {
  try {
    load_config_file(path);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(loaded)";
}

TEST_F(ConfigFile, LoadsAndNamesItselfInMessages) {
  const std::string path =
      write("lb.yaml", "load_balancer:\n  servers:\n    - {host: a, port: 0}\n");
  EXPECT_EQ(error_of(path),
            path + ":3:23: load_balancer.servers[0].port: must be between 1 and 65535, got 0");
}

TEST_F(ConfigFile, MissingFile) {
  const std::string path = (directory_ / "nope.yaml").string();
  EXPECT_EQ(error_of(path), path + ":1:1: (file): cannot open: No such file or directory");
}

TEST_F(ConfigFile, Directory) {
  EXPECT_EQ(error_of(directory_.string()),
            directory_.string() + ":1:1: (file): cannot read: Is a directory");
}

TEST_F(ConfigFile, TooLarge) {
  const std::string path = write("big.yaml", "# " + std::string(kMaxConfigBytes, 'x') + "\n");
  EXPECT_EQ(error_of(path), path + ":1:1: (file): larger than 16 MiB");
}

}  // namespace
}  // namespace ballast::config
