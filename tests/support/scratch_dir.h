#ifndef REPLFS_TESTS_SUPPORT_SCRATCH_DIR_H_
#define REPLFS_TESTS_SUPPORT_SCRATCH_DIR_H_

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

namespace replfs::testing {

// A temporary directory for storage unit tests (no mounts inside, so plain
// recursive removal is enough), removed when the object dies even if the
// test failed.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    std::string templ = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_SCRATCH_DIR_H_
