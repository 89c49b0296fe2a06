import Foundation

/// A corpus problem: missing file, unreadable line, or a file with no text.
public enum CorpusError: Error, CustomStringConvertible, Equatable {
  case missing(String)
  case unreadable(String, String)
  case badJSONLine(String, line: Int)
  case empty(String)

  public var description: String {
    switch self {
    case .missing(let p):
      "no corpus at '\(p)' (a text file of documents separated by blank lines or <|endoftext|>, or JSON lines with a \"text\" field)"
    case .unreadable(let p, let why): "cannot read corpus '\(p)': \(why)"
    case .badJSONLine(let p, let line): "\(p):\(line): not a JSON object with a \"text\" string"
    case .empty(let p): "corpus '\(p)' has no text"
    }
  }
}

/// A text corpus on disk: documents separated by blank lines or
/// `<|endoftext|>`, or JSON lines (`.jsonl`, `.ndjson`) with a `text` field.
public struct Corpus: Sendable {
  public let url: URL
  public let isJSONLines: Bool
  /// File size in bytes: part of the dataset's identity, so a resumed or merged
  /// collection is known to read the same text.
  public let byteCount: Int

  public init(path: String) throws {
    url = URL(fileURLWithPath: path)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
      throw CorpusError.missing(path)
    }
    let ext = url.pathExtension.lowercased()
    isJSONLines = ext == "jsonl" || ext == "ndjson"
    byteCount = ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.intValue ?? 0
  }

  /// The name recorded in a dataset: the file name.
  public var name: String { url.lastPathComponent }

  /// The documents in order, read a line at a time so memory stays small.
  public func forEachDocument(_ body: (String) throws -> Bool) throws {
    guard let handle = FileHandle(forReadingAtPath: url.path) else {
      throw CorpusError.unreadable(url.path, "permission denied")
    }
    defer { try? handle.close() }
    var reader = LineReader(handle)
    var lineNumber = 0
    var paragraph: [Substring] = []
    // Splits on <|endoftext|> and hands over non-empty documents; false = stop.
    func emit(_ text: String) throws -> Bool {
      for piece in text.components(separatedBy: GPT2Tokenizer.endOfText) {
        let doc = piece.trimmingCharacters(in: .whitespacesAndNewlines)
        if !doc.isEmpty, try !body(doc) { return false }
      }
      return true
    }
    while let line = try reader.next() {
      lineNumber += 1
      if isJSONLines {
        if line.allSatisfy(\.isWhitespace) { continue }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let text = object["text"] as? String
        else {
          throw CorpusError.badJSONLine(url.path, line: lineNumber)
        }
        if try !emit(text) { return }
      } else if line.allSatisfy(\.isWhitespace) {
        if !paragraph.isEmpty, try !emit(paragraph.joined(separator: "\n")) { return }
        paragraph.removeAll(keepingCapacity: true)
      } else {
        paragraph.append(Substring(line))
      }
    }
    if !paragraph.isEmpty { _ = try emit(paragraph.joined(separator: "\n")) }
  }
}

/// A window of the corpus's token stream: the unit a collection processes,
/// records and shards.
public struct CorpusWindow: Sendable, Equatable {
  /// 0, 1, 2 ... in corpus order.
  public let index: Int
  public let tokens: [Int]
  /// About how many bytes of the corpus have been read (for time-left estimates).
  public var bytesRead: Int = 0

  public init(index: Int, tokens: [Int], bytesRead: Int = 0) {
    self.index = index
    self.tokens = tokens
    self.bytesRead = bytesRead
  }
}

/// Cuts a corpus into windows of `size` tokens: documents are tokenised,
/// each followed by `<|endoftext|>` as in GPT-2's training data, and the
/// stream is cut every `size` tokens (the last window may be shorter).
public struct CorpusWindows {
  public let corpus: Corpus
  public let tokenizer: any Tokenizer
  public let size: Int
  /// Stop after this many tokens of the stream (nil: the whole corpus).
  public let tokenLimit: Int?

  public init(_ corpus: Corpus, tokenizer: any Tokenizer, size: Int, tokenLimit: Int? = nil) {
    self.corpus = corpus
    self.tokenizer = tokenizer
    self.size = size
    self.tokenLimit = tokenLimit
  }

  /// Number of windows when the limit is known (nil for the whole corpus).
  public var limitWindowCount: Int? { tokenLimit.map { ($0 + size - 1) / size } }

  /// Calls `body` for every window in order; `body` returns false to stop.
  /// Windows that `wanted` rejects are cut but not handed over (shards, resume).
  public func forEach(wanted: (Int) -> Bool = { _ in true }, _ body: (CorpusWindow) throws -> Bool) throws {
    var buffer: [Int] = []
    buffer.reserveCapacity(size * 2)
    var index = 0
    var emitted = 0
    var stopped = false
    var sawText = false
    var bytesRead = 0
    func flush(final: Bool) throws {
      while !stopped && (buffer.count >= size || (final && !buffer.isEmpty)) {
        var n = min(size, buffer.count)
        if let limit = tokenLimit { n = min(n, limit - emitted) }
        if n <= 0 {
          stopped = true
          return
        }
        if wanted(index) {
          if try !body(CorpusWindow(index: index, tokens: Array(buffer[0..<n]), bytesRead: bytesRead)) {
            stopped = true
          }
        }
        buffer.removeFirst(n)
        emitted += n
        index += 1
        if let limit = tokenLimit, emitted >= limit { stopped = true }
      }
    }
    try corpus.forEachDocument { doc in
      sawText = true
      bytesRead += doc.utf8.count + 2
      buffer += tokenizer.encode(doc)
      if let end = tokenizer.endOfSequenceID { buffer.append(end) }
      try flush(final: false)
      return !stopped
    }
    if !sawText { throw CorpusError.empty(corpus.url.path) }
    try flush(final: true)
  }
}

/// Reads a file a line at a time through a fixed buffer (lines split on "\n").
struct LineReader {
  private let handle: FileHandle
  private var pending: [UInt8] = []
  private var start = 0
  private var atEnd = false

  init(_ handle: FileHandle) { self.handle = handle }

  mutating func next() throws -> String? {
    while true {
      if let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
        var end = nl
        if end > start && pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = String(decoding: pending[start..<end], as: UTF8.self)
        start = nl + 1
        return line
      }
      if atEnd {
        guard start < pending.count else { return nil }
        let line = String(decoding: pending[start...], as: UTF8.self)
        start = pending.count
        return line
      }
      pending.removeFirst(start)
      start = 0
      let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
      if chunk.isEmpty { atEnd = true } else { pending.append(contentsOf: chunk) }
    }
  }
}
