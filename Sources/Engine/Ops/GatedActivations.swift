import CKernels
import Foundation

/// The gated MLP's activation: out[N] = silu(gate) · up, silu(x) = x / (1 + e^{-x}).
func siluGateForward(
  _ out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count N: Int
) {
  parallelChunks(N, minimumChunk: 16_384) { range in
    let i = range.lowerBound
    tdb_silu_gate(out + i, gate + i, up + i, range.count)
  }
}

/// Backward of out = silu(gate) · up, σ = 1 / (1 + e^{-gate}):
///   dgate = dout · up · σ · (1 + gate · (1 - σ))
///   dup   = dout · silu(gate)
func siluGateBackward(
  dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
  gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count N: Int
) {
  parallelChunks(N, minimumChunk: 16_384) { range in
    let i = range.lowerBound
    tdb_silu_gate_backward(dgate + i, dup + i, dout + i, gate + i, up + i, range.count)
  }
}

/// Gemma's gated MLP activation: out[N] = gelu_tanh(gate) · up.
func geluGateForward(
  _ out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count N: Int
) {
  parallelChunks(N, minimumChunk: 16_384) { range in
    let i = range.lowerBound
    tdb_gelu_gate(out + i, gate + i, up + i, range.count)
  }
}

/// Backward of out = gelu(gate) · up:
///   dgate = dout · up · gelu'(gate)
///   dup   = dout · gelu(gate)
func geluGateBackward(
  dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
  gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count N: Int
) {
  geluForward(dup, gate, count: N)
  parallelChunks(N, minimumChunk: 16_384) { range in
    for i in range {
      dgate[i] = dout[i] * up[i]
      dup[i] *= dout[i]
    }
  }
  geluBackward(dgate, gate, dgate, count: N)
}
