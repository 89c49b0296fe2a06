import Foundation
import Lang

func registerDataCommands(into registry: CommandRegistry) {
  let formats = DataFormat.allCases.map(\.rawValue) + ["html"]

  registry.register(
    CommandSpec(
      name: "to", group: "data",
      summary: "Serialise the input as json, ndjson, csv, tsv or html (a string)",
      parameters: [ParameterSpec("format", .word, "json, ndjson, csv, tsv or html")],
      flags: [.switch("pretty", "indent JSON")],
      examples: [
        "[{a: 1, b: \"x\"}] | to csv", "{a: [1, 2]} | to json", "{a: 1} | to json --pretty",
      ],
      input: "any value",
      details: "Tables, lists of records and records become a header line and one line per row "
        + "in csv and tsv; other lists one value per line. ndjson writes one JSON value per "
        + "row or element. html writes one self-contained page (no external requests): heatmaps and "
        + "attention patterns as SVG, component pages with tokens coloured by activation, tables sortable.")
  ) { call, _ in
    let name: String = try call.arg(0)
    if name == "html" { return .string(HTMLExport.document(try call.requireInput())) }
    guard let format = DataFormat(rawValue: name) else {
      var m = "unknown format '\(name)' (use one of \(formats.joined(separator: ", "))"
      if let s = suggest(name, among: formats) { m += "; did you mean '\(s)'?" }
      throw EvalError(m + ")")
    }
    return .string(try call.requireInput().serialized(as: format, pretty: call.isSet("pretty")))
  }

  registry.register(
    CommandSpec(
      name: "save", group: "data",
      summary:
        "Write the input to a file: strings as they are, other values by the file's extension",
      parameters: [ParameterSpec("file", .word, "the path; .csv, .tsv, .ndjson/.jsonl, .html, else JSON")],
      examples: ["[{a: 1}] | save out.csv", "\"hello\\n\" | save \"/tmp/hello.txt\""],
      input: "any value", writesFiles: true)
  ) { call, _ in
    let path: String = try call.arg(0)
    let input = try call.requireInput()
    let text: String
    if case .string(let s) = input {
      text = s
    } else {
      switch URL(fileURLWithPath: path).pathExtension.lowercased() {
      case "csv": text = input.serialized(as: .csv)
      case "tsv": text = input.serialized(as: .tsv)
      case "ndjson", "jsonl": text = input.serialized(as: .ndjson)
      case "html", "htm": text = HTMLExport.document(input)
      default: text = input.serialized(as: .json)
      }
    }
    do {
      try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
      throw EvalError("cannot write '\(path)': \(error.localizedDescription)")
    }
    return .null
  }
}
