/// A scalar function of one forward pass whose gradient the backward pass
/// computes. Positions count from 0; a negative position counts from the end
/// (-1 is the last token).
public enum Metric: @unchecked Sendable {
  /// logits[position, target] - logits[position, distractor].
  case logitDifference(position: Int, target: Int, distractor: Int)
  /// logits[position, token].
  case logit(position: Int, token: Int)
  /// log_softmax(logits[position])[token].
  case logProbability(position: Int, token: Int)
  /// Mean next-token cross-entropy over the prompt: the average over
  /// t = 0 ..< T-1 of -log_softmax(logits[t])[tokens[t + 1]] (needs T ≥ 2).
  case loss
  /// sum(seed ⊙ value of the hook), the value after the hook's interventions
  /// (as `ForwardResult.cache` holds it); `seed` has the hook value's shape and
  /// entries where it is zero do not count (masked scores are -inf).
  /// This makes a node's own value the metric: a neuron's pre-activation at a
  /// token, a head's score at (query, key), an SAE latent. The backward pass
  /// then starts at the hook; every gradient downstream of it is zero.
  case hookValue(HookPoint, seed: Tensor)
}
