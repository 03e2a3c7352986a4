#ifndef REPLFS_TESTS_SUPPORT_RAW_STORE_H_
#define REPLFS_TESTS_SUPPORT_RAW_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "storage/metadata_store.h"
#include "tests/support/scratch_dir.h"

namespace replfs::testing {

// A store in a scratch folder whose LevelDB the test can also read and
// write directly while the store is closed: to pin the on-disk format of a
// key space (its keys and values never change without a migration) and to
// plant a value that does not parse.
class RawStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  // Closes the store (if open) and opens it again.
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<MetadataStore>> opened = MetadataStore::Open(StoreDir());
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }

  // Commits what `body` queues as one transaction.
  void Transact(const std::function<void(StoreTransaction&)>& body) {
    const absl::Status s = store_->Transact([&](StoreTransaction& txn) {
      body(txn);
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  // Every key starting with `prefix` and its value, read from the LevelDB
  // itself (the store is closed for it and opened again).
  std::map<std::string, std::string> RawKeys(const std::string& prefix) {
    std::map<std::string, std::string> keys;
    WithDb([&](leveldb::DB& db) {
      std::unique_ptr<leveldb::Iterator> it(db.NewIterator(leveldb::ReadOptions()));
      for (it->Seek(prefix); it->Valid() && absl::StartsWith(it->key().ToString(), prefix);
           it->Next()) {
        keys.emplace(it->key().ToString(), it->value().ToString());
      }
      EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    });
    return keys;
  }

  // Writes `key` -> `value` into the LevelDB itself, as a damaged store
  // could hold it.
  void PutRawKey(const std::string& key, const std::string& value) {
    WithDb([&](leveldb::DB& db) {
      const leveldb::Status s = db.Put(leveldb::WriteOptions(), key, value);
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
  }

  std::string StoreDir() const { return dir_.Path("store"); }

  ScratchDir dir_{"replfs-keyspace"};
  std::unique_ptr<MetadataStore> store_;

 private:
  void WithDb(const std::function<void(leveldb::DB&)>& use) {
    store_.reset();
    leveldb::DB* raw = nullptr;
    const leveldb::Status s = leveldb::DB::Open(leveldb::Options(), StoreDir(), &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    {
      const std::unique_ptr<leveldb::DB> db(raw);
      use(*db);
    }
    Reopen();
  }
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SUPPORT_RAW_STORE_H_
