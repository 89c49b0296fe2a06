import Engine
import Foundation
import Lang

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// collect, merge: building activation datasets.
func registerCollectCommands(_ r: CommandRegistry, _ lazy: LazyModelSession, _ datasets: DatasetContext) {
  let group = "datasets"

  r.register(
    CommandSpec(
      name: "collect", group: group,
      summary:
        "Run the model over a corpus and store every component's top and random examples and activation statistics in a SQLite dataset",
      parameters: [
        ParameterSpec(
          "corpus", .word,
          "a text file (documents separated by blank lines or <|endoftext|>), a .jsonl file with a text field, or demo")
      ],
      flags: [
        FlagSpec(
          "db", .word, valueName: "FILE", "the dataset file (created, or resumed if it exists)",
          default: "$TDB_DB or activations.db"),
        FlagSpec("tokens", .count, "collect the first N tokens of the corpus", default: "all"),
        FlagSpec("kind", .word, valueName: "neurons|heads|latents|all", "which components", default: "all"),
        FlagSpec(
          "shard", .any, valueName: "I/N",
          "process every N-th window starting at window I: a string \"I/N\" or a list [I, N] (merge the shards afterwards)",
          default: "\"0/1\""),
        FlagSpec("top", .count, "top examples kept per component", default: "20"),
        FlagSpec("random", .count, "random examples kept per component", default: "10"),
        FlagSpec(
          "save-every", .number, valueName: "SECONDS",
          "save at least this often (0: after every window); longer saves are spaced out to stay under a tenth of the time",
          default: "20"),
      ],
      examples: [
        #"collect demo --tokens 2048 --db "/tmp/tdb-example.db""#,
        #"(collect demo --tokens 1024 --kind heads --db "/tmp/tdb-example-heads.db").tokens"#,
      ],
      details: """
        Windows are the model's context long; the file records which windows are done, so running the same command again after Ctrl-C or a crash resumes where it stopped (each save is one transaction). On a terminal a progress bar shows tokens per second and time left.
        Neurons are read at mlp.hook_post, latents from each loaded SAE, heads as TDB scores them: the attention write of a (query, key) pair, pattern[h,q,k]·‖v_k W_O_h‖, the head's activation at a query being its largest write.
        """, writesFiles: true)
  ) { call, _ in
    let s = try lazy.get()
    let corpus = try Corpus(path: try corpusPath(try call.arg(0)))
    let path = try call.flag("db", default: datasets.defaultDatasetPath)
    var o = CollectionOptions()
    o.kinds = try parseKinds(try call.flag("kind", default: "all"))
    if let n = try call.flag("tokens", as: Int.self) {
      guard n > 0 else { throw EvalError("--tokens: expected a positive number of tokens, got \(n)") }
      o.tokenLimit = n
    }
    (o.shardIndex, o.shardCount) = try parseShard(try call.flag("shard", default: Value("0/1")))
    o.topExamples = try call.flag("top", default: 20)
    o.randomExamples = try call.flag("random", default: 10)
    o.saveInterval = try call.flag("save-every", default: 20.0)
    if o.saveInterval <= 0 { o.saveEveryWindows = 1 }
    guard o.topExamples >= 1, o.randomExamples >= 0 else {
      throw EvalError("--top must be at least 1 and --random at least 0")
    }
    let bar = ProgressBar()
    let report = try collectActivations(
      model: s.model, saes: s.saeNames.compactMap { s.saes[$0] }, corpus: corpus, path: path, options: o,
      progress: { p in
        bar.update(
          done: p.tokens, total: p.expectedTokens, unit: "tokens", rate: p.tokensPerSecond, secondsLeft: p.secondsLeft)
      },
      shouldStop: { Interrupt.requested })
    bar.finish()
    datasets.current = path
    if report.interrupted {
      FileHandle.standardError.write(
        Data(
          "collect: interrupted; \(grouped(report.tokens)) tokens saved in \(path); run the same command again to resume\n"
            .utf8))
      throw LangError.interrupted(call.location)
    }
    return .record(
      Record([
        ("db", Value(path)), ("windows", Value(report.windows)), ("tokens", Value(report.tokens)),
        ("components", Value(report.components)), ("new_tokens", Value(report.newTokens)),
        ("seconds", Value((report.seconds * 100).rounded() / 100)),
        ("save_seconds", Value((report.saveSeconds * 100).rounded() / 100)),
        ("tokens_per_second", Value(report.seconds > 0 ? (Double(report.newTokens) / report.seconds).rounded() : 0)),
        ("peak_memory_mb", peakMemoryMB().map { Value($0) } ?? .null),
      ]))
  }

  r.register(
    CommandSpec(
      name: "merge", group: group,
      summary: "Combine shard datasets (collect --shard I/N) into one; the result equals a one-process collection",
      parameters: [
        ParameterSpec("datasets", .word, variadic: true, "shard dataset files, or patterns like \"shard-*.db\"")
      ],
      flags: [
        FlagSpec(
          "db", .word, valueName: "FILE", "the merged dataset (a new file)", default: "$TDB_DB or activations.db"),
        .switch("replace", "replace the merged file if it exists"),
      ],
      examples: [
        #"merge (collect demo --tokens 1024 --kind heads --shard "0/2" --db "/tmp/tdb-shard0.db").db (collect demo --tokens 1024 --kind heads --shard "1/2" --db "/tmp/tdb-shard1.db").db --db "/tmp/tdb-merged.db" --replace"#
      ], writesFiles: true)
  ) { call, _ in
    let inputs = try call.rest(from: 0).flatMap { v -> [String] in
      guard let s = v.string else { throw EvalError("DATASETS: expected file names, got \(v.typeName)") }
      guard s.contains(where: { "*?[".contains($0) }) else { return [s] }
      let matches = expandGlob(s)
      guard !matches.isEmpty else { throw EvalError("DATASETS: no file matches '\(s)'") }
      return matches
    }
    guard !inputs.isEmpty else { throw EvalError("missing argument DATASETS (the shard files to merge)") }
    let out = try call.flag("db", default: datasets.defaultDatasetPath)
    if call.isSet("replace") && FileManager.default.fileExists(atPath: out) {
      guard !inputs.contains(out) else { throw EvalError("--replace: \(out) is also an input") }
      for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: out + suffix) }
    }
    let s = try lazy.get()
    let report = try mergeDatasets(inputs, into: out, tokenizer: s.tokenizer)
    datasets.current = out
    return .record(
      Record([
        ("db", Value(out)), ("inputs", Value(report.inputs)), ("windows", Value(report.windows)),
        ("tokens", Value(report.tokens)),
        ("components", Value(report.components)),
      ]))
  }
}

/// The process's peak resident memory in MB (Linux: VmHWM), to show that collection memory stays flat.
func peakMemoryMB() -> Int? {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
  for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
    let kb = line.split(separator: " ").compactMap { Int($0) }.first
    return kb.map { $0 / 1024 }
  }
  return nil
}

/// Files matching a shell pattern (`shard-*.db`), sorted.
func expandGlob(_ pattern: String) -> [String] {
  var g = glob_t()
  defer { globfree(&g) }
  guard glob(pattern, 0, nil, &g) == 0 else { return [] }
  return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
}
