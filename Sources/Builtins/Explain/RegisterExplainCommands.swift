import Engine
import Foundation
import Lang

/// Registers the dataset and explanation commands: collect, merge, explain, top, search, annotate.
public func registerExplainCommands(_ r: CommandRegistry, _ lazy: LazyModelSession, readOnlyDatasets: Bool = false) {
  let datasets = DatasetContext(readOnly: readOnlyDatasets)
  registerCollectCommands(r, lazy, datasets)
  registerExplainQueryCommands(r, lazy, datasets)
}
