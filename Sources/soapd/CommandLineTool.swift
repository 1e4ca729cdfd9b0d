import FastJSON
import SoapCore
import SoapService
import SoapStorage

#if canImport(Glibc)
    import Glibc
    import Foundation
#else
    import Darwin
#endif

/// The commands of the executable (main.swift picks one): options and failure shared here,
/// each command in its own file (ServeCommand, FeaturizeCommand, BenchCommand, FitCommand).
enum CommandLineTool {
    /// `--name value` pairs; every flag takes a value.
    struct Options {
        var values: [String: String] = [:]
        init(_ arguments: [String]) throws {
            var i = 0
            while i < arguments.count {
                let flag = arguments[i]
                guard flag.hasPrefix("--"), flag.count > 2 else { CommandLineTool.fail("unexpected argument '\(flag)'", code: 2) }
                var name = String(flag.dropFirst(2))
                var value: String
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                } else {
                    guard i + 1 < arguments.count else { CommandLineTool.fail("\(flag) needs a value", code: 2) }
                    value = arguments[i + 1]
                    i += 1
                }
                values[name] = value
                i += 1
            }
        }
        func string(_ name: String) -> String? { values[name] }
        func int(_ name: String, min: Int = 1) -> Int? {
            guard let s = values[name] else { return nil }
            guard let v = Int(s), v >= min else {
                CommandLineTool.fail("--\(name) must be an integer ≥ \(min), got '\(s)'", code: 2)
            }
            return v
        }
        func allowOnly(_ names: Set<String>) {
            for key in values.keys where !names.contains(key) { CommandLineTool.fail("unknown option --\(key)", code: 2) }
        }
    }

    static func fail(_ message: String, code: Int32 = 1) -> Never {
        let line = message.hasSuffix("\n") ? message : message + "\n"
        fputs("soapd: " + line, stderr)
        exit(code)
    }

    /// A featurization service that also resolves `basis_id` when --database is given.
    static func service(_ settings: FeatureServiceSettings, database path: String?) -> FeatureService {
        let service = FeatureService(settings: settings)
        if let path {
            do {
                let bases = BasisService(database: try Database(path: path), features: service)
                service.fittedBases.withLock { $0 = { id throws(ServiceError) in try bases.expansionBasis(id) } }
            } catch {
                fail("cannot open database \(path): \(error)")
            }
        }
        return service
    }
}
