// libFuzzer target: gzip inflation of request bodies (Gzip.decompress) and its size limit.
// Built by scripts/fuzz.
import SoapHTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    HTTPFuzzEntry.inflate(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
