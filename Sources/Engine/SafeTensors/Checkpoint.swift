import Foundation

/// The weights of a model folder: one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` (`{"weight_map": {tensor: shard file}}`).
public final class Checkpoint: @unchecked Sendable {
  public let folder: URL
  let files: [SafeTensorsFile]
  /// Tensor name -> index into `files`.
  let location: [String: Int]

  public init(folder: URL) throws {
    self.folder = folder
    let single = folder.appendingPathComponent("model.safetensors")
    let index = folder.appendingPathComponent("model.safetensors.index.json")
    let fm = FileManager.default
    if fm.fileExists(atPath: single.path) {
      let file = try SafeTensorsFile(url: single)
      files = [file]
      location = Dictionary(uniqueKeysWithValues: file.entries.keys.map { ($0, 0) })
    } else if fm.fileExists(atPath: index.path) {
      guard let data = fm.contents(atPath: index.path),
        let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let map = json["weight_map"] as? [String: String]
      else { throw SafeTensorsError.badIndex(file: index.path, detail: "no \"weight_map\" object") }
      var shardNumber: [String: Int] = [:]
      var files: [SafeTensorsFile] = []
      var location: [String: Int] = [:]
      for (tensor, shard) in map.sorted(by: { $0.key < $1.key }) {
        if shardNumber[shard] == nil {
          shardNumber[shard] = files.count
          files.append(try SafeTensorsFile(url: folder.appendingPathComponent(shard)))
        }
        let i = shardNumber[shard]!
        guard files[i].entries[tensor] != nil else {
          throw SafeTensorsError.badIndex(
            file: index.path, detail: "it puts '\(tensor)' in '\(shard)', which does not hold it")
        }
        location[tensor] = i
      }
      self.files = files
      self.location = location
    } else {
      throw SafeTensorsError.notFound(file: single.path)
    }
  }

  private init(folder: URL, files: [SafeTensorsFile], location: [String: Int]) {
    self.folder = folder
    self.files = files
    self.location = location
  }

  /// A checkpoint with no tensors, for models built in memory.
  static func empty() throws -> Checkpoint { Checkpoint(folder: URL(fileURLWithPath: "/"), files: [], location: [:]) }

  /// Names of every tensor in the checkpoint.
  public var names: [String] { location.keys.sorted() }

  public func has(_ name: String) -> Bool { location[name] != nil }

  /// A tensor that must exist with exactly `shape`.
  public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
    guard let i = location[name] else {
      throw SafeTensorsError.missingTensor(file: files.count == 1 ? files[0].url.path : folder.path, tensor: name)
    }
    let file = files[i]
    let found = file.entries[name]!.shape
    guard found == shape else {
      throw SafeTensorsError.wrongShape(file: file.url.path, tensor: name, expected: shape, found: found)
    }
    return try file.tensor(name)
  }
}
