import Lang

func registerValueCommands(into registry: CommandRegistry) {
  registry.register(
    CommandSpec(
      name: "len", group: "values",
      summary: "The length of a list, string (in characters), table (rows) or record (fields)",
      parameters: [ParameterSpec("value", .any, optional: true, "the value (else the input)")],
      examples: ["len [1, 2, 3]", "len \"hello\"", "len $args", "[1, 2] | len"],
      takesInput: true)
  ) { call, _ in
    guard let v = call[0] ?? call.input else { throw EvalError("needs a value: len VALUE") }
    return try length(v)
  }

  registry.register(
    CommandSpec(
      name: "type", group: "values",
      summary: "The type name of a value: number, string, list, record, table, ...",
      parameters: [ParameterSpec("value", .any, optional: true, "the value (else the input)")],
      examples: ["type 1", "type [1]", "{a: 1} | type"],
      takesInput: true)
  ) { call, _ in
    guard let v = call[0] ?? call.input else { throw EvalError("needs a value: type VALUE") }
    return .string(v.typeName)
  }

  registry.register(
    CommandSpec(
      name: "range", group: "values",
      summary: "A list of numbers from START up to but not including END",
      parameters: [
        ParameterSpec("start", .number, "the first number, or the end if it is the only argument"),
        ParameterSpec("end", .number, optional: true, "where to stop (excluded)"),
        ParameterSpec(
          "step", .number, optional: true, "the increment (default 1, may be negative)"),
      ],
      examples: ["range 5", "range 2 10 2", "range 5 0 -1"],
      details: "`range N` is `0..N`.")
  ) { call, _ in
    let a: Double = try call.arg(0)
    let b: Double? = try call.optionalArg(1)
    let step: Double = try call.optionalArg(2) ?? 1
    let (start, end) = b == nil ? (0, a) : (a, b!)
    guard step != 0 else { throw EvalError("STEP cannot be zero") }
    let n = max(0, ((end - start) / step).rounded(.up))
    guard n <= 10_000_000 else { throw EvalError("too many numbers (\(Int(n)))") }
    return .list((0..<Int(n)).map { .number(start + Double($0) * step) })
  }
}
