import Foundation
import Lang

func registerTimingCommands(into registry: CommandRegistry) {
  registry.register(
    CommandSpec(
      name: "time", group: "timing",
      summary: "Run a block and measure how long it takes",
      parameters: [ParameterSpec("block", .function, "a closure without parameters")],
      flags: [FlagSpec("repeat", .int, "how many runs", default: "1")],
      examples: ["time { range 100000 | count } --repeat 5", "(time { 1 + 1 }).median_ms"],
      details: "Returns a record {median_ms, min_ms, max_ms, repeat, result}, where result is "
        + "the block's value on the last run.")
  ) { call, interpreter in
    let block: Function = try call.arg(0)
    let runs = try call.flag("repeat", default: 1)
    guard runs >= 1 else { throw EvalError("--repeat must be at least 1, got \(runs)") }
    var times: [Double] = []
    var result: Value = .null
    for _ in 0..<runs {
      try interpreter.checkInterrupt(at: call.location)
      // Each run starts without the previous one's result, as the first did.
      result = .null
      let start = DispatchTime.now().uptimeNanoseconds
      result = try interpreter.call(block, [], at: call.location)
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    let median =
      times.count % 2 == 1
      ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    return .record(
      Record([
        ("median_ms", .number(median)), ("min_ms", .number(times.first!)),
        ("max_ms", .number(times.last!)), ("repeat", Value(runs)), ("result", result),
      ]))
  }
}
