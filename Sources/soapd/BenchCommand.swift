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

/// `soapd bench`: the median time of a request featurized in process.
extension CommandLineTool {
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
}
