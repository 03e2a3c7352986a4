#include "fuse/mount_table.h"

#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace replfs {
namespace {

bool IsOctalDigit(char c) { return c >= '0' && c <= '7'; }

// Mountinfo escapes blanks, tabs, newlines and backslashes in octal (\040).
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && IsOctalDigit(field[i + 1]) &&
        IsOctalDigit(field[i + 2]) && IsOctalDigit(field[i + 3])) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(field[i]);
  }
  return out;
}

}  // namespace

absl::flat_hash_map<uint64_t, std::string> MountPointsIn(std::istream& mountinfo) {
  absl::flat_hash_map<uint64_t, std::string> mounts;
  std::string line;
  while (std::getline(mountinfo, line)) {
    // "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS ..."
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    uint64_t id = 0;
    if (fields.size() < 5 || !absl::SimpleAtoi(fields[0], &id)) continue;
    mounts[id] = Unescape(fields[4]);
  }
  return mounts;
}

absl::flat_hash_map<uint64_t, std::string> MountPoints() {
  std::ifstream in("/proc/self/mountinfo");
  return MountPointsIn(in);
}

}  // namespace replfs
