import Foundation
import ZIPFoundation

/// The arrays of a `.npz` file: a zip of `NAME.npy` members, stored by
/// numpy's `savez` and deflated by `savez_compressed` (ZIPFoundation reads
/// both; each member's CRC is checked here, as its consumer API does not).
struct NumpyArchive {
  let url: URL
  private let archive: Archive
  /// Array names (member names without `.npy`), in archive order.
  let names: [String]

  init(url: URL) throws {
    self.url = url
    do {
      archive = try Archive(url: url, accessMode: .read)
    } catch {
      throw NumpyError.notZip("\(error)")
    }
    names = archive.filter { $0.type == .file && $0.path.hasSuffix(".npy") }.map { String($0.path.dropLast(4)) }
  }

  /// The array `name`, widened to fp32.
  func array(_ name: String) throws -> NumpyArray {
    guard let entry = archive[name + ".npy"] else { throw NumpyError.missingArray(name, have: names) }
    var data = Data(capacity: Int(clamping: min(entry.uncompressedSize, 1 << 32)))
    let crc: CRC32
    do {
      crc = try archive.extract(entry) { data.append($0) }
    } catch {
      throw NumpyError.badArray(name, "cannot be read from the archive (\(error))")
    }
    guard crc == entry.checksum else { throw NumpyError.badArray(name, "damaged in the archive (CRC32 mismatch)") }
    return try NumpyArray(npy: data, name: name)
  }
}
