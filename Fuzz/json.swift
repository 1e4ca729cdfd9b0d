// libFuzzer target: the JSON reader (FastJSON, with limits) and the request decoders with
// their validation (features, datasets, dataset batches, bases, jobs). Built by scripts/fuzz.
import SoapService

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ServiceFuzzEntry.decodeRequests(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
