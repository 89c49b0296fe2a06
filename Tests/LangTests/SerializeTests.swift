import XCTest

@testable import Lang

final class SerializeTests: XCTestCase {
  func testNumbers() {
    XCTAssertEqual(formatNumber(42), "42")
    XCTAssertEqual(formatNumber(-3), "-3")
    XCTAssertEqual(formatNumber(0.5), "0.5")
    XCTAssertEqual(formatNumber(1.0 / 3), "0.333333")
    XCTAssertEqual(formatNumber(0.1 + 0.2), "0.3")
    XCTAssertEqual(formatNumber(3.14159265), "3.141593")
    XCTAssertEqual(formatNumber(12345678.5), "12345678.5")
    XCTAssertEqual(formatNumber(1.5e-7), "1.5e-7")
    XCTAssertEqual(formatNumber(1e20), "1e20")
    XCTAssertEqual(formatNumber(-0.0), "0")
    XCTAssertEqual(formatNumber(.nan), "nan")
    XCTAssertEqual(formatNumber(-.infinity), "-inf")
    XCTAssertEqual(formatNumber(2.0 / 3, decimals: 3), "0.667")
    XCTAssertEqual(formatNumber(5, decimals: 3), "5")
  }

  func testJSON() {
    let v: Value = ["a": 1, "b": [true, .null, "x\"y\n\u{1}"], "c": 1.5]
    XCTAssertEqual(v.json(), #"{"a":1,"b":[true,null,"x\"y\n\u0001"],"c":1.5}"#)
    XCTAssertEqual(Value.number(.nan).json(), "null")
    XCTAssertEqual(
      Value.list([["a": 1]]).json(pretty: true), "[\n  {\n    \"a\": 1\n  }\n]")
    XCTAssertEqual(Value.host(Grid([[1, 2]])).json(), "[[1,2]]")
  }

  func testTablesAsText() {
    let t = Value.table(
      Table(columns: ["name", "total"], rows: [["Mary, A", 1.5], ["tab\there", .null]]))
    XCTAssertEqual(t.serialized(as: .csv), "name,total\n\"Mary, A\",1.5\ntab\there,\n")
    XCTAssertEqual(t.serialized(as: .tsv), "name\ttotal\nMary, A\t1.5\ntab\\there\t\n")
    XCTAssertEqual(
      t.serialized(as: .ndjson),
      "{\"name\":\"Mary, A\",\"total\":1.5}\n{\"name\":\"tab\\there\",\"total\":null}\n")
    XCTAssertEqual(
      t.serialized(as: .json),
      "[{\"name\":\"Mary, A\",\"total\":1.5},{\"name\":\"tab\\there\",\"total\":null}]\n")
  }

  func testListsOfRecordsActAsTables() {
    let v: Value = [["a": 1, "b": 2], ["a": 3, "c": [1]]]
    XCTAssertEqual(v.serialized(as: .csv), "a,b,c\n1,2,\n3,,[1]\n")
    XCTAssertEqual(Value.list([1, "x"]).serialized(as: .tsv), "1\nx\n")
    XCTAssertEqual(Value.record(Record([("k", 1)])).serialized(as: .csv), "k\n1\n")
  }

  func testReprAndDescription() {
    XCTAssertEqual(Value.list(["a", 1, ["k": "v"]]).repr, #"["a", 1, {k: "v"}]"#)
    XCTAssertEqual(Value.record(Record([("a b", 1)])).repr, #"{"a b": 1}"#)
    XCTAssertEqual(Value.string("x").description, "x")
  }

  func testSuggest() {
    XCTAssertEqual(levenshtein("pritn", "print"), 1)
    XCTAssertEqual(levenshtein("kitten", "sitting"), 3)
    XCTAssertEqual(suggest("tpo", among: ["top", "desc"]), "top")
    XCTAssertNil(suggest("zzzzz", among: ["top", "desc"]))
  }
}
