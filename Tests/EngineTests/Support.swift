import Foundation
import XCTest

@testable import Engine

/// The repository root, found from this file's path.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()
let demoFolder = repoRoot.appendingPathComponent("models/tdb-demo")
let goldenFolder = repoRoot.appendingPathComponent("Tests/Fixtures/golden")

/// Loaded once for all tests.
let demoModel: TransformerModel = try! TransformerModel(folder: demoFolder)
let golden: SafeTensorsFile = try! SafeTensorsFile(url: goldenFolder.appendingPathComponent("golden.safetensors"))
let goldenMeta: [String: Any] =
  try! JSONSerialization.jsonObject(
    with: Data(contentsOf: goldenFolder.appendingPathComponent("golden.json"))) as! [String: Any]

/// max |a - b| / max |b|: the golden files' agreement measure. Equal entries
/// (masked scores are -inf on both sides) count as agreeing; infinities are
/// left out of the scale.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
  precondition(a.count == b.count, "sizes \(a.shape) vs \(b.shape)")
  var maxDiff: Float = 0, maxRef: Float = 0
  a.withUnsafeBufferPointer { x in
    b.withUnsafeBufferPointer { y in
      for i in 0..<x.count {
        if y[i].isFinite { maxRef = max(maxRef, abs(y[i])) }
        guard x[i] != y[i] else { continue }
        maxDiff = max(maxDiff, x[i].isNaN || y[i].isNaN ? .infinity : abs(x[i] - y[i]))
      }
    }
  }
  return maxRef == 0 ? maxDiff : maxDiff / maxRef
}

func assertClose(
  _ a: Tensor, _ b: Tensor, tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
  guard a.shape == b.shape else { return }
  let e = relativeError(a, b)
  XCTAssertLessThanOrEqual(e, tolerance, "\(what): relative error \(e)", file: file, line: line)
}

/// A scratch directory removed at the end of the process.
func scratchDirectory() -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("tdb-tests-\(UUID().uuidString)")
  try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// A model file the set-up step puts into the repository's `models/` (or
/// that the shared folder beside it holds). A missing model fails the test,
/// never skips it.
func setUpModelFile(_ relative: String) throws -> URL {
  let candidates = [
    repoRoot.appendingPathComponent(relative),
    repoRoot.appendingPathComponent("../shared/" + relative),
    repoRoot.appendingPathComponent("../../shared/" + relative),
  ].map { $0.standardizedFileURL }
  guard let url = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
    XCTFail(
      "\(relative) is not at \(candidates.map(\.path).joined(separator: " or "));"
        + " run the set-up step (scripts/setup.sh)")
    throw CocoaError(.fileNoSuchFile)
  }
  return url
}

/// SmolLM2-135M-Instruct's GGUF file.
func smolLM2File() throws -> URL {
  try setUpModelFile("models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Gemma 3 270M's GGUF file (Q4_K_M).
func gemma3File() throws -> URL {
  try setUpModelFile("models/gemma3-270m/gemma-3-270m-q4_k_m.gguf")
}

/// SmolLM2 loaded once for all tests.
let smolLM2: TransformerModel = try! TransformerModel(gguf: try! smolLM2File())

/// The logits [T, V] at the vocabulary ids `columns`: [T, columns.count]
/// (the references keep a sample of columns, not all 49,152).
func logitColumns(_ logits: Tensor, _ columns: [Int]) -> Tensor {
  let T = logits.shape[0], V = logits.shape[1]
  return Tensor(
    shape: [T, columns.count], scalars: (0..<T).flatMap { t in columns.map { logits.pointer[t * V + $0] } })
}

/// A random-weight model of Tests/Fixtures/tiny-models (scripts/make-tiny-models.py)
/// and its reference values, with the demo model's tokenizer standing in (the
/// references are token ids, so the tokenizer plays no part).
func hfTinyModel(_ name: String) throws -> (model: TransformerModel, reference: SafeTensorsFile) {
  let dir = repoRoot.appendingPathComponent("Tests/Fixtures/tiny-models/\(name)")
  let config = try ModelConfig(url: dir.appendingPathComponent("config.json"))
  let weights = try ModelWeights(source: try Checkpoint(folder: dir), config: config)
  let reference = try SafeTensorsFile(url: dir.appendingPathComponent("reference.safetensors"))
  return (TransformerModel(config: config, weights: weights, tokenizer: demoModel.tokenizer), reference)
}
