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

/// `soapd featurize`: one request from a file (or stdin), or structures as JSON lines
/// featurized in chunks for inputs larger than memory.
extension CommandLineTool {
    static func featurize(_ options: Options) {
        options.allowOnly([
            "request", "output", "threads", "format", "database", "structures", "chunk-atoms", "fail-fast", "vjp",
        ])
        guard let input = options.string("request") else { fail("featurize needs --request FILE|-", code: 2) }
        if let gradient = options.string("vjp") {
            featurizeVJP(options, request: input, outputGradient: gradient)
            return
        }
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
}
