import Foundation
import Hummingbird
import NIOCore

/// Hummingbird's basic context plus a way to learn that the client went away:
/// a script whose client has closed its connection is stopped, as Ctrl-C
/// stops it at the prompt.
struct ServeRequestContext: RequestContext {
  var coreContext: CoreRequestContextStorage
  let channel: any Channel

  init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
    channel = source.channel
  }

  /// Runs `body` (and returns its result) with `onClose` called if the
  /// client closes its side of the connection meanwhile. Hummingbird allows
  /// half-closed connections, so a client that gives up shows as the input
  /// closing (or the channel going inactive), seen first at the pipeline's head.
  func whileConnected<T>(onClose: @escaping @Sendable () -> Void, _ body: () async -> T) async -> T {
    let observer = InputClosedObserver(onClose)
    let added = channel.eventLoop.submit { [channel] in
      try channel.pipeline.syncOperations.addHandler(observer, position: .first)
    }
    _ = try? await added.get()
    let result = await body()
    let removed = channel.eventLoop.submit { [channel] in
      try channel.pipeline.syncOperations.removeHandler(observer).whenComplete { _ in }
    }
    _ = try? await removed.get()
    return result
  }
}

/// Passes everything on; tells when the input closes or the channel goes inactive.
final class InputClosedObserver: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
  typealias InboundIn = NIOAny
  private let onClose: @Sendable () -> Void

  init(_ onClose: @escaping @Sendable () -> Void) { self.onClose = onClose }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let event = event as? ChannelEvent, event == .inputClosed { onClose() }
    context.fireUserInboundEventTriggered(event)
  }

  func channelInactive(context: ChannelHandlerContext) {
    onClose()
    context.fireChannelInactive()
  }
}

/// A script's place in the worker's queue, through which the request that
/// asked for it cancels it.
final class EvalTicket: @unchecked Sendable {
  private let lock = NSLock()
  private var cancelledFlag = false
  private var onCancel: (() -> Void)?

  var cancelled: Bool { lock.withLock { cancelledFlag } }

  /// Cancels the script: skipped if still queued, interrupted if running.
  func cancel() {
    let action: (() -> Void)? = lock.withLock {
      cancelledFlag = true
      return onCancel
    }
    action?()
  }

  /// While the script runs, `cancel()` calls `action`; nil when it has ended.
  /// Returns false when the ticket was cancelled already.
  func whileRunning(_ action: (() -> Void)?) -> Bool {
    lock.withLock {
      onCancel = action
      return !cancelledFlag
    }
  }
}
