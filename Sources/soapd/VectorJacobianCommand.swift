import SoapService

/// `soapd featurize --request R.json --vjp G.npy`: the answer of POST /v1/features/vjp for the
/// request R (its `gradients` list says positions and/or strain) and the output gradient G
/// (rows × columns float64, shaped like the features' values), as JSON.
extension CommandLineTool {
    static func featurizeVJP(_ options: Options, request input: String, outputGradient path: String) {
        let output = options.string("output") ?? "-"
        if let f = options.string("format"), f != "json" { fail("--vjp writes JSON; --format \(f) is not available", code: 2) }
        var settings = FeatureServiceSettings()
        if let t = options.int("threads") { settings.threads = t }
        let service = service(settings, database: options.string("database"))
        do {
            let body = try FileIO.read(input)
            let gradient = try NumpyArrayDecoding.matrix(try FileIO.read(path), name: "output_gradient")
            let answer = try service.vectorJacobianProduct(request: try service.parse(body), outputGradient: gradient)
            try FileIO.write([answer], to: output)
        } catch let error as ServiceError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
    }
}
