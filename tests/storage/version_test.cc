#include "storage/version.h"

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "gtest/gtest.h"

namespace replfs {
namespace {

using Vector = google::protobuf::RepeatedPtrField<VersionVectorItem>;

Vector MakeVector(std::initializer_list<std::pair<uint64_t, uint64_t>> items) {
  Vector v;
  for (auto [node, counter] : items) {
    VersionVectorItem* item = v.Add();
    item->set_node(node);
    item->set_counter(counter);
  }
  return v;
}

bool SortedByNode(const Vector& v) {
  for (int i = 1; i < v.size(); ++i) {
    if (v[i - 1].node() >= v[i].node()) return false;
  }
  return true;
}

TEST(VersionTest, CompareByHlcFirst) {
  EXPECT_LT(CompareVersions(MakeVersion(1, 9), MakeVersion(2, 1)), 0);
  EXPECT_GT(CompareVersions(MakeVersion(2, 1), MakeVersion(1, 9)), 0);
}

TEST(VersionTest, CompareByNodeOnEqualHlc) {
  EXPECT_LT(CompareVersions(MakeVersion(5, 1), MakeVersion(5, 2)), 0);
  EXPECT_GT(CompareVersions(MakeVersion(5, 2), MakeVersion(5, 1)), 0);
  EXPECT_EQ(CompareVersions(MakeVersion(5, 2), MakeVersion(5, 2)), 0);
  EXPECT_TRUE(VersionLess(MakeVersion(5, 1), MakeVersion(5, 2)));
  EXPECT_FALSE(VersionLess(MakeVersion(5, 2), MakeVersion(5, 2)));
}

TEST(VersionTest, CompareUsesFullUnsignedRange) {
  const uint64_t big = ~uint64_t{0};
  EXPECT_LT(CompareVersions(MakeVersion(1, big), MakeVersion(big, 1)), 0);
  EXPECT_LT(CompareVersions(MakeVersion(big, 1), MakeVersion(big, big)), 0);
}

TEST(VersionTest, BumpAddsAndIncrementsKeepingSortOrder) {
  Vector v;
  BumpVector(&v, 30);
  BumpVector(&v, 10);
  BumpVector(&v, 20);
  BumpVector(&v, 10);
  ASSERT_EQ(v.size(), 3);
  EXPECT_TRUE(SortedByNode(v));
  EXPECT_EQ(CounterOf(v, 10), 2u);
  EXPECT_EQ(CounterOf(v, 20), 1u);
  EXPECT_EQ(CounterOf(v, 30), 1u);
}

TEST(VersionTest, BumpMovesAtLeastToTheGivenFloorAndAlwaysByOne) {
  Vector v;
  BumpVector(&v, 10, 1000);
  EXPECT_EQ(CounterOf(v, 10), 1000u);
  BumpVector(&v, 10, 500);  // A floor below the counter still advances it.
  EXPECT_EQ(CounterOf(v, 10), 1001u);
  BumpVector(&v, 10, 5000);
  EXPECT_EQ(CounterOf(v, 10), 5000u);
}

TEST(VersionTest, MergeTakesElementwiseMaximum) {
  Vector a = MakeVector({{1, 3}, {2, 1}});
  const Vector b = MakeVector({{2, 4}, {3, 2}, {0, 7}});
  MergeVectors(&a, b);
  ASSERT_EQ(a.size(), 4);
  EXPECT_TRUE(SortedByNode(a));
  EXPECT_EQ(CounterOf(a, 0), 7u);
  EXPECT_EQ(CounterOf(a, 1), 3u);
  EXPECT_EQ(CounterOf(a, 2), 4u);
  EXPECT_EQ(CounterOf(a, 3), 2u);
  // The merge dominates both inputs.
  EXPECT_TRUE(VectorDominates(a, b));
  EXPECT_TRUE(VectorDominates(a, MakeVector({{1, 3}, {2, 1}})));
}

TEST(VersionTest, MergeWithEmptyIsIdentity) {
  Vector a = MakeVector({{1, 3}});
  MergeVectors(&a, Vector());
  ASSERT_EQ(a.size(), 1);
  EXPECT_EQ(CounterOf(a, 1), 3u);
  Vector empty;
  MergeVectors(&empty, a);
  ASSERT_EQ(empty.size(), 1);
  EXPECT_EQ(CounterOf(empty, 1), 3u);
}

TEST(VersionTest, DominatesBasics) {
  const Vector empty;
  const Vector a = MakeVector({{1, 2}});
  EXPECT_TRUE(VectorDominates(a, empty));
  EXPECT_FALSE(VectorDominates(empty, a));
  EXPECT_TRUE(VectorDominates(a, a));  // Equal vectors dominate each other.
  EXPECT_TRUE(VectorDominates(MakeVector({{1, 3}}), a));
  EXPECT_FALSE(VectorDominates(MakeVector({{1, 1}}), a));
}

TEST(VersionTest, ConcurrentVectorsDominateNeither) {
  // Both sides changed the same base {1:1} independently.
  Vector left = MakeVector({{1, 1}});
  Vector right = left;
  BumpVector(&left, 1);
  BumpVector(&right, 2);
  EXPECT_FALSE(VectorDominates(left, right));
  EXPECT_FALSE(VectorDominates(right, left));
  // A change made after seeing both dominates both.
  Vector merged = left;
  MergeVectors(&merged, right);
  BumpVector(&merged, 3);
  EXPECT_TRUE(VectorDominates(merged, left));
  EXPECT_TRUE(VectorDominates(merged, right));
}

// DESIGN.md: after v1 -> v2 -> v3 on three nodes, a replica holding v1 that
// receives v3 must see that v3 descends from v1.
TEST(VersionTest, ThreeNodeChainDescendsFromFirst) {
  constexpr uint64_t kA = 0xa, kB = 0xb, kC = 0xc;
  Vector v1;
  BumpVector(&v1, kA);  // Made on A.
  Vector v2 = v1;
  BumpVector(&v2, kB);  // B saw v1, changed it.
  Vector v3 = v2;
  BumpVector(&v3, kC);  // C saw v2, changed it.
  EXPECT_TRUE(VectorDominates(v3, v1));
  EXPECT_TRUE(VectorDominates(v3, v2));
  EXPECT_FALSE(VectorDominates(v1, v3));
  // A change on A made without seeing v2/v3 is concurrent with v3.
  Vector a2 = v1;
  BumpVector(&a2, kA);
  EXPECT_FALSE(VectorDominates(v3, a2));
  EXPECT_FALSE(VectorDominates(a2, v3));
}

TEST(VersionTest, VersionToStringShowsParts) {
  const Version v = MakeVersion((uint64_t{1234} << 16) | 5, 0xabc);
  EXPECT_EQ(VersionToString(v), "1234.5@0000000000000abc");
}

}  // namespace
}  // namespace replfs
