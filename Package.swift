// swift-tools-version: 6.0
import PackageDescription

// Debian's serial BLIS (libblis-serial-dev), linked statically: see Sources/CBLIS.
#if arch(arm64)
  let debianTriple = "aarch64-linux-gnu"
#else
  let debianTriple = "x86_64-linux-gnu"
#endif
let blisHeaders = "/usr/include/\(debianTriple)/blis-serial"
let blisArchive = "/usr/lib/\(debianTriple)/blis-serial/libblis.a"

let package = Package(
  name: "tdb",
  products: [
    .executable(name: "tdb", targets: ["Shell"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.30.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
  ],
  targets: [
    // C interop shims: Debian's libopenblas-dev, libedit-dev and libsqlite3-dev through pkg-config.
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CEditLine", path: "Sources/CEditLine", pkgConfig: "libedit",
      providers: [.apt(["libedit-dev"])]),
    .systemLibrary(
      name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
      providers: [.apt(["libsqlite3-dev"])]),

    // Vector kernels in C: AVX2+FMA behind a run-time CPU check, and a portable fallback.
    .target(name: "CKernels", path: "Sources/CKernels", publicHeadersPath: "include"),
    // Products with weights packed once, through oneDNN (Debian's libdnnl-dev; no pkg-config file).
    .target(
      name: "CPacked", path: "Sources/CPacked", publicHeadersPath: "include",
      linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
    // Short prompts' matrix products through BLIS's unpacked kernels.
    .target(
      name: "CBLIS", path: "Sources/CBLIS", publicHeadersPath: "include",
      cSettings: [.unsafeFlags(["-I", blisHeaders])],
      linkerSettings: [.unsafeFlags(["-Xlinker", blisArchive])]),

    .target(
      name: "Engine",
      dependencies: [
        "CBLAS", "CBLIS", "CKernels", "CPacked", "CSQLite", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
      ],
      swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
    .target(name: "Lang"),
    .target(
      name: "Builtins",
      dependencies: ["Engine", "Lang", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
    .target(
      name: "Server",
      dependencies: [
        "Engine", "Lang", "Builtins",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      resources: [
        .embedInCode("Resources/index.html"), .embedInCode("Resources/app.js"),
        .embedInCode("Resources/app.css"),
      ]),
    .executableTarget(
      name: "Shell",
      dependencies: [
        "Engine", "Lang", "Builtins", "Server", "CEditLine",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    .testTarget(name: "EngineTests", dependencies: ["Engine", "CKernels", "CPacked"], path: "Tests/EngineTests"),
    .testTarget(name: "LangTests", dependencies: ["Lang"], path: "Tests/LangTests"),
    .testTarget(
      name: "BuiltinsTests", dependencies: ["Builtins", "Engine", "Lang"], path: "Tests/BuiltinsTests"),
    .testTarget(name: "ShellTests", dependencies: ["Shell"], path: "Tests/ShellTests"),
    .testTarget(
      name: "ServerTests", dependencies: ["Server", "Builtins", "Engine", "Lang"], path: "Tests/ServerTests"),
  ],
  swiftLanguageModes: [.v5],
  cLanguageStandard: .c11
)
