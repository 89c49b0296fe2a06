/// What the engine and the commands need of a tokenizer, whatever file it
/// came from (GPT-2's vocab.json + merges.txt, a Hugging Face tokenizer.json,
/// or a GGUF file's `tokenizer.ggml.*` metadata).
public protocol Tokenizer: AnyObject, Sendable {
  /// The number of token ids (one more than the largest id).
  var vocabularySize: Int { get }
  /// The id that begins a sequence, if the tokenizer has one.
  var beginningOfSequenceID: Int? { get }
  /// The id that ends a document (GPT-2's `<|endoftext|>`, Llama's `</s>`).
  var endOfSequenceID: Int? { get }
  /// The text of the special token that separates documents in a corpus, if any.
  var documentSeparator: String? { get }

  /// Ids for `text` as Hugging Face's `tokenizer.encode(text)` gives them:
  /// with `addSpecialTokens` the post-processor's tokens (a BOS where the
  /// tokenizer adds one), without them the text's own tokens only.
  func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
  /// The text of ids (special tokens included as their text); bytes that do
  /// not form UTF-8 decode as U+FFFD, ids outside the vocabulary are skipped.
  func decode(_ ids: [Int]) -> String
  /// One token's text as it stands in the prompt (" Mary"), nil if out of range.
  func tokenText(_ id: Int) -> String?
  /// The id of a string that is exactly one token, else nil.
  func singleTokenID(_ text: String) -> Int?
}

extension Tokenizer {
  /// Ids with the tokenizer's special tokens, as a model is run on them.
  public func encode(_ text: String) -> [Int] { encode(text, addSpecialTokens: true) }
}
