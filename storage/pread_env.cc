#include "storage/pread_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "base/unique_fd.h"

namespace replfs {
namespace {

// A table file read with pread(2), never mmap(2).
class PreadTableFile final : public leveldb::RandomAccessFile {
 public:
  PreadTableFile(std::string name, UniqueFd fd) : name_(std::move(name)), fd_(std::move(fd)) {}

  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_.get(), scratch + done, n - done,
                                static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        *result = leveldb::Slice(scratch, 0);
        return leveldb::Status::IOError(name_, std::strerror(errno));
      }
      if (r == 0) break;  // End of file: the caller checks the size.
      done += static_cast<size_t>(r);
    }
    *result = leveldb::Slice(scratch, done);
    return leveldb::Status::OK();
  }

 private:
  std::string name_;
  UniqueFd fd_;
};

// LevelDB's default Env maps up to 1000 table files into memory (on 64-bit
// hosts, whatever max_open_files says), and every page a lookup or scan
// touches stays in the process's RSS: the start-up scan and the entry count
// at open touch them all, so RSS grew with the store (about 85 MiB of
// mapped tables at 1M files). Reading with pread keeps table data in the
// page cache instead, behind LevelDB's block cache (8 MiB by default) and
// its table cache (index blocks of at most max_open_files tables), so
// memory stays bounded whatever the number of entries. Each open table
// holds one fd, which max_open_files bounds.
class PreadEnv final : public leveldb::EnvWrapper {
 public:
  PreadEnv() : EnvWrapper(leveldb::Env::Default()) {}

  leveldb::Status NewRandomAccessFile(const std::string& name,
                                      leveldb::RandomAccessFile** result) override {
    *result = nullptr;
    UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) return leveldb::Status::NotFound(name, std::strerror(errno));
      return leveldb::Status::IOError(name, std::strerror(errno));
    }
    *result = new PreadTableFile(name, std::move(fd));
    return leveldb::Status::OK();
  }
};

}  // namespace

// Like Env::Default(), never destroyed: a DB may be closed during exit.
leveldb::Env* PreadTableEnv() {
  static leveldb::Env* const env = new PreadEnv;
  return env;
}

}  // namespace replfs
