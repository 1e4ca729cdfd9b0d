// libFuzzer target: the HTTP/1.1 request parser (request line, headers, Content-Length and
// chunked bodies, pipelining, gzip bodies), fed whole and byte by byte. Built by scripts/fuzz.
import SoapHTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    HTTPFuzzEntry.parseRequests(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
