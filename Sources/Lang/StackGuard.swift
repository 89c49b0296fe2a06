#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Keeps deep recursion in user code from overflowing the native stack: the
/// interpreter raises an error when the stack pointer gets within a margin of
/// the current thread's stack limit.
enum StackGuard {
  /// The lowest stack address evaluation may reach on this thread, or 0 if unknown.
  static func limitForCurrentThread() -> UInt {
    #if os(Linux)
      // pthread_getattr_np is a GNU extension the Glibc module does not export.
      typealias GetAttr = @convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32
      guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "pthread_getattr_np") else {
        return 0
      }
      let getattr = unsafeBitCast(sym, to: GetAttr.self)
      var attr = pthread_attr_t()
      guard getattr(pthread_self(), &attr) == 0 else { return 0 }
      defer { pthread_attr_destroy(&attr) }
      var base: UnsafeMutableRawPointer? = nil
      var size = 0
      guard pthread_attr_getstack(&attr, &base, &size) == 0, let base else { return 0 }
      let low = UInt(bitPattern: base)
      let margin = UInt(min(max(size / 8, 256 << 10), 4 << 20))
      return low + margin
    #elseif canImport(Darwin)
      let top = UInt(bitPattern: pthread_get_stackaddr_np(pthread_self()))
      let size = UInt(pthread_get_stacksize_np(pthread_self()))
      return top - size + min(max(size / 8, 256 << 10), 4 << 20)
    #else
      return 0
    #endif
  }

  /// An address in the caller's stack frame.
  @inline(__always)
  static func currentAddress() -> UInt {
    var marker: UInt8 = 0
    return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
  }
}
