import Engine
import Foundation
import Lang

/// A failure talking to the chat-completions endpoint.
enum ChatExplainerError: Error, CustomStringConvertible {
  case badURL(String)
  case network(String, String)
  case http(String, Int, String)
  case badResponse(String, String)

  var description: String {
    switch self {
    case .badURL(let u): "TDB_EXPLAINER_URL '\(u)' is not an http(s) URL"
    case .network(let u, let why): "explainer \(u): \(why)"
    case .http(let u, let status, let body): "explainer \(u) answered HTTP \(status): \(body.prefix(200))"
    case .badResponse(let u, let why): "explainer \(u): unexpected response (\(why))"
    }
  }
}

/// Explanation and simulation by any OpenAI-compatible chat-completions
/// endpoint, with the prompts of Bills et al. (2023) in short form:
/// the model reads top examples as (token, activation 0-10) lines and
/// writes an explanation; then, for each held-out example, it reads the
/// explanation and predicts an activation for every token.
///
/// Configured by `TDB_EXPLAINER_URL` (a base like `https://host/v1`, or the
/// full `.../chat/completions`), `TDB_EXPLAINER_KEY` (sent as a bearer
/// token) and `TDB_EXPLAINER_MODEL` (default gpt-4o-mini).
struct ChatExplainer {
  let endpoint: URL
  let key: String?
  let model: String
  var timeout: TimeInterval = 120

  /// The explainer the environment configures, or nil without `TDB_EXPLAINER_URL`.
  static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> ChatExplainer? {
    guard let raw = env["TDB_EXPLAINER_URL"], !raw.isEmpty else { return nil }
    guard var url = URL(string: raw), let scheme = url.scheme, scheme == "http" || scheme == "https" else {
      throw ChatExplainerError.badURL(raw)
    }
    if !url.path.hasSuffix("/chat/completions") { url = url.appendingPathComponent("chat/completions") }
    let key = env["TDB_EXPLAINER_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    return ChatExplainer(endpoint: url, key: key, model: env["TDB_EXPLAINER_MODEL"] ?? "gpt-4o-mini")
  }

  static let explainSystem = """
    We're studying neurons in a neural network. Each neuron looks for some particular thing in a short document. \
    Look at the parts of the document the neuron activates for and summarize in a single sentence what the neuron \
    is looking for. Don't list examples of words. Activations are given as token<tab>activation, on a scale of 0 to 10.
    """

  static let simulateSystem = """
    We're studying neurons in a neural network. Each neuron looks for some particular thing in a short document. \
    Given an explanation of what a neuron looks for, predict its activation on every token of a document, \
    on a scale of 0 (none) to 10 (strongest). Reply with exactly one line per token, in order: token<tab>activation.
    """

  /// One line per token: text (escaped) and the activation scaled to 0-10 by `peak`.
  static func listing(_ texts: [String], _ acts: [Float]?, peak: Float) -> String {
    texts.enumerated().map { i, t in
      let shown = t.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t")
      guard let acts else { return shown }
      let v = peak > 0 ? Int((max(0, acts[i]) / peak * 10).rounded()) : 0
      return "\(shown)\t\(v)"
    }.joined(separator: "\n")
  }

  /// An explanation of the component from its training examples.
  func explain(component: String, examples: [(texts: [String], acts: [Float])]) throws -> String {
    let peak = examples.flatMap(\.acts).max() ?? 0
    var user = "Neuron \(component)\nActivations:\n"
    for (i, e) in examples.enumerated() {
      user += "<start example \(i + 1)>\n" + Self.listing(e.texts, e.acts, peak: peak) + "\n<end example \(i + 1)>\n"
    }
    user += "\nExplanation of neuron \(component) behavior: the main thing this neuron does is find"
    let answer = try complete(system: Self.explainSystem, user: user)
    var text = answer.trimmingCharacters(in: .whitespacesAndNewlines)
    if text.hasSuffix(".") { text.removeLast() }
    return text
  }

  /// Predicted activations (0-10) for each token of one example.
  func simulate(explanation: String, texts: [String]) throws -> [Double] {
    let user = "Explanation: this neuron finds \(explanation)\nTokens:\n" + Self.listing(texts, nil, peak: 0)
    return Self.parsePredictions(try complete(system: Self.simulateSystem, user: user), count: texts.count)
  }

  /// Reads "token<tab>number" lines; missing or unreadable lines count as 0.
  static func parsePredictions(_ text: String, count: Int) -> [Double] {
    var out = [Double](repeating: 0, count: count)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
    for (i, line) in lines.prefix(count).enumerated() {
      let last = line.split(separator: "\t").last.map(String.init) ?? ""
      if let v = Double(last.trimmingCharacters(in: .whitespaces)) { out[i] = min(10, max(0, v)) }
    }
    return out
  }

  /// One chat completion: the assistant's reply text.
  func complete(system: String, user: String) throws -> String {
    var headers = [(name: "Content-Type", value: "application/json")]
    if let key { headers.append((name: "Authorization", value: "Bearer \(key)")) }
    let body: [String: Any] = [
      "model": model, "temperature": 0,
      "messages": [["role": "system", "content": system], ["role": "user", "content": user]],
    ]
    let where_ = endpoint.absoluteString
    let reply: JSONPost.Reply
    do {
      reply = try JSONPost.send(
        try JSONSerialization.data(withJSONObject: body), to: endpoint, headers: headers, timeout: timeout)
    } catch {
      throw ChatExplainerError.network(where_, JSONPost.reason(error, timeout: timeout))
    }
    guard reply.status == 200 else {
      throw ChatExplainerError.http(where_, reply.status, String(decoding: reply.body, as: UTF8.self))
    }
    guard let json = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any] else {
      throw ChatExplainerError.badResponse(where_, "not a JSON object")
    }
    guard let choices = json["choices"] as? [[String: Any]], let message = choices.first?["message"] as? [String: Any],
      let content = message["content"] as? String
    else { throw ChatExplainerError.badResponse(where_, "no choices[0].message.content") }
    return content
  }
}
