/// The browser page, built into the binary from Sources/Server/Resources
/// (SwiftPM's embedInCode): no file is read at run time, and no path outside
/// these is served.
enum PageAssets {
  struct Asset {
    let bytes: [UInt8]
    let contentType: String
  }

  static func asset(at path: String) -> Asset? {
    switch path {
    case "/", "/index.html": return Asset(bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8")
    case "/app.js": return Asset(bytes: PackageResources.app_js, contentType: "text/javascript; charset=utf-8")
    case "/app.css": return Asset(bytes: PackageResources.app_css, contentType: "text/css; charset=utf-8")
    default: return nil
    }
  }
}
