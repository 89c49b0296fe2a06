// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "tdb",
  products: [
    .executable(name: "tdb", targets: ["Shell"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
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

    .target(
      name: "Engine", dependencies: ["CBLAS", "CSQLite"],
      swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
    .target(name: "Lang"),
    .target(name: "Builtins", dependencies: ["Engine", "Lang"]),
    .executableTarget(
      name: "Shell",
      dependencies: [
        "Engine", "Lang", "Builtins", "CEditLine",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    .testTarget(name: "EngineTests", dependencies: ["Engine"], path: "Tests/EngineTests"),
    .testTarget(name: "LangTests", dependencies: ["Lang"], path: "Tests/LangTests"),
    .testTarget(
      name: "BuiltinsTests", dependencies: ["Builtins", "Engine", "Lang"], path: "Tests/BuiltinsTests"),
    .testTarget(name: "ShellTests", dependencies: ["Shell"], path: "Tests/ShellTests"),
  ],
  swiftLanguageModes: [.v5]
)
