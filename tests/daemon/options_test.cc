// Command-line parsing of both halves, mount and replication (no mount).
#include "daemon/options.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
  EXPECT_EQ(options->replication.peers, std::vector<std::string>{"hub:7400"});
  EXPECT_EQ(options->replication.fallback_peers,
            (std::vector<std::string>{"hub2:7400", "centre:7400"}));
  EXPECT_DOUBLE_EQ(options->replication.fallback_after, 2.5);
  absl::StatusOr<Options> defaults = Parse({"/b", "/m", "-o", "peers=hub:7400"});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_TRUE(defaults->replication.fallback_peers.empty());
  EXPECT_DOUBLE_EQ(defaults->replication.fallback_after, 10);
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

TEST(OptionsTest, EachSettingLandsInItsHalf) {
  absl::StatusOr<Options> options =
      Parse({"/b", "/m", "-o", "cache_timeout=5,writeback=off,passthrough=off,inode_fds=7",
             "-o", "allow_other,noatime,state_dir=/s,log_level=info", "-o",
             "listen=127.0.0.1:7400,cluster=c,allow_setuid,tombstone_grace=60", "-s", "-d"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->mount.backing, "/b");
  EXPECT_EQ(options->mount.mountpoint, "/m");
  EXPECT_DOUBLE_EQ(options->mount.cache_timeout, 5);
  EXPECT_FALSE(options->mount.writeback_cache);
  EXPECT_FALSE(options->mount.passthrough);
  EXPECT_EQ(options->mount.inode_fds, 7);
  EXPECT_TRUE(options->mount.allow_other);
  EXPECT_TRUE(options->mount.single_thread);
  EXPECT_TRUE(options->mount.debug);
  EXPECT_TRUE(options->foreground);  // -d implies it.
  EXPECT_EQ(options->mount.fuse_mount_options, "allow_other,noatime");
  EXPECT_EQ(options->state_dir, "/s");
  EXPECT_EQ(options->log_level, LogLevel::kInfo);
  EXPECT_EQ(options->replication.listen, "127.0.0.1:7400");
  EXPECT_EQ(options->replication.cluster, "c");
  EXPECT_TRUE(options->replication.allow_setuid);
  EXPECT_DOUBLE_EQ(options->replication.tombstone_grace, 60);
}

TEST(OptionsTest, TheCommandLineWinsOverTheConfigFile) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/options_test_", ::getpid(), ".conf");
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs("# both halves\ncluster = from-file\ncache_timeout = 9\npeer = a:1\n", file);
  std::fclose(file);
  absl::StatusOr<Options> options =
      Parse({"/b", "/m", "-o", absl::StrCat("config=", path, ",cluster=cli,peer=b:2")});
  std::remove(path.c_str());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->config_file, path);
  EXPECT_EQ(options->replication.cluster, "cli");
  EXPECT_DOUBLE_EQ(options->mount.cache_timeout, 9);
  EXPECT_EQ(options->replication.peers, (std::vector<std::string>{"b:2", "a:1"}));
}

TEST(OptionsTest, IgnorePatternsComeFromOptionsThenTheIgnoreFile) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/options_test_", ::getpid(), ".ignore");
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs("# build output\n*.bak\n!keep.bak\n", file);
  std::fclose(file);
  absl::StatusOr<Options> options = Parse(
      {"/b", "/m", "-o", "ignore=*.tmp,ignore=cache/", "-o", absl::StrCat("ignore_file=", path)});
  absl::StatusOr<Options> missing_file =
      Parse({"/b", "/m", "-o", absl::StrCat("ignore_file=", path, ".absent")});
  absl::StatusOr<Options> bad_pattern = Parse({"/b", "/m", "-o", "ignore=a//b"});
  std::remove(path.c_str());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->replication.ignore_patterns,
            (std::vector<std::string>{"*.tmp", "cache/", "# build output", "*.bak", "!keep.bak"}));
  ASSERT_FALSE(missing_file.ok());
  EXPECT_TRUE(absl::StrContains(missing_file.status().message(), "cannot read ignore_file"))
      << missing_file.status();
  ASSERT_FALSE(bad_pattern.ok());
  EXPECT_TRUE(absl::StrContains(bad_pattern.status().message(), "ignore pattern 'a//b'"))
      << bad_pattern.status();
  absl::StatusOr<Options> none = Parse({"/b", "/m"});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->replication.ignore_patterns.empty());
}

TEST(OptionsTest, MaxRateTakesBinaryUnitsAndRefusesWhatIsNotARate) {
  const struct {
    std::string text;
    uint64_t bytes_per_second;
  } rates[] = {{"500k", 500 << 10}, {"10M", 10 << 20}, {"1G", uint64_t{1} << 30}, {"4096", 4096},
               {"0", 0}};
  for (const auto& rate : rates) {
    absl::StatusOr<Options> options = Parse({"/b", "/m", "-o", "max_rate=" + rate.text});
    ASSERT_TRUE(options.ok()) << rate.text << ": " << options.status();
    EXPECT_EQ(options->replication.max_rate, rate.bytes_per_second) << rate.text;
  }
  for (const char* bad : {"fast", "10X", "M", "-1", "99999999G"}) {
    absl::StatusOr<Options> options = Parse({"/b", "/m", "-o", absl::StrCat("max_rate=", bad)});
    ASSERT_FALSE(options.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(options.status().message(), "max_rate must be bytes a second"))
        << options.status();
  }
}

TEST(OptionsTest, CompressionIsGzipOrNone) {
  absl::StatusOr<Options> unset = Parse({"/b", "/m"});
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_EQ(unset->replication.compression, "none");
  for (const char* given : {"gzip", "none"}) {
    absl::StatusOr<Options> options =
        Parse({"/b", "/m", "-o", absl::StrCat("compression=", given)});
    ASSERT_TRUE(options.ok()) << given << ": " << options.status();
    EXPECT_EQ(options->replication.compression, given);
  }
  absl::StatusOr<Options> bad = Parse({"/b", "/m", "--compression=zstd"});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "compression must be gzip or none, got "
                                                        "'zstd'"))
      << bad.status();
}

TEST(OptionsTest, VersionRetentionIsDaysAndASizeOrAShare) {
  absl::StatusOr<Options> unset = Parse({"/b", "/m"});
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_EQ(unset->replication.keep_versions_days, 7u);
  EXPECT_EQ(unset->replication.versions_max_bytes, 0u);
  EXPECT_EQ(unset->replication.versions_max_percent, 10);
  absl::StatusOr<Options> sized =
      Parse({"/b", "/m", "-o", "keep_versions=30,versions_max=2G"});
  ASSERT_TRUE(sized.ok()) << sized.status();
  EXPECT_EQ(sized->replication.keep_versions_days, 30u);
  EXPECT_EQ(sized->replication.versions_max_bytes, uint64_t{2} << 30);
  EXPECT_EQ(sized->replication.versions_max_percent, 0);
  absl::StatusOr<Options> share = Parse({"/b", "/m", "--keep-versions=0", "--versions-max=25%"});
  ASSERT_TRUE(share.ok()) << share.status();
  EXPECT_EQ(share->replication.keep_versions_days, 0u);
  EXPECT_EQ(share->replication.versions_max_percent, 25);
  for (const char* bad : {"keep_versions=-1", "keep_versions=week", "versions_max=0",
                          "versions_max=95%", "versions_max=lots"}) {
    absl::StatusOr<Options> refused = Parse({"/b", "/m", "-o", bad});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                  std::string(bad).substr(0, std::string(bad).find('='))))
        << refused.status();
  }
}

TEST(OptionsTest, ListeningBeyondLoopbackNeedsTlsOrInsecure) {
  absl::StatusOr<Options> refused = Parse({"/b", "/m", "-o", "listen=10.0.0.1:7400"});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "without TLS"));
  EXPECT_TRUE(Parse({"/b", "/m", "-o", "listen=10.0.0.1:7400,insecure"}).ok());
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:7400"));
  EXPECT_FALSE(IsLoopbackAddress("127.example.com:7400"));
}

TEST(OptionsTest, MetricsBeyondLoopbackNeedTlsOrInsecure) {
  absl::StatusOr<Options> loopback = Parse({"/b", "/m", "-o", "metrics=127.0.0.1:9100"});
  ASSERT_TRUE(loopback.ok()) << loopback.status();
  EXPECT_EQ(loopback->replication.metrics, "127.0.0.1:9100");
  absl::StatusOr<Options> refused = Parse({"/b", "/m", "-o", "metrics=10.0.0.1:9100"});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "refusing to serve metrics"))
      << refused.status();
  EXPECT_TRUE(Parse({"/b", "/m", "-o", "metrics=10.0.0.1:9100,insecure"}).ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "without TLS")) << refused.status();
  // With the replication's TLS they are served over mutual TLS: any address.
  absl::StatusOr<Options> with_tls = Parse({"/b", "/m", "-o",
                                            "metrics=10.0.0.1:9100,tls_ca=/etc/hosts,"
                                            "tls_cert=/etc/hosts,tls_key=/etc/hosts"});
  EXPECT_TRUE(with_tls.ok()) << with_tls.status();
  absl::StatusOr<Options> no_port = Parse({"/b", "/m", "-o", "metrics=localhost"});
  ASSERT_FALSE(no_port.ok());
  EXPECT_TRUE(absl::StrContains(no_port.status().message(), "metrics must be HOST:PORT"))
      << no_port.status();
}

}  // namespace
}  // namespace replfs
