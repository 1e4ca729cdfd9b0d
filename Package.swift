// swift-tools-version:6.0
import PackageDescription

// Layout (see README "Architecture"):
//   SoapCore     pure numerics: structures, neighbour lists, radial splines,
//                spherical harmonics, descriptors. No I/O.
//   FastJSON     a bounded JSON reader and a fast numeric JSON writer.
//   SoapHTTP     an HTTP/1.1 server on sockets + Dispatch; knows no chemistry.
//   SoapStorage  SQLite (C API): fitted bases, dataset statistics, jobs; migrations.
//   SoapService  request decoding, response encoding, routes wiring HTTP to the core.
//   soapd        the thin executable (serve, featurize, bench).
// Release builds of SoapCore drop the overflow, bounds and precondition checks
// (-Ounchecked): its kernels run 11-16 % slower (20-40 % more instructions) with them.
// FastJSON keeps them: dropping them changes a JSON answer's cost by under 2 %, either
// way. Figures and method: docs/bounds-checks.md.
let unsafeFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "soapd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "soapd", targets: ["soapd"]),
        .library(name: "SoapCore", targets: ["SoapCore"]),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CLapack", path: "Sources/CLapack"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // CRC-32 of zip entries by PCLMULQDQ folding (zlib's table-driven one is the
        // largest cost after the featurization in binary answers).
        .target(name: "CFastCRC", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "SoapStorage", dependencies: ["CSQLite"]),
        .target(name: "SoapCore", dependencies: ["CLapack"], swiftSettings: unsafeFlags),
        .target(name: "FastJSON"),
        .target(name: "SoapHTTP", dependencies: ["CZlib"]),
        .target(name: "SoapService", dependencies: ["SoapCore", "FastJSON", "SoapHTTP", "SoapStorage", "CFastCRC"]),
        .executableTarget(name: "soapd", dependencies: ["SoapService", "SoapCore", "FastJSON", "SoapHTTP"]),
        // What the test targets share: a seeded RNG, scratch directories, an HTTP client, the soapd binary fixture.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SoapCoreTests", dependencies: ["SoapCore", "TestSupport"], exclude: []),
        .testTarget(
            name: "SoapServiceTests",
            dependencies: ["SoapService", "SoapCore", "FastJSON", "SoapHTTP", "CFastCRC", "TestSupport"]),
        .testTarget(name: "SoapHTTPTests", dependencies: ["SoapHTTP", "TestSupport"]),
        .testTarget(name: "FastJSONTests", dependencies: ["FastJSON", "TestSupport"]),
        .testTarget(name: "SoapStorageTests", dependencies: ["SoapStorage", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
