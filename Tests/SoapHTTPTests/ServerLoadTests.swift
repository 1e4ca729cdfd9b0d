import Foundation
import Glibc
import TestSupport
import XCTest

@testable import SoapHTTP

final class ServerLoadTests: XCTestCase {
    func testIdleKeepAliveConnectionIsClosed() throws {
        try withServer({ $0.idleTimeout = 0.3 }) { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request())
            XCTAssertEqual(try client.readResponse().status, 200)
            let start = Date()
            XCTAssertTrue(client.isClosedByServer())
            let elapsed = Date().timeIntervalSince(start)
            XCTAssertGreaterThan(elapsed, 0.2)
            XCTAssertLessThan(elapsed, 1.5)
            XCTAssertTrue(waitUntil { server.stats.openConnections == 0 })
        }
    }

    func testSlowlorisHeaderTimeoutIs408() throws {
        try withServer({ $0.headerTimeout = 0.5 }) { server in
            let client = try RawClient(port: server.boundPort)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n")
            let start = Date()
            // Trickle a byte every 100 ms: progress must not extend the deadline.
            let trickler = Thread {
                for _ in 0..<30 {
                    if (try? client.send("X")) == nil { return }
                    usleep(100_000)
                }
            }
            trickler.start()
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 408)
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertLessThan(Date().timeIntervalSince(start), 1.5)
        }
    }

    func testBodyTimeoutIs408() throws {
        try withServer({ $0.bodyTimeout = 0.3 }) { server in
            let client = try RawClient(port: server.boundPort)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 408)
            XCTAssertTrue(client.isClosedByServer())
        }
    }

    func testSilentNewConnectionIsClosed() throws {
        try withServer({ $0.headerTimeout = 0.3 }) { server in
            let client = try RawClient(port: server.boundPort)
            XCTAssertTrue(client.isClosedByServer())
        }
    }

    func testMaxConnectionsAnswers503AndCloses() throws {
        try withServer({ $0.maxConnections = 2 }) { server in
            let a = try RawClient(port: server.boundPort)
            let b = try RawClient(port: server.boundPort)
            XCTAssertTrue(waitUntil { server.stats.openConnections == 2 })
            let c = try RawClient(port: server.boundPort)
            try? c.send(request())
            let response = try c.readResponse()
            XCTAssertEqual(response.status, 503)
            XCTAssertEqual(response.header("Retry-After"), "1")
            XCTAssertEqual(response.header("Content-Type"), "application/problem+json")
            XCTAssertTrue(c.isClosedByServer())
            XCTAssertEqual(server.stats.rejectedConnections, 1)
            // The admitted ones still work, and room frees up when one leaves.
            try a.send(request("GET", "/a", headers: ["Connection: close"]))
            XCTAssertEqual(try a.readResponse().status, 200)
            XCTAssertTrue(waitUntil { server.stats.openConnections == 1 })
            let d = try RawClient(port: server.boundPort)
            try d.send(request())
            XCTAssertEqual(try d.readResponse().status, 200)
            _ = b
        }
    }

    func testFullQueueAnswers503WithRetryAfter() throws {
        try withServer({
            $0.workerThreads = 1
            $0.maxQueuedRequests = 1
        }) { server in
            let running = try RawClient(port: server.boundPort)
            try running.send(request("GET", "/sleep?ms=600"))
            XCTAssertTrue(waitUntil { server.stats.runningRequests == 1 })
            let queued = try RawClient(port: server.boundPort)
            try queued.send(request("GET", "/sleep?ms=10"))
            XCTAssertTrue(waitUntil { server.stats.queuedRequests == 1 })

            let rejected = try RawClient(port: server.boundPort)
            let start = Date()
            try rejected.send(request("GET", "/"))
            let busy = try rejected.readResponse()
            XCTAssertLessThan(Date().timeIntervalSince(start), 0.4)  // immediately, not after the queue drains
            XCTAssertEqual(busy.status, 503)
            XCTAssertEqual(busy.header("Retry-After"), "1")
            XCTAssertEqual(server.stats.rejectedRequests, 1)

            XCTAssertEqual(try running.readResponse().status, 200)
            XCTAssertEqual(try queued.readResponse().status, 200)
            // The rejected connection is still usable once there is room.
            try rejected.send(request("GET", "/again"))
            XCTAssertEqual(try rejected.readResponse().text, "hello /again")
        }
    }

    func testSlowClientDoesNotHoldAWorker() throws {
        try withServer({
            $0.workerThreads = 1
            $0.maxQueuedRequests = 0
        }) { server in
            // A client stuck halfway through its headers...
            let slow = try RawClient(port: server.boundPort)
            try slow.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
            XCTAssertTrue(waitUntil { server.stats.openConnections == 1 })
            // ...must not keep the only worker from serving others.
            let fast = try RawClient(port: server.boundPort)
            try fast.send(request())
            XCTAssertEqual(try fast.readResponse().status, 200)
        }
    }

    func testConcurrentClients() throws {
        try withServer({ $0.workerThreads = 4 }) { server in
            let port = server.boundPort
            let failures = LockedBox<[String]>([])
            let successes = LockedBox(0)
            DispatchQueue.concurrentPerform(iterations: 16) { worker in
                do {
                    let client = try RawClient(port: port)
                    for i in 0..<20 {
                        let body = "w\(worker)-r\(i)"
                        try client.send(request("POST", "/echo", body: body))
                        let response = try client.readResponse()
                        if response.status == 200 && response.text == body {
                            successes.update { $0 += 1 }
                        } else {
                            failures.update { $0.append("\(worker)/\(i): \(response.status) \(response.text)") }
                        }
                    }
                } catch {
                    failures.update { $0.append("\(worker): \(error)") }
                }
            }
            XCTAssertEqual(failures.get(), [])
            XCTAssertEqual(successes.get(), 320)
        }
    }

    func testGracefulShutdownFinishesInFlightRequest() throws {
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.idleTimeout = 5
        let server = HTTPServer(configuration: config, handler: testHandler)
        try server.start()
        let port = server.boundPort

        let idle = try RawClient(port: port)  // an idle keep-alive connection
        try idle.send(request())
        XCTAssertEqual(try idle.readResponse().status, 200)

        let busy = try RawClient(port: port)
        try busy.send(request("GET", "/sleep?ms=500"))
        XCTAssertTrue(waitUntil { server.stats.runningRequests == 1 })

        let shutdownDone = expectation(description: "shutdown returned")
        let shutdownStart = Date()
        let finishedAt = LockedBox<Date?>(nil)
        Thread {
            server.shutdown(gracePeriod: 5)
            finishedAt.set(Date())
            shutdownDone.fulfill()
        }.start()

        // The idle connection is closed promptly, new connections are refused...
        XCTAssertTrue(idle.isClosedByServer())
        XCTAssertTrue(waitUntil(timeout: 1) { (try? RawClient(port: port)) == nil })
        // ...and the in-flight request still completes, telling the client to go.
        let response = try busy.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "slept")
        XCTAssertEqual(response.header("Connection"), "close")

        wait(for: [shutdownDone], timeout: 5)
        let took = try XCTUnwrap(finishedAt.get()).timeIntervalSince(shutdownStart)
        XCTAssertGreaterThan(took, 0.3)
        XCTAssertLessThan(took, 3)
        XCTAssertEqual(server.stats.openConnections, 0)
        XCTAssertThrowsError(try RawClient(port: port))
    }

    func testShutdownForceClosesAfterGracePeriod() throws {
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.workerThreads = 1
        let server = HTTPServer(configuration: config, handler: testHandler)
        try server.start()
        let busy = try RawClient(port: server.boundPort)
        try busy.send(request("GET", "/sleep?ms=1500"))
        XCTAssertTrue(waitUntil { server.stats.runningRequests == 1 })
        let start = Date()
        server.shutdown(gracePeriod: 0.2)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.2)
        XCTAssertTrue(busy.isClosedByServer())  // cut off without a response
        server.shutdown()  // idempotent
    }

    func testRandomBytesDoNotBreakTheServer() throws {
        try withServer({
            $0.headerTimeout = 0.5
            $0.bodyTimeout = 0.5
        }) { server in
            var rng = SplitMix64(seed: 0x5EED)
            let prefixes = [
                "", "GET / HTTP/1.1\r\n", "POST /echo HTTP/1.1\r\nHost: x\r\n",
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 40\r\n\r\n",
            ]
            let alphabet = Array("GET /HTTP1.0\r\n:;, \t%0aFx-chunked".utf8)
            for i in 0..<500 {
                var bytes = Array(prefixes[i % prefixes.count].utf8)
                let length = Int(rng.next() % 300)
                for _ in 0..<length {
                    // Half pure noise, half HTTP-ish characters to get deeper into the parser.
                    let r = rng.next()
                    bytes.append(i % 2 == 0 ? UInt8(truncatingIfNeeded: r) : alphabet[Int(r % UInt64(alphabet.count))])
                }
                let client = try RawClient(port: server.boundPort, timeout: 3)
                try? client.send(bytes)
                if i % 3 != 0 { client.shutdownWrite() }  // else: just hang up
                if i % 3 == 1 { _ = try? client.readUntilClose() }
            }
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/still-alive"))
            XCTAssertEqual(try client.readResponse().text, "hello /still-alive")
            XCTAssertTrue(waitUntil(timeout: 5) { server.stats.openConnections <= 1 })
        }
    }
}
