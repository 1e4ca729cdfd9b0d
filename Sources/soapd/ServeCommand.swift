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

/// `soapd serve`: the HTTP service until SIGTERM or SIGINT.
extension CommandLineTool {
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
