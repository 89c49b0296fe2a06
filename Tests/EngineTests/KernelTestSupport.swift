import CKernels
import Foundation
import XCTest

/// What the kernel tests share: the kernel sets this machine runs, the
/// inputs every kernel sees, and ulp-scale comparisons against references.
protocol KernelTesting {}

extension KernelTesting {
  /// The sets to check: portable always, AVX2 and AVX-512 where the CPU runs them.
  var sets: [tdb_kernel_set] {
    [tdb_kernels_portable().pointee] + [tdb_kernels_avx2(), tdb_kernels_avx512()].compactMap { $0?.pointee }
  }

  var cpuHasAVX2AndFMA: Bool { cpuFlags.isSuperset(of: ["avx2", "fma"]) }

  var cpuHasAVX512: Bool {
    cpuHasAVX2AndFMA && cpuFlags.isSuperset(of: ["avx512f", "avx512dq", "avx512vl", "avx512bw"])
  }

  /// The CPU's feature flags as /proc/cpuinfo lists them (none off x86-64).
  var cpuFlags: Set<Substring> {
    #if arch(x86_64)
      guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
      else { return [] }
      return Set(flags.split(separator: " "))
    #else
      return []
    #endif
  }

  func name(_ set: UnsafePointer<tdb_kernel_set>?) -> String { set.map { name($0.pointee) } ?? "none" }
  func name(_ set: tdb_kernel_set) -> String { String(cString: set.name) }

  var specialValues: [Float] {
    [
      0, -0.0, .infinity, -.infinity, .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
      .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, -.leastNormalMagnitude, 1, -1,
    ]
  }

  /// Every 65,537th bit pattern: all exponents of both signs, denormals and NaNs.
  var sampledRange: [Float] {
    stride(from: UInt64(0), to: 1 << 32, by: 65_537).map { Float(bitPattern: UInt32($0)) }
      + stride(from: Float(-30), through: 30, by: 0.0137).map { $0 }
  }

  /// x·σ(y) in double, in the form that neither overflows nor cancels.
  func xSigmoid(_ x: Double, _ y: Double) -> Double {
    y >= 0 ? x / (1 + Foundation.exp(-y)) : x * Foundation.exp(y) / (1 + Foundation.exp(y))
  }

  /// |got - ref| in units of ref's last place (denormal spacing below the normal range).
  func ulpError(_ got: Float, _ ref: Float) -> Float {
    if got == ref { return 0 }
    if ref.isInfinite || got.isInfinite || got.isNaN { return .infinity }
    let ulp = max(ref.magnitude.ulp, Float.leastNonzeroMagnitude)
    return Float((Double(got) - Double(ref)).magnitude / Double(ulp))
  }

  func check(
    _ got: Float, _ ref: Float, ulps: Float, denormalUlps: Float = 0, _ what: @autoclosure () -> String
  ) {
    let allowed = ref.magnitude < Float.leastNormalMagnitude ? max(ulps, denormalUlps) : ulps
    if ref.isNaN {
      XCTAssert(got.isNaN, "\(what()) = \(got), reference NaN")
    } else if ulpError(got, ref) > allowed {
      XCTFail("\(what()) = \(got), reference \(ref): \(ulpError(got, ref)) ulp")
    }
  }
}
