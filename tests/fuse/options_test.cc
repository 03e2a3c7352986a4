// Command-line parsing of the replication settings (no mount).
#include "fuse/options.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

absl::StatusOr<Options> Parse(const std::vector<std::string>& args) {
  std::string program = "replfs";
  std::vector<std::string> copies = args;  // fuse_opt wants char*.
  std::vector<char*> argv = {program.data()};
  for (std::string& arg : copies) argv.push_back(arg.data());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(OptionsTest, FallbackPeersAreParsedInOrderWithTheirPatience) {
  absl::StatusOr<Options> options =
      Parse({"/b", "/m", "-o", "peers=hub:7400,fallback_peers=hub2:7400;centre:7400",
             "-o", "fallback_after=2.5"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->peers, std::vector<std::string>{"hub:7400"});
  EXPECT_EQ(options->fallback_peers, (std::vector<std::string>{"hub2:7400", "centre:7400"}));
  EXPECT_DOUBLE_EQ(options->fallback_after, 2.5);
  absl::StatusOr<Options> defaults = Parse({"/b", "/m", "-o", "peers=hub:7400"});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_TRUE(defaults->fallback_peers.empty());
  EXPECT_DOUBLE_EQ(defaults->fallback_after, 10);
}

TEST(OptionsTest, BadFallbackSettingsAreRefusedWithTheReason) {
  const struct {
    std::string option;
    std::string says;
  } cases[] = {
      {"peers=hub:7400,fallback_peers=centre", "a fallback peer must be HOST:PORT"},
      {"peers=hub:7400,fallback_peers=hub:7400", "both a peer and a fallback peer"},
      {"fallback_peers=centre:7400", "give peers= as well"},
      {"peers=hub:7400,fallback_peers=centre:7400,fallback_after=soon",
       "fallback_after must be a number of seconds"},
      {"peers=hub:7400,fallback_peers=centre:7400,fallback_after=-1",
       "fallback_after must be a number of seconds"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<Options> options = Parse({"/b", "/m", "-o", c.option});
    ASSERT_FALSE(options.ok()) << c.option;
    EXPECT_TRUE(absl::StrContains(options.status().message(), c.says))
        << c.option << ": " << options.status();
  }
}

}  // namespace
}  // namespace replfs
