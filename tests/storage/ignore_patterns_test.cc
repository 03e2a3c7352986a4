// gitignore's syntax and rules for -o ignore= (each case as git decides it).

#include "storage/ignore_patterns.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace replfs {
namespace {

IgnorePatterns Patterns(const std::vector<std::string>& lines) {
  absl::StatusOr<IgnorePatterns> patterns = IgnorePatterns::Parse(lines);
  EXPECT_TRUE(patterns.ok()) << patterns.status();
  return patterns.ok() ? *std::move(patterns) : IgnorePatterns();
}

TEST(IgnorePatternsTest, NoPatternsIgnoreNothing) {
  const IgnorePatterns none = Patterns({"", "# a comment", "   "});
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.Ignored("index.html", false));
}

TEST(IgnorePatternsTest, ANameWithoutSlashMatchesAtAnyDepth) {
  const IgnorePatterns p = Patterns({"*.tmp", "core"});
  EXPECT_TRUE(p.Ignored("a.tmp", false));
  EXPECT_TRUE(p.Ignored("site/cache/a.tmp", false));
  EXPECT_TRUE(p.Ignored("deep/core", false));
  EXPECT_FALSE(p.Ignored("a.tmp.html", false));
  EXPECT_FALSE(p.Ignored("tmp", false));
  EXPECT_FALSE(p.Ignored("core.html", false));
  // '*' stays within one name.
  EXPECT_FALSE(Patterns({"site*html"}).Ignored("site/index.html", false));
}

TEST(IgnorePatternsTest, TrailingSlashMatchesDirectoriesAndEverythingBeneath) {
  const IgnorePatterns p = Patterns({"cache/"});
  EXPECT_TRUE(p.Ignored("cache", true));
  EXPECT_FALSE(p.Ignored("cache", false));  // A file named cache stays.
  EXPECT_TRUE(p.Ignored("cache/page.html", false));
  EXPECT_TRUE(p.Ignored("app/cache/x/y.bin", false));
  EXPECT_FALSE(p.Ignored("app/cached/y.bin", false));
}

TEST(IgnorePatternsTest, ASlashAnchorsToTheRoot) {
  const IgnorePatterns p = Patterns({"/build", "docs/*.pdf"});
  EXPECT_TRUE(p.Ignored("build", true));
  EXPECT_TRUE(p.Ignored("build/out.o", false));
  EXPECT_FALSE(p.Ignored("src/build", true));
  EXPECT_TRUE(p.Ignored("docs/manual.pdf", false));
  EXPECT_FALSE(p.Ignored("site/docs/manual.pdf", false));
  EXPECT_FALSE(p.Ignored("docs/old/manual.pdf", false));
}

TEST(IgnorePatternsTest, DoubleStarsMatchAnyNumberOfDirectories) {
  const IgnorePatterns leading = Patterns({"**/node_modules/"});
  EXPECT_TRUE(leading.Ignored("node_modules", true));
  EXPECT_TRUE(leading.Ignored("app/js/node_modules", true));
  EXPECT_TRUE(leading.Ignored("app/js/node_modules/react/index.js", false));
  const IgnorePatterns middle = Patterns({"logs/**/debug.log"});
  EXPECT_TRUE(middle.Ignored("logs/debug.log", false));
  EXPECT_TRUE(middle.Ignored("logs/2026/12/debug.log", false));
  EXPECT_FALSE(middle.Ignored("old/logs/debug.log", false));
  const IgnorePatterns trailing = Patterns({"uploads/**"});
  EXPECT_FALSE(trailing.Ignored("uploads", true));  // Its content, not itself.
  EXPECT_TRUE(trailing.Ignored("uploads/a.jpg", false));
  EXPECT_TRUE(trailing.Ignored("uploads/2026/a.jpg", false));
}

TEST(IgnorePatternsTest, NegationReincludesAndTheLastMatchDecides) {
  const IgnorePatterns p = Patterns({"*.tmp", "!keep.tmp"});
  EXPECT_TRUE(p.Ignored("a.tmp", false));
  EXPECT_FALSE(p.Ignored("keep.tmp", false));
  EXPECT_FALSE(p.Ignored("dir/keep.tmp", false));
  // Order matters: a later pattern wins.
  EXPECT_TRUE(Patterns({"!keep.tmp", "*.tmp"}).Ignored("keep.tmp", false));
}

TEST(IgnorePatternsTest, NothingBeneathAnIgnoredDirectoryComesBack) {
  const IgnorePatterns p = Patterns({"cache/", "!cache/keep.html"});
  EXPECT_TRUE(p.Ignored("cache/keep.html", false));
  // Re-including works where the directory itself is not ignored.
  const IgnorePatterns content = Patterns({"cache/*", "!cache/keep.html"});
  EXPECT_FALSE(content.Ignored("cache", true));
  EXPECT_TRUE(content.Ignored("cache/other.html", false));
  EXPECT_FALSE(content.Ignored("cache/keep.html", false));
}

TEST(IgnorePatternsTest, EscapesClassesAndBlanks) {
  const IgnorePatterns p = Patterns({"\\#notes", "\\!important", "trailing   ", "kept\\ ",
                                     "img[0-9].png", "?.txt"});
  EXPECT_TRUE(p.Ignored("#notes", false));
  EXPECT_TRUE(p.Ignored("!important", false));
  EXPECT_TRUE(p.Ignored("trailing", false));
  EXPECT_TRUE(p.Ignored("kept ", false));
  EXPECT_FALSE(p.Ignored("kept", false));
  EXPECT_TRUE(p.Ignored("img7.png", false));
  EXPECT_FALSE(p.Ignored("imgx.png", false));
  EXPECT_TRUE(p.Ignored("a.txt", false));
  EXPECT_FALSE(p.Ignored("ab.txt", false));
  EXPECT_EQ(p.Sources().front(), "\\#notes");
}

TEST(IgnorePatternsTest, PatternsThatNameNothingAreRefused) {
  for (const std::string bad : {"/", "!", "a//b", "!/"}) {
    absl::StatusOr<IgnorePatterns> parsed = IgnorePatterns::Parse({bad});
    EXPECT_FALSE(parsed.ok()) << "'" << bad << "' was accepted";
  }
}

}  // namespace
}  // namespace replfs
