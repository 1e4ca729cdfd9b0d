#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The other replicas, asked for what this one lacks (issue 16): today, a basis by its
/// content id. Each peer in turn, each call retried `retries` times after a connection
/// error, a timeout or a 5xx; a 404 moves on to the next peer. A document is only kept if
/// `accept` takes it (BasisTransfer checks it), so a peer that answers garbage or hangs
/// leaves nothing stored. A peer whose host name does not resolve counts as absent.
struct PeerDirectory: Sendable {
    /// Sent on every call to a peer: a replica answering a peer does not ask its own peers
    /// (no loops between replicas that all lack a basis).
    static let requestHeader = "Soapd-Peer-Request"

    let settings: PeerSettings

    /// The peers without this replica itself: in a StatefulSet every pod gets the same list,
    /// and a pod (host name `soapd-0`) asking `soapd-0.soapd-peers` would wait on its own workers.
    init(settings: PeerSettings, hostName: String = PeerDirectory.localHostName()) {
        var s = settings
        if !hostName.isEmpty {
            s.urls = settings.urls.filter { url in
                guard let (host, _) = try? PeerClient.parse(url) else { return true }
                return host != hostName && !host.hasPrefix(hostName + ".")
            }
        }
        self.settings = s
    }

    static func localHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(cString: buffer)
    }

    var isEmpty: Bool { settings.urls.isEmpty }

    /// What `accept` makes of the first acceptable basis document a peer sends for `id`;
    /// nil when every peer answers 404 (or there are none); 502 when none had an acceptable
    /// one and some failed (each failure named in the detail).
    func fetchBasis<T>(_ id: String, accept: ([UInt8]) throws(ServiceError) -> T) throws(ServiceError) -> T? {
        let client = PeerClient(timeout: settings.timeoutSeconds, maxBodyBytes: settings.maxBodyBytes)
        var headers = [("Accept", BasisTransfer.mediaType), (Self.requestHeader, "1")]
        if !settings.token.isEmpty { headers.append(("Authorization", "Bearer " + settings.token)) }
        var failures: [String] = []
        for peer in settings.urls {
            var attempt = 0
            while true {
                attempt += 1
                let failure: String
                do {
                    let response = try client.send("GET", base: peer, path: "/v1/bases/" + id, headers: headers)
                    if response.status == 404 { break }
                    if response.status == 200 {
                        do { return try accept(response.body) } catch {
                            // A document that fails the checks is not retried: it would come again.
                            failures.append("\(peer): \(error.message)")
                            break
                        }
                    }
                    failure = "\(peer): answered \(response.status)"
                    if response.status < 500 {
                        failures.append(failure)
                        break
                    }
                } catch {
                    // A name that does not resolve is a replica that does not exist (peers may
                    // list every ordinal up to the autoscaler's maximum): like a 404.
                    if case .unresolved = error { break }
                    failure = "\(peer): \(error)"
                }
                if attempt > settings.retries {
                    failures.append(failure)
                    break
                }
            }
        }
        guard failures.isEmpty else {
            throw ServiceError(
                .peerFailed, "basis \(id.prefix(80)) is not stored here and no peer sent it: " + failures.joined(separator: "; "))
        }
        return nil
    }
}
