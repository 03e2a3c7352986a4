#include "storage/register_compare.h"

#include <set>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"

namespace replfs {
namespace {

TEST(RegisterCompareTest, SameContentIgnoresVersions) {
  Content a;
  a.set_kind(KIND_FILE);
  a.set_inline_data("x");
  Content b = a;
  b.mutable_version()->set_hlc(99);
  b.add_vector()->set_node(3);
  EXPECT_TRUE(SameContent(a, b));
  b.set_inline_data("y");
  EXPECT_FALSE(SameContent(a, b));
  Attributes x;
  x.set_mode(0644);
  Attributes y = x;
  y.mutable_version()->set_hlc(5);
  EXPECT_TRUE(SameAttributes(x, y));
  y.set_uid(1);
  EXPECT_FALSE(SameAttributes(x, y));
}

// SameContent and SameAttributes compare field by field: every field but
// the version ones must count, including any added to the messages later.
// Each field in turn is set on one side only (through reflection).
// Gives `field` of `message` a value other than its default.
void SetNonDefault(google::protobuf::Message* message, const google::protobuf::FieldDescriptor* field) {
  const google::protobuf::Reflection* reflection = message->GetReflection();
  using Type = google::protobuf::FieldDescriptor;
  if (field->is_repeated()) {
    if (field->cpp_type() == Type::CPPTYPE_MESSAGE) {
      google::protobuf::Message* item = reflection->AddMessage(message, field);
      SetNonDefault(item, item->GetDescriptor()->field(0));
    } else {
      ASSERT_EQ(field->cpp_type(), Type::CPPTYPE_STRING) << field->full_name();
      reflection->AddString(message, field, "h");
    }
    return;
  }
  switch (field->cpp_type()) {
    case Type::CPPTYPE_UINT64: reflection->SetUInt64(message, field, 7); break;
    case Type::CPPTYPE_INT64: reflection->SetInt64(message, field, 7); break;
    case Type::CPPTYPE_UINT32: reflection->SetUInt32(message, field, 7); break;
    case Type::CPPTYPE_BOOL: reflection->SetBool(message, field, true); break;
    case Type::CPPTYPE_STRING: reflection->SetString(message, field, "s"); break;
    case Type::CPPTYPE_ENUM: reflection->SetEnumValue(message, field, 2); break;
    case Type::CPPTYPE_MESSAGE: {
      google::protobuf::Message* inner = reflection->MutableMessage(message, field);
      SetNonDefault(inner, inner->GetDescriptor()->field(0));
      break;
    }
    default: ADD_FAILURE() << "field type not covered: " << field->full_name();
  }
}

// SameContent and SameAttributes compare field by field: every field but
// the version ones must count, including any added to the messages later.
// Each field in turn is set on one side only (through reflection).
template <typename Message>
void ExpectEveryFieldButVersionsCounts(bool (*same)(const Message&, const Message&),
                                       const std::set<std::string>& version_fields) {
  const google::protobuf::Descriptor* descriptor = Message::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    Message a;
    Message b;
    SetNonDefault(&b, field);
    if (version_fields.contains(field->name())) {
      EXPECT_TRUE(same(a, b)) << field->full_name() << " must not count";
    } else {
      EXPECT_FALSE(same(a, b)) << field->full_name() << " must count";
    }
  }
}

TEST(RegisterCompareTest, SameContentAndAttributesWeighEveryField) {
  // is_inline is the form the data is in, not the data: inline_data and
  // block_hashes count.
  ExpectEveryFieldButVersionsCounts<Content>(&SameContent, {"version", "vector", "is_inline"});
  ExpectEveryFieldButVersionsCounts<Attributes>(&SameAttributes, {"version"});
}

}  // namespace
}  // namespace replfs
