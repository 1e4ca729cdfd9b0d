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

    static func featurize(_ options: Options) {
        options.allowOnly(["request", "output", "threads", "format", "database", "structures", "chunk-atoms", "fail-fast"])
        guard let input = options.string("request") else { fail("featurize needs --request FILE|-", code: 2) }
        if let structures = options.string("structures") {
            featurizeStreaming(options, settings: input, structures: structures)
            return
        }
        let output = options.string("output") ?? "-"
        let format: FeatureFormat
        switch options.string("format") ?? "json" {
        case "json": format = .json
        case "npz": format = .npz
        case "npy": format = .npy
        case let other: fail("--format must be json, npz or npy, got '\(other)'", code: 2)
        }
        var settings = FeatureServiceSettings()
        if let t = options.int("threads") { settings.threads = t }
        let service = service(settings, database: options.string("database"))
        let body: [UInt8]
        do { body = try FileIO.read(input) } catch { fail("cannot read \(input): \(error)") }
        do {
            let prepared = try service.prepare(body)
            let features = try service.compute(prepared)
            let chunks =
                format == .json
                ? FeatureResponseEncoder.jsonChunks(features, basisID: prepared.basisID, threads: settings.threads)
                : [FeatureResponseEncoder.encode(features, format: format, basisID: prepared.basisID)]
            try FileIO.write(chunks, to: output)
        } catch let error as ServiceError {
            fail(error.description)
        } catch {
            fail("cannot write \(output): \(error)")
        }
    }

    /// Inputs larger than memory: --request holds the descriptor (no structures), the
    /// structures come as JSON lines, the output is an .npz built chunk by chunk; a
    /// progress line goes to stderr.
    static func featurizeStreaming(_ options: Options, settings input: String, structures path: String) {
        let output = options.string("output") ?? "-"
        if let f = options.string("format"), f != "npz" {
            fail("streaming (--structures) writes npz; --format \(f) is not available", code: 2)
        }
        var settings = FeatureServiceSettings()
        if let t = options.int("threads") { settings.threads = t }
        let service = service(settings, database: options.string("database"))
        let scratch = output == "-" ? "/tmp/soapd-chunks-\(getpid())" : output + ".soapd-chunks-\(getpid())"
        let failFast = options.string("fail-fast").map { $0 == "true" } ?? false
        let streaming: StreamingFeaturizer
        do {
            streaming = try StreamingFeaturizer(
                features: service, settings: try FileIO.read(input), directory: scratch,
                chunkAtoms: options.int("chunk-atoms") ?? 4096, failFast: failFast)
        } catch let error as ServiceError {
            fail(error.description)
        } catch {
            fail("cannot read \(input): \(error)")
        }
        defer { streaming.cleanUp() }
        streaming.onError = { line in fputs(line + "\n", stderr) }
        let start = SystemClock.monotonic()
        var lastReport = start
        func progress(final: Bool = false) {
            let t = SystemClock.monotonic()
            guard final || t - lastReport > 0.5 else { return }
            lastReport = t
            let rate = Double(streaming.atomsDone) / max(t - start, 1e-9)
            fputs(
                "\rsoapd featurize: \(streaming.structuresSeen) structures, \(streaming.atomsDone) atoms, \(Int(rate)) atoms/s"
                    + (final ? "\n" : ""), stderr)
        }
        do {
            try FileIO.forEachLine(path) { line in
                guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
                try streaming.add(line: line)
                progress()
            }
            let fd = output == "-" ? STDOUT_FILENO : open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { fail("cannot write \(output): \(String(cString: strerror(errno)))") }
            defer { if output != "-" { close(fd) } }
            try streaming.finish { try FileIO.write($0, fd: fd) }
            progress(final: true)
        } catch let error as ServiceError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
    }

    static func bench(_ options: Options) {
        options.allowOnly(["request", "repeat", "threads", "warmup", "database"])
        guard let input = options.string("request") else { fail("bench needs --request FILE", code: 2) }
        let repeats = options.int("repeat") ?? 5
        let warmup = options.int("warmup", min: 0) ?? 1
        var settings = FeatureServiceSettings()
        if let t = options.int("threads") { settings.threads = t }
        let service = service(settings, database: options.string("database"))
        let prepared: PreparedFeaturization
        do {
            prepared = try service.prepare(try FileIO.read(input))
        } catch let error as ServiceError {
            fail(error.description)
        } catch {
            fail("cannot read \(input): \(error)")
        }
        var times: [Double] = []
        do {
            for _ in 0..<warmup { _ = try service.compute(prepared) }
            for _ in 0..<repeats {
                let start = SystemClock.monotonic()
                let result = try service.compute(prepared)
                times.append(SystemClock.monotonic() - start)
                withExtendedLifetime(result) {}
            }
        } catch {
            fail(error.description)
        }
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let atoms = prepared.atomCount
        print(
            "{\"atoms\": \(atoms), \"seconds_median\": \(median), \"seconds_min\": \(times[0]), "
                + "\"atoms_per_second\": \(Double(atoms) / median), \"repeat\": \(repeats), \"threads\": \(settings.threads)}")
    }

    /// Offline fitting: a dataset from files, its statistics, a fitted basis in the database.
    ///   soapd fit --database DB --descriptor FILE --structures FILE[,FILE…] [--contraction separate|mixed]
    ///             (--q-max N | --residual-variance X) [--method pca|pcovr] [--gamma G]
    ///             [--center-specific true|false] [--threads N]
    ///             [--multispectrum-order NU --multispectrum-features K]
    /// FILE for --descriptor holds {"species": [...], "hypers": {...}}; each structures file
    /// holds {"structures": [...], "targets": [...]?} (added as one batch). With a
    /// multispectrum order the dataset keeps its structures and the contraction of orders
    /// 2…NU (K features per (λ, σ) block) is fitted on them. Prints the basis summary (with its id).
    static func fit(_ options: Options) {
        options.allowOnly([
            "database", "descriptor", "structures", "contraction", "q-max", "residual-variance",
            "method", "gamma", "center-specific", "threads", "multispectrum-order",
            "multispectrum-features",
        ])
        guard let path = options.string("database"), let descriptor = options.string("descriptor"),
            let structures = options.string("structures")
        else {
            fail("fit needs --database PATH --descriptor FILE --structures FILE[,FILE…]", code: 2)
        }
        var settings = FeatureServiceSettings()
        if let t = options.int("threads") { settings.threads = t }
        let features = FeatureService(settings: settings)
        do {
            try FileSystem.createDirectories(forFile: path)
            let database = try Database(path: path)
            let datasets = DatasetService(database: database, features: features)
            let bases = BasisService(database: database, features: features)
            let definition = try FileIO.read(descriptor)
            let order = options.int("multispectrum-order")
            let budget = options.int("multispectrum-features")
            guard (order == nil) == (budget == nil) else {
                fail("--multispectrum-order and --multispectrum-features go together", code: 2)
            }
            let keep = order != nil ? ",\"keep_structures\":true}" : "}"
            let created = try datasets.createDataset(Array("{\"descriptor\":".utf8) + definition + Array(keep.utf8))
            guard case .object(let o) = try JSON.parse(created), let id = o["id"]?.stringValue else { fail("no dataset id") }
            for file in structures.split(separator: ",") {
                let batch = try datasets.addStructures(
                    datasetID: id, body: try FileIO.read(String(file)), idempotencyKey: String(file))
                fputs("soapd fit: added \(file): " + String(decoding: batch.prefix(200), as: UTF8.self) + "\n", stderr)
            }
            // The POST /v1/bases body, written (not spliced) so every flag value is JSON-escaped.
            func number(_ flag: String) -> Double? {
                guard let text = options.string(flag) else { return nil }
                guard let x = Double(text) else { fail("--\(flag) must be a number, not \(text)", code: 2) }
                return x
            }
            var w = JSONWriter(capacity: 256)
            w.beginObject()
            w.key("dataset_id")
            w.string(id)
            w.key("contraction")
            w.string(options.string("contraction") ?? "separate")
            if let q = options.int("q-max") {
                w.key("q_max")
                w.integer(q)
            }
            if let rv = number("residual-variance") {
                w.key("residual_variance")
                w.number(rv)
            }
            if let method = options.string("method") {
                w.key("method")
                w.string(method)
            }
            if let gamma = number("gamma") {
                w.key("gamma")
                w.number(gamma)
            }
            if let specific = options.string("center-specific") {
                guard specific == "true" || specific == "false" else { fail("--center-specific is true or false", code: 2) }
                w.key("center_specific")
                w.bool(specific == "true")
            }
            if let order, let budget {
                w.key("multispectrum")
                w.beginObject()
                w.key("correlation_order")
                w.integer(order)
                w.key("max_features_per_order")
                w.integer(budget)
                w.endObject()
            }
            w.endObject()
            let (summary, _, _) = try bases.fit(w.bytes)
            try FileIO.write([summary, [10]], to: "-")
        } catch let error as ServiceError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
    }

    /// Defaults (Config/soapd.json), then --config FILE, then SOAPD_* variables, then flags.
    static func serve(_ options: Options) {
        var configuration = ServiceConfiguration()
        do {
            if let path = options.string("config") {
                try configuration.apply(file: try FileIO.read(path), path: path)
            }
            try configuration.apply(environment: ProcessEnvironment.current)
            for (flag, value) in options.values where flag != "config" {
                try configuration.set(flag.replacingOccurrences(of: "-", with: "_"), value, source: "--\(flag)")
            }
        } catch {
            fail("\(error)", code: 2)
        }
        let server: SoapdServer
        do {
            server = try SoapdServer(configuration: configuration)
            try server.start()
        } catch {
            fail("cannot start: \(error)")
        }
        server.runUntilSignalled()
        exit(0)
    }
}

/// Whole-file reads and writes with Glibc ("-" is stdin / stdout).
enum FileIO {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        defer { if path != "-" { close(fd) } }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    static func write(_ chunks: [[UInt8]], to path: String) throws {
        let fd = path == "-" ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        defer { if path != "-" { close(fd) } }
        for bytes in chunks { try write(bytes, fd: fd) }
    }

    /// Calls `body` with each line of a file ("-": stdin), without the newline; memory holds
    /// one block and the current line.
    static func forEachLine(_ path: String, _ body: ([UInt8]) throws -> Void) throws {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { if path != "-" { close(fd) } }
        var block = [UInt8](repeating: 0, count: 1 << 20)
        var line: [UInt8] = []
        while true {
            let n = block.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            var start = 0
            for i in 0..<n where block[i] == 0x0A {
                line.append(contentsOf: block[start..<i])
                try body(line)
                line.removeAll(keepingCapacity: true)
                start = i + 1
            }
            line.append(contentsOf: block[start..<n])
        }
        if !line.isEmpty { try body(line) }
    }

    static func write(_ bytes: UnsafeRawBufferPointer, fd: Int32) throws {
        guard bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: String(cString: strerror(errno)))
            }
            offset += n
        }
    }

    static func write(_ bytes: [UInt8], fd: Int32) throws {
        try bytes.withUnsafeBytes { try write($0, fd: fd) }
    }
}
