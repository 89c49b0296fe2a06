import Foundation
import Synchronization

/// Maps the pages of the weights that are views of a memory-mapped checkpoint
/// into the process while the core is idle anyway, waiting for the tokenizer.
///
/// Without it, the first forward pass takes a page fault for every 64 KiB of
/// weights: on GPT-2 small (500 MB of f32 weights in the page cache) 25–60 ms
/// of a one-shot `predict`, all on the critical path. Mapping pages ahead
/// costs about the same per page, so it is done only while the other core
/// is still loading the tokenizer. Measured and left out: mapping
/// everything up front (31–41 ms of mapping on the critical path, for
/// 10–30 ms less in the pass), and mapping the rest on both cores once the
/// tokenizer is done (no faster than the pass's own faults). The mapping,
/// not the work around it, is what costs: a faster tokenizer only moves
/// faults from here into the pass.
enum MappedWeightPrefetch {
  /// Pages mapped per call: between calls it checks whether to stop, and lets
  /// go of the address-space lock the tokenizer's allocations need.
  static let chunkBytes = 2 << 20

  /// Maps the borrowed weights in the order a forward pass reads them, until
  /// `stop` is set or all are mapped. Does nothing when they take more than
  /// half the machine's memory, and stops at the first refusal (a kernel
  /// before 5.14 has no MADV_POPULATE_READ).
  static func populate(_ weights: ModelWeights, until stop: StopSignal) {
    var seen = Set<UnsafeMutablePointer<Float>>()
    // A tied unembedding is the embedding's memory: map it once.
    let buffers = weights.inReadingOrder.map(\.buffer).filter { !$0.isOwned && seen.insert($0.pointer).inserted }
    let bytes = buffers.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
    guard bytes > 0, bytes <= physicalMemory / 2 else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    for buffer in buffers {
      let end = Int(bitPattern: buffer.pointer) + buffer.count * MemoryLayout<Float>.stride
      var at = Int(bitPattern: buffer.pointer) / page * page
      while at < end {
        if stop.isRaised { return }
        let length = min(chunkBytes, end - at)
        guard madvise(UnsafeMutableRawPointer(bitPattern: at), length, MADV_POPULATE_READ) == 0 else { return }
        at += length
      }
    }
  }

  private static var physicalMemory: Int {
    Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
  }
}

/// A flag one thread raises to tell another to stop.
final class StopSignal: Sendable {
  private let flag = Atomic<Bool>(false)

  func raise() { flag.store(true, ordering: .relaxed) }
  var isRaised: Bool { flag.load(ordering: .relaxed) }
}

extension ModelWeights {
  /// Every weight, in the order a forward pass reads most of them: block by
  /// block, then the final norm and the unembedding (the embedding, of which
  /// a prompt reads only its tokens' rows, last).
  var inReadingOrder: [Tensor] {
    var tensors = wpe.map { [$0] } ?? []
    for block in blocks {
      tensors += [block.ln1Weight, block.ln1Bias, block.attnWeight, block.attnBias]
      tensors += [block.qNormWeight, block.kNormWeight].compactMap { $0 }
      tensors += [block.attnProjWeight, block.attnProjBias]
      tensors += [block.ln1PostWeight, block.ln2Weight, block.ln2Bias, block.upWeight].compactMap { $0 }
      tensors += [block.fcWeight, block.fcBias, block.fcProjWeight, block.fcProjBias]
      tensors += [block.ln2PostWeight].compactMap { $0 }
    }
    return tensors + [lnfWeight, lnfBias, lmHead, wte]
  }
}
