#include "storage/attribute_registers.h"

#include <gtest/gtest.h>

#include "storage/version.h"

namespace replfs {
namespace {

Attributes Register(uint64_t hlc, uint32_t mode, Kind kind = KIND_UNSPECIFIED) {
  Attributes a;
  *a.mutable_version() = MakeVersion(hlc, 7);
  a.set_mode(mode);
  a.set_kind(kind);
  return a;
}

Entry Live(Kind kind, uint64_t attributes_hlc, uint32_t mode) {
  Entry e;
  e.set_path("p");
  e.mutable_content()->set_kind(kind);
  *e.mutable_attributes() = Register(attributes_hlc, mode);
  return e;
}

TEST(AttributeRegistersTest, ALiveEntryHoldsItsOwnAndThoseItKeeps) {
  Entry dir = Live(KIND_DIR, 100, 0755);
  *dir.add_other_kinds() = Register(90, 0600, KIND_FILE);
  const AttributeRegisters registers = AttributeRegisters::Of(dir);
  ASSERT_NE(registers.Get(KIND_DIR), nullptr);
  EXPECT_EQ(registers.Get(KIND_DIR)->mode(), 0755U);
  EXPECT_EQ(registers.Get(KIND_DIR)->kind(), KIND_DIR);
  ASSERT_NE(registers.Get(KIND_FILE), nullptr);
  EXPECT_EQ(registers.Get(KIND_FILE)->mode(), 0600U);
  EXPECT_EQ(registers.Get(KIND_SYMLINK), nullptr);
}

TEST(AttributeRegistersTest, ATombstoneWithoutAKindHoldsNone) {
  Entry old = Live(KIND_TOMBSTONE, 100, 0);
  const AttributeRegisters none = AttributeRegisters::Of(old);
  EXPECT_EQ(none.Get(KIND_FILE), nullptr);
  EXPECT_EQ(none.Get(KIND_UNSPECIFIED), nullptr);
  // Storing none back leaves what the tombstone had.
  none.StoreIn(&old);
  EXPECT_EQ(old.attributes().SerializeAsString(), Register(100, 0).SerializeAsString());
  EXPECT_EQ(old.other_kinds_size(), 0);
}

TEST(AttributeRegistersTest, MergeTakesOnlyANewerRegisterPerKind) {
  AttributeRegisters registers = AttributeRegisters::Of(Live(KIND_FILE, 100, 0644));
  EXPECT_FALSE(registers.Merge(KIND_FILE, Register(100, 0600)));
  EXPECT_FALSE(registers.Merge(KIND_FILE, Register(90, 0600)));
  EXPECT_TRUE(registers.Merge(KIND_FILE, Register(110, 0600)));
  EXPECT_EQ(registers.Get(KIND_FILE)->mode(), 0600U);
  // Any register of a kind it holds none of, however old.
  EXPECT_TRUE(registers.Merge(KIND_DIR, Register(10, 0700)));
  EXPECT_FALSE(registers.Merge(KIND_TOMBSTONE, Register(500, 0700)));
  EXPECT_FALSE(registers.Merge(KIND_UNSPECIFIED, Register(500, 0700)));
  AttributeRegisters other;
  other.Put(KIND_DIR, Register(5, 0750));
  EXPECT_FALSE(registers.MergeAll(other));
  other.Put(KIND_SYMLINK, Register(5, 0777));
  EXPECT_TRUE(registers.MergeAll(other));
  EXPECT_EQ(registers.Get(KIND_DIR)->mode(), 0700U);
  EXPECT_EQ(registers.Get(KIND_SYMLINK)->mode(), 0777U);
}

TEST(AttributeRegistersTest, StoredAsTheContentsKindStoresThem) {
  AttributeRegisters registers;
  registers.Put(KIND_SYMLINK, Register(300, 0777));
  registers.Put(KIND_FILE, Register(100, 0644));
  registers.Put(KIND_DIR, Register(200, 0700));
  // A live entry: its own kind's, without a kind; the others sorted by kind.
  Entry file = Live(KIND_FILE, 1, 0);
  registers.StoreIn(&file);
  EXPECT_EQ(file.attributes().SerializeAsString(), Register(100, 0644).SerializeAsString());
  ASSERT_EQ(file.other_kinds_size(), 2);
  EXPECT_EQ(file.other_kinds(0).kind(), KIND_DIR);
  EXPECT_EQ(file.other_kinds(1).kind(), KIND_SYMLINK);
  // A tombstone: its newest, with its kind.
  Entry dead = Live(KIND_TOMBSTONE, 1, 0);
  registers.StoreIn(&dead);
  EXPECT_EQ(dead.attributes().SerializeAsString(),
            Register(300, 0777, KIND_SYMLINK).SerializeAsString());
  ASSERT_EQ(dead.other_kinds_size(), 2);
  EXPECT_EQ(dead.other_kinds(0).kind(), KIND_FILE);
  EXPECT_EQ(dead.other_kinds(1).kind(), KIND_DIR);
  // Read back, the same registers.
  for (const Entry* e : {&file, &dead}) {
    const AttributeRegisters read = AttributeRegisters::Of(*e);
    for (Kind kind : {KIND_FILE, KIND_DIR, KIND_SYMLINK}) {
      ASSERT_NE(read.Get(kind), nullptr);
      EXPECT_EQ(read.Get(kind)->SerializeAsString(), registers.Get(kind)->SerializeAsString());
    }
  }
}

}  // namespace
}  // namespace replfs
