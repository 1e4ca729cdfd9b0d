import SoapCore
import SoapService

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

// soapd — featurization service and command line (docs/http-contract.md).
//   soapd serve     [--host H] [--port P] [--database PATH] [--config FILE]
//   soapd featurize --request FILE|- [--output FILE|-] [--threads N] [--format json|npz|npy]
//   soapd bench     --request FILE [--repeat N] [--threads T] [--database PATH]
//   soapd fit       --database PATH --descriptor FILE --structures FILE… (offline basis fitting)

let usage = """
    usage: soapd serve     [--host 127.0.0.1] [--port 8080] [--database PATH] [--config FILE]
           soapd featurize --request FILE|- [--output FILE|-] [--threads N] [--format json|npz|npy]  [--database PATH]
           soapd featurize --request DESCRIPTOR.json --structures FILE.jsonl|- --output FILE.npz [--chunk-atoms N]
                           [--fail-fast true]                        (inputs larger than memory; progress on stderr)
           soapd featurize --request FILE --vjp G.npy [--output FILE|-]     (POST /v1/features/vjp: Σ G·∂X as JSON)
           soapd bench     --request FILE [--repeat N] [--threads T] [--database PATH]
           soapd fit       --database PATH --descriptor FILE --structures FILE[,FILE…] [--contraction separate|mixed]
                           (--q-max N | --residual-variance X) [--method pca|pcovr] [--gamma G]
                           [--center-specific true|false] [--threads N]
                           [--multispectrum-order NU --multispectrum-features K]
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    CommandLineTool.fail(usage, code: 2)
}
arguments.removeFirst()
switch command {
case "featurize": CommandLineTool.featurize(try CommandLineTool.Options(arguments))
case "bench": CommandLineTool.bench(try CommandLineTool.Options(arguments))
case "serve": CommandLineTool.serve(try CommandLineTool.Options(arguments))
case "fit": CommandLineTool.fit(try CommandLineTool.Options(arguments))
case "-h", "--help", "help": print(usage)
default: CommandLineTool.fail("unknown command '\(command)'\n" + usage, code: 2)
}
