use base64::Engine;
use prost::Message;

use super::*;

fn p(text: &str) -> Protobuf {
    parse(text, &[]).unwrap_or_else(|e| panic!("valid schema {text}: {e}"))
}

fn dep(name: &str, text: &str) -> Dependency {
    Dependency {
        name: name.into(),
        text: text.into(),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The descriptor as compiled, without what says where the text was:
/// what "the same descriptor" means for a round trip.
fn descriptor(p: &Protobuf) -> prost_types::FileDescriptorProto {
    prost_types::FileDescriptorProto {
        source_code_info: None,
        ..p.file.file_descriptor_proto().clone()
    }
}

/// What confluent-kafka's Python `ProtobufSerializer` sends as the schema:
/// `base64.standard_b64encode(msg.DESCRIPTOR.file.serialized_pb)`, the
/// generated module's `FileDescriptorProto` under the file's own name.
/// Here the bytes come from compiling `source` (protoc's output has the
/// same fields).
fn python_serializer_schema(source: &str, file_name: &str) -> String {
    let mut fdp = descriptor(&p(source));
    fdp.name = Some(file_name.to_string());
    b64(&fdp.encode_to_vec())
}

/// `confluent_kafka.schema_registry.protobuf._schema_to_str(struct_pb2.DESCRIPTOR)`
/// with confluent-kafka 2.16.1: protoc's own descriptor of
/// `google/protobuf/struct.proto` (maps, a oneof, an enum, file options),
/// as the Python serializer would send it.
const STRUCT_PROTO_FROM_PYTHON: &str = "Chxnb29nbGUvcHJvdG9idWYvc3RydWN0LnByb3RvEg9nb29nbGUucHJvdG9idWYimAEKBlN0cnVjdBI7CgZmaWVsZHMYASADKAsyIy5nb29nbGUucHJvdG9idWYuU3RydWN0LkZpZWxkc0VudHJ5UgZmaWVsZHMaUQoLRmllbGRzRW50cnkSEAoDa2V5GAEgASgJUgNrZXkSLAoFdmFsdWUYAiABKAsyFi5nb29nbGUucHJvdG9idWYuVmFsdWVSBXZhbHVlOgI4ASKyAgoFVmFsdWUSOwoKbnVsbF92YWx1ZRgBIAEoDjIaLmdvb2dsZS5wcm90b2J1Zi5OdWxsVmFsdWVIAFIJbnVsbFZhbHVlEiMKDG51bWJlcl92YWx1ZRgCIAEoAUgAUgtudW1iZXJWYWx1ZRIjCgxzdHJpbmdfdmFsdWUYAyABKAlIAFILc3RyaW5nVmFsdWUSHwoKYm9vbF92YWx1ZRgEIAEoCEgAUglib29sVmFsdWUSPAoMc3RydWN0X3ZhbHVlGAUgASgLMhcuZ29vZ2xlLnByb3RvYnVmLlN0cnVjdEgAUgtzdHJ1Y3RWYWx1ZRI7CgpsaXN0X3ZhbHVlGAYgASgLMhouZ29vZ2xlLnByb3RvYnVmLkxpc3RWYWx1ZUgAUglsaXN0VmFsdWVCBgoEa2luZCI7CglMaXN0VmFsdWUSLgoGdmFsdWVzGAEgAygLMhYuZ29vZ2xlLnByb3RvYnVmLlZhbHVlUgZ2YWx1ZXMqGwoJTnVsbFZhbHVlEg4KCk5VTExfVkFMVUUQAEJ/ChNjb20uZ29vZ2xlLnByb3RvYnVmQgtTdHJ1Y3RQcm90b1ABWi9nb29nbGUuZ29sYW5nLm9yZy9wcm90b2J1Zi90eXBlcy9rbm93bi9zdHJ1Y3RwYvgBAaICA0dQQqoCHkdvb2dsZS5Qcm90b2J1Zi5XZWxsS25vd25UeXBlc2IGcHJvdG8z";

const USER: &str = r#"
syntax = "proto3";
package com.acme;

option java_package = "com.acme.proto";
option go_package = "acme/proto";

// A user.
message User {
  string name = 1;
  int32 age = 2;
  repeated string emails = 3;
  map<string, int64> scores = 4;
  optional bool active = 5;
  oneof contact {
    string phone = 6;
    Address address = 7;
  }
  Status status = 8;
  string display_name = 9 [json_name = "shownName", deprecated = true];

  message Address {
    string city = 1;
  }
  enum Status {
    STATUS_UNKNOWN = 0;
    STATUS_ACTIVE = 1;
  }
  reserved 20, 30 to 40, 100 to max;
  reserved "old_field";
}

service Users {
  rpc Get(User) returns (User);
  rpc Watch(stream User) returns (stream User) {
    option deprecated = true;
  }
}
"#;

/// proto2 with what only proto2 has: required, defaults, groups,
/// extensions.
const LEGACY: &str = r#"
syntax = "proto2";
package legacy;

message Item {
  required int64 id = 1;
  optional string label = 2 [default = "a \"quoted\"\n label"];
  optional bytes blob = 3 [default = "\001\377x"];
  optional double ratio = 4 [default = -inf];
  optional Kind kind = 5 [default = BIG];
  repeated int32 codes = 6 [packed = true];
  optional group Extra = 7 {
    optional string note = 1;
  }
  extensions 100 to 199;
  enum Kind {
    option allow_alias = true;
    SMALL = 1;
    BIG = 2;
    LARGE = 2;
    reserved 10 to 20;
    reserved "HUGE";
  }
}

extend Item {
  optional string tag = 100;
}
"#;

#[test]
fn text_and_base64_descriptor_have_one_canonical_text() {
    let text = p(USER);
    let sent = python_serializer_schema(USER, "user.proto");
    let from_descriptor = p(&sent);
    assert_eq!(canonical(&text), canonical(&from_descriptor));
    assert_eq!(descriptor(&text), descriptor(&from_descriptor));
}

#[test]
fn a_descriptor_from_the_python_serializer_is_read() {
    let s = p(STRUCT_PROTO_FROM_PYTHON);
    let c = canonical(&s);
    assert!(c.contains("package google.protobuf;"), "{c}");
    assert!(
        c.contains("map<string, .google.protobuf.Value> fields = 1;"),
        "{c}"
    );
    assert!(c.contains("oneof kind {"), "{c}");
    assert!(
        c.contains("option java_package = \"com.google.protobuf\";"),
        "{c}"
    );
    // The same file as text is the same schema.
    let again = p(&c);
    assert_eq!(canonical(&again), c);
    assert_eq!(descriptor(&again), descriptor(&s));
}

#[test]
fn whitespace_and_comments_do_not_matter() {
    let a = p("syntax = \"proto3\"; message A { string s = 1; }");
    let b = p("// c\nsyntax=\"proto3\";\n\n/* x */ message   A {\n\tstring s=1;  // s\n}\n");
    assert_eq!(canonical(&a), canonical(&b));
    // A relative type name and a fully qualified one are one type.
    let c = p("syntax = \"proto3\"; package x; message A { B b = 1; } message B {}");
    let d = p("syntax = \"proto3\"; package x; message A { .x.B b = 1; } message B {}");
    assert_eq!(canonical(&c), canonical(&d));
}

#[test]
fn canonical_text_compiles_to_the_same_descriptor() {
    for source in [USER, LEGACY] {
        let first = p(source);
        let text = canonical(&first);
        let second = parse(&text, &[]).unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert_eq!(descriptor(&first), descriptor(&second), "{text}");
        assert_eq!(canonical(&second), text);
    }
}

#[test]
fn canonical_text_keeps_what_is_declared() {
    let c = canonical(&p(USER));
    for part in [
        "syntax = \"proto3\";",
        "option go_package = \"acme/proto\";",
        "map<string, int64> scores = 4;",
        "optional bool active = 5;",
        "oneof contact {",
        "json_name = \"shownName\"",
        "reserved 100 to max;",
        "reserved \"old_field\";",
        "rpc Watch(stream .com.acme.User) returns (stream .com.acme.User) {",
    ] {
        assert!(c.contains(part), "{part} missing from\n{c}");
    }
    // Derived things are not written: map entries, synthetic oneofs,
    // default JSON names.
    assert!(!c.contains("ScoresEntry"), "{c}");
    assert!(!c.contains("_active"), "{c}");
    assert!(!c.contains("json_name = \"emails\""), "{c}");
    let l = canonical(&p(LEGACY));
    for part in [
        "syntax = \"proto2\";",
        "required int64 id = 1;",
        "optional group Extra = 7 {",
        "extensions 100 to 199;",
        "extend .legacy.Item {",
        "[default = BIG]",
        "option allow_alias = true;",
    ] {
        assert!(l.contains(part), "{part} missing from\n{l}");
    }
}

#[test]
fn serialized_is_the_descriptor_in_base64() {
    let s = p(USER);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(serialized(&s))
        .expect("base64");
    let fdp = prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("descriptor");
    assert_eq!(fdp, descriptor(&s));
    assert!(fdp.source_code_info.is_none());
    // And it is a schema the registry reads as the same one.
    assert_eq!(canonical(&p(&serialized(&s))), canonical(&s));
}

#[test]
fn references_resolve_by_import_path() {
    let other = "syntax = \"proto3\"; package acme.common; message Money { int64 cents = 1; }";
    let order = r#"syntax = "proto3";
        package acme.shop;
        import "acme/money.proto";
        message Order { acme.common.Money total = 1; }"#;
    let s = parse(order, &[dep("acme/money.proto", other)]).expect("references resolve");
    let c = canonical(&s);
    assert!(c.contains("import \"acme/money.proto\";"), "{c}");
    assert!(c.contains(".acme.common.Money total = 1;"), "{c}");
    // Round trip with the reference.
    let again = parse(&c, &[dep("acme/money.proto", other)]).expect("canonical parses");
    assert_eq!(descriptor(&again), descriptor(&s));
    // A reference sent as a base64 descriptor under another file name.
    let as_descriptor = python_serializer_schema(other, "money_pb2.proto");
    assert!(parse(order, &[dep("acme/money.proto", &as_descriptor)]).is_ok());
    // Without the reference it is not a schema.
    assert!(parse(order, &[]).is_err());
}

#[test]
fn well_known_imports_need_no_reference() {
    let s = p(r#"syntax = "proto3";
        import "google/protobuf/timestamp.proto";
        import "google/protobuf/any.proto";
        import "google/protobuf/duration.proto";
        import "google/protobuf/wrappers.proto";
        import "google/protobuf/struct.proto";
        import "google/protobuf/empty.proto";
        import "google/protobuf/field_mask.proto";
        import "google/protobuf/descriptor.proto";
        message Event {
          google.protobuf.Timestamp at = 1;
          google.protobuf.Any payload = 2;
          google.protobuf.Duration took = 3;
          google.protobuf.StringValue note = 4;
          google.protobuf.Struct extra = 5;
          google.protobuf.FieldMask mask = 6;
        }
        extend google.protobuf.FieldOptions { string label = 50000; }
        message Tagged { string name = 1 [(label) = "the name"]; }"#);
    let c = canonical(&s);
    assert!(c.contains(".google.protobuf.Timestamp at = 1;"), "{c}");
    // Custom options are kept.
    assert!(c.contains("[(.label) = \"the name\"]"), "{c}");
    assert_eq!(descriptor(&p(&c)), descriptor(&s));
}

#[test]
fn what_is_not_a_schema_is_refused() {
    for text in [
        "",
        "not a proto",
        "syntax = \"proto3\"; message A { strin s = 1; }",
        "syntax = \"proto3\"; message A { string s = 1; string t = 1; }",
        "syntax = \"proto3\"; message A { required string s = 1; }",
        "syntax = \"proto4\";",
        "import \"missing.proto\";",
        "AAAA",
        "bm90IGEgZGVzY3JpcHRvcg==",
    ] {
        match parse(text, &[]) {
            Ok(_) => panic!("{text:?} was taken as a schema"),
            Err(RegistryError::InvalidSchema(e)) => {
                assert!(e.starts_with("Invalid schema "), "{e}")
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn reads(writer: &str, reader: &str) -> Result<(), String> {
    can_read(&p(writer), &p(reader))
}

fn incompatible(writer: &str, reader: &str, kind: &str, at: &str) {
    match reads(writer, reader) {
        Ok(()) => panic!("expected {kind}: {reader} should not read {writer}"),
        Err(e) => assert!(
            e.contains(&format!("errorType:'{kind}'"))
                && e.contains(&format!("additionalInfo:'{at}'")),
            "expected {kind} at {at}, got {e}"
        ),
    }
}

const V1: &str = "syntax = \"proto3\"; message User { string name = 1; int32 age = 2; }";

#[test]
fn an_added_or_removed_field_is_compatible() {
    let v2 =
        "syntax = \"proto3\"; message User { string name = 1; int32 age = 2; string email = 3; }";
    assert!(reads(V1, v2).is_ok());
    assert!(reads(v2, V1).is_ok());
    // Renaming a field, changing within a scalar group, adding messages
    // and enums and oneofs: compatible.
    let v3 = r#"syntax = "proto3";
        message User { bytes full_name = 1; uint64 age = 2; oneof c { string phone = 4; } }
        message Other {}
        enum E { A = 0; }"#;
    assert!(reads(V1, v3).is_ok(), "{:?}", reads(V1, v3));
}

#[test]
fn a_field_type_changed_across_groups_is_incompatible() {
    let v2 = "syntax = \"proto3\"; message User { string name = 1; string age = 2; }";
    incompatible(V1, v2, "FIELD_SCALAR_KIND_CHANGED", "#/User/2");
    let v3 = "syntax = \"proto3\"; message User { string name = 1; sint32 age = 2; }";
    incompatible(V1, v3, "FIELD_SCALAR_KIND_CHANGED", "#/User/2");
    let v4 = "syntax = \"proto3\"; message User { string name = 1; Age age = 2; } message Age {}";
    incompatible(V1, v4, "FIELD_KIND_CHANGED", "#/User/2");
    let e = reads(V1, v2).unwrap_err();
    assert_eq!(
        e,
        "{errorType:'FIELD_SCALAR_KIND_CHANGED', description:'The kind of a SCALAR field at path '#/User/2' in the reader schema does not match its kind in the writer schema', additionalInfo:'#/User/2'}"
    );
}

#[test]
fn a_removed_message_is_incompatible() {
    let two = "syntax = \"proto3\"; message User { string name = 1; } message Address { string city = 1; }";
    let one = "syntax = \"proto3\"; message User { string name = 1; }";
    incompatible(two, one, "MESSAGE_REMOVED", "#/Address");
    assert!(reads(one, two).is_ok());
    // Moving a message is compatible.
    let moved = "syntax = \"proto3\"; message Address { string city = 1; } message User { string name = 1; }";
    assert!(reads(two, moved).is_ok());
}

#[test]
fn a_required_field_added_or_removed_is_incompatible() {
    let v1 = "syntax = \"proto2\"; message User { optional string name = 1; }";
    let v2 =
        "syntax = \"proto2\"; message User { optional string name = 1; required int32 id = 2; }";
    incompatible(v1, v2, "REQUIRED_FIELD_ADDED", "#/User/2");
    incompatible(v2, v1, "REQUIRED_FIELD_REMOVED", "#/User/2");
    // A proto2 label change on a number is incompatible, on a string not.
    let repeated_id =
        "syntax = \"proto2\"; message User { optional string name = 1; repeated int32 id = 2; }";
    incompatible(v2, repeated_id, "FIELD_NUMERIC_LABEL_CHANGED", "#/User/2");
    let repeated_name = "syntax = \"proto2\"; message User { repeated string name = 1; }";
    assert!(reads(v1, repeated_name).is_ok());
}

#[test]
fn oneof_changes_follow_confluent() {
    let plain = "syntax = \"proto3\"; message M { string a = 1; string b = 2; }";
    let one_moved = "syntax = \"proto3\"; message M { oneof o { string a = 1; } string b = 2; }";
    let both_moved = "syntax = \"proto3\"; message M { oneof o { string a = 1; string b = 2; } }";
    assert!(reads(plain, one_moved).is_ok());
    incompatible(plain, both_moved, "MULTIPLE_FIELDS_MOVED_TO_ONEOF", "#/M/o");
    let in_oneof = "syntax = \"proto3\"; message M { oneof o { string a = 1; string b = 2; } }";
    let fewer = "syntax = \"proto3\"; message M { oneof o { string a = 1; } }";
    incompatible(in_oneof, fewer, "ONEOF_FIELD_REMOVED", "#/M/o/2");
    // A field moving out of the oneof is not removed.
    let out = "syntax = \"proto3\"; message M { oneof o { string a = 1; } string b = 2; }";
    assert!(reads(in_oneof, out).is_ok());
    let existing = "syntax = \"proto3\"; message M { oneof o { string a = 1; } string b = 2; }";
    let joined = "syntax = \"proto3\"; message M { oneof o { string a = 1; string b = 2; } }";
    incompatible(existing, joined, "FIELD_MOVED_TO_EXISTING_ONEOF", "#/M/o");
    // A type change inside a renamed oneof is still found.
    let renamed = "syntax = \"proto3\"; message M { oneof p { int64 a = 1; } }";
    incompatible(fewer, renamed, "FIELD_SCALAR_KIND_CHANGED", "#/M/1");
}

#[test]
fn package_and_message_type_changes_are_incompatible() {
    let a = "syntax = \"proto3\"; package a; message M { string s = 1; }";
    let b = "syntax = \"proto3\"; package b; message M { string s = 1; }";
    incompatible(a, b, "PACKAGE_CHANGED", "#/");
    let v1 = "syntax = \"proto3\"; message M { N n = 1; } message N {} message O {}";
    let v2 = "syntax = \"proto3\"; message M { O n = 1; } message N {} message O {}";
    incompatible(v1, v2, "FIELD_NAMED_TYPE_CHANGED", "#/M/1");
    // Maps compare their keys and values.
    let m1 = "syntax = \"proto3\"; message M { map<string, int32> m = 1; }";
    let m2 = "syntax = \"proto3\"; message M { map<string, string> m = 1; }";
    incompatible(m1, m2, "FIELD_SCALAR_KIND_CHANGED", "#/M/1");
    let m3 = "syntax = \"proto3\"; message M { repeated int32 m = 1; }";
    incompatible(m1, m3, "FIELD_KIND_CHANGED", "#/M/1");
}

#[test]
fn enum_changes_are_compatible() {
    let v1 = "syntax = \"proto3\"; enum E { A = 0; B = 1; } message M { E e = 1; }";
    let v2 = "syntax = \"proto3\"; enum E { A = 0; C = 2; } message M { int32 e = 1; }";
    assert!(reads(v1, v2).is_ok(), "{:?}", reads(v1, v2));
}

#[test]
fn a_referenced_type_is_compared_where_it_is_used() {
    let money_v1 = "syntax = \"proto3\"; package common; message Money { int64 cents = 1; }";
    let money_v2 = "syntax = \"proto3\"; package common; message Money { string cents = 1; }";
    let order = r#"syntax = "proto3"; import "money.proto";
        message Order { common.Money total = 1; }"#;
    let w = parse(order, &[dep("money.proto", money_v1)]).expect("v1");
    let r = parse(order, &[dep("money.proto", money_v2)]).expect("v2");
    let e = can_read(&w, &r).unwrap_err();
    assert!(
        e.contains("errorType:'FIELD_SCALAR_KIND_CHANGED'")
            && e.contains("additionalInfo:'#/Money/1'"),
        "{e}"
    );
    assert!(
        e.contains("errorType:'FIELD_NAMED_TYPE_CHANGED'")
            && e.contains("additionalInfo:'#/Order/1'"),
        "{e}"
    );
    let same = parse(order, &[dep("money.proto", money_v1)]).expect("v1");
    assert!(can_read(&w, &same).is_ok());
}

#[test]
fn recursive_types_terminate() {
    let v1 = "syntax = \"proto3\"; message Node { Node next = 1; repeated Node kids = 2; }";
    let v2 =
        "syntax = \"proto3\"; message Node { Node next = 1; repeated Node kids = 2; int32 v = 3; }";
    assert!(reads(v1, v2).is_ok());
    let dep_v1 =
        "syntax = \"proto3\"; package t; message Tree { repeated Tree kids = 1; int32 v = 2; }";
    let dep_v2 =
        "syntax = \"proto3\"; package t; message Tree { repeated Tree kids = 1; string v = 2; }";
    let root = "syntax = \"proto3\"; import \"tree.proto\"; message R { t.Tree t = 1; }";
    let w = parse(root, &[dep("tree.proto", dep_v1)]).expect("v1");
    let r = parse(root, &[dep("tree.proto", dep_v2)]).expect("v2");
    assert!(can_read(&w, &r).is_err());
}

#[test]
fn declaration_order_is_kept() {
    let s = p(r#"syntax = "proto3";
        message M {
          message Before {}
          string b = 2;
          map<string, Before> m = 3;
          message Between {}
          oneof o { int32 x = 9; int32 y = 4; }
          string a = 1;
          enum E { Z = 0; Y = 2; X = 1; }
        }"#);
    let c = canonical(&s);
    assert_eq!(descriptor(&p(&c)), descriptor(&s), "{c}");
}

#[test]
fn custom_options_of_every_kind_round_trip() {
    let s = p(r#"syntax = "proto2";
        package opts;
        import "google/protobuf/descriptor.proto";
        message Rule { optional int32 min = 1; optional string name = 2; repeated int32 ids = 3; }
        extend google.protobuf.MessageOptions { optional Rule rule = 50001; }
        extend google.protobuf.FieldOptions { repeated string tags = 50002; optional bytes raw = 50003; }
        extend google.protobuf.FileOptions { optional double weight = 50004; }
        option (weight) = 0.25;
        option optimize_for = SPEED;
        option java_multiple_files = true;
        message M {
          option (rule) = { min: 3 name: "r" ids: [1, 2] };
          optional string f = 1 [(tags) = "a", (tags) = "b", (raw) = "\000\377", ctype = CORD];
          extensions 10 to max;
        }"#);
    let c = canonical(&s);
    assert!(c.contains("option (.opts.weight) = 0.25;"), "{c}");
    assert!(c.contains("option optimize_for = SPEED;"), "{c}");
    let again = parse(&c, &[]).unwrap_or_else(|e| panic!("{c}\n{e}"));
    assert_eq!(canonical(&again), c);
    assert_eq!(serialized(&again), serialized(&s));
}
