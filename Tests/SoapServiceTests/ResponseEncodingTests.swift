import FastJSON
import SoapCore
import XCTest

@testable import SoapService

/// The featurize path end to end (request JSON in, response out) against the
/// featomic reference, and the binary numpy response read back.
final class ResponseEncodingTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/conformance")

    /// A POST /v1/features body made from a conformance case.
    func request(_ file: String, type: String, per: String = "atom", gradients: Bool = false) throws -> ([UInt8], [String: Any]) {
        let case_ =
            try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent(file))) as! [String: Any]
        var hypers = (type == "radial_spectrum" ? case_["radial_spectrum_hypers"] : case_["hypers"]) as! [String: Any]
        let species = (case_["hypers"] as! [String: Any])["species"]!
        hypers["species"] = nil
        let body: [String: Any] = [
            "structures": case_["structures"]!, "per": per, "gradients": gradients,
            "descriptor": ["type": type, "species": species, "hypers": hypers],
        ]
        return (Array(try JSONSerialization.data(withJSONObject: body)), case_)
    }

    func testJSONResponseMatchesFeatomicByLabel() throws {
        for type in ["spherical_expansion", "radial_spectrum", "power_spectrum"] {
            let (body, case_) = try request("public_c_molecules.json", type: type)
            let bytes = try FeatureService().featurize(body, format: .json)
            let response = try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
            let expected = (case_["expected"] as! [String: Any])[type] as! [String: Any]
            let properties = response["properties"] as! [String: Any]
            XCTAssertEqual(properties["names"] as! [String], expected["names"] as! [String])
            let ourLabels = (properties["values"] as! [[Int]])
            var column: [[Int]: Int] = [:]
            for (k, l) in ourLabels.enumerated() { column[l] = k }
            let theirLabels = expected["labels"] as! [[Int]]
            XCTAssertEqual(Set(ourLabels), Set(theirLabels))
            let ours = response["values"] as! [[Double]]
            let theirs = expected["values"] as! [[Double]]
            XCTAssertEqual(ours.count, theirs.count)
            var worst = 0.0
            for (k, label) in theirLabels.enumerated() {
                for row in theirs.indices { worst = max(worst, abs(ours[row][column[label]!] - theirs[row][k])) }
            }
            XCTAssertLessThan(worst, 1e-9, type)
            let samples = response["samples"] as! [String: Any]
            XCTAssertEqual(samples["names"] as! [String], ["structure", "atom"])
            XCTAssertEqual(samples["values"] as! [[Int]], (case_["expected"] as! [String: Any])["samples"] as! [[Int]])
            XCTAssertEqual(response["center_types"] as! [Int], (case_["expected"] as! [String: Any])["center_types"] as! [Int])
            XCTAssertNil(response["gradients"])
        }
    }

    func testBispectrumJSONAndNpzMatchFeatomic() throws {
        for file in ["public_f1_bispectrum_molecules.json", "public_f2_bispectrum_si8.json"] {
            let (body, case_) = try request(file, type: "bispectrum")
            let expected = (case_["expected"] as! [String: Any])["bispectrum"] as! [String: Any]
            let response =
                try JSONSerialization.jsonObject(with: Data(try FeatureService().featurize(body, format: .json)))
                as! [String: Any]
            let properties = response["properties"] as! [String: Any]
            XCTAssertEqual(properties["names"] as! [String], expected["names"] as! [String])
            XCTAssertEqual(properties["values"] as! [[Int]], expected["labels"] as! [[Int]], "featomic's column order")
            let ours = response["values"] as! [[Double]]
            let theirs = expected["values"] as! [[Double]]
            XCTAssertEqual(ours.count, theirs.count)
            var worst = 0.0
            for row in theirs.indices { for c in theirs[row].indices { worst = max(worst, abs(ours[row][c] - theirs[row][c])) } }
            XCTAssertLessThan(worst, 1e-9, file)
            // The binary response holds the same numbers.
            let service = FeatureService()
            let matrix = try service.compute(try service.prepare(body))
            let files = try ZipReader.storedEntries(FeatureResponseEncoder.encode(matrix, format: .npz))
            let (shape, data) = try NpyReader.read(files["values.npy"]!, descr: "<f8")
            XCTAssertEqual(shape, [theirs.count, theirs[0].count])
            // Exactly the computed doubles (Foundation's JSON reader may round the text differently).
            let binary = data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
            XCTAssertTrue(binary == matrix.values, "npz values differ from the computed ones")
            XCTAssertLessThan(zip(binary, ours.flatMap { $0 }).map { abs($0 - $1) }.max()!, 1e-14, "npz vs JSON")
            let (pshape, _) = try NpyReader.read(files["properties.npy"]!, descr: "<i4")
            XCTAssertEqual(pshape, [theirs[0].count, 10])
        }
        // With gradients, per structure: the npz carries them.
        let (body, _) = try request("public_f2_bispectrum_si8.json", type: "bispectrum", per: "structure", gradients: true)
        let service = FeatureService()
        let matrix = try service.compute(try service.prepare(body))
        let files = try ZipReader.storedEntries(FeatureResponseEncoder.encode(matrix, format: .npz))
        let (gshape, _) = try NpyReader.read(files["gradient_values.npy"]!, descr: "<f8")
        XCTAssertEqual(gshape, [8, 3, matrix.columnCount], "one entry per atom of the one structure")
    }

    func testJSONRoundTripsEveryDoubleExactly() throws {
        let (body, _) = try request("public_d1_si8_gradients.json", type: "power_spectrum", gradients: true)
        let service = FeatureService()
        let matrix = try service.compute(try service.prepare(body))
        let bytes = FeatureResponseEncoder.encode(matrix, format: .json)
        // Read back with soapd's own reader, which parses doubles exactly.
        guard case .object(let response) = try JSON.parse(bytes) else { return XCTFail("not an object") }
        func flatten(_ v: JSONValue?) -> [Double] {
            switch v {
            case .array(let items)?: return items.flatMap { flatten($0) }
            case .number(let x)?: return [x]
            default: return []
            }
        }
        func mismatches(_ a: [Double], _ b: [Double]) -> Int {
            zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count + abs(a.count - b.count)
        }
        XCTAssertEqual(mismatches(flatten(response["values"]), matrix.values), 0)
        guard case .object(let gradients)? = response["gradients"] else { return XCTFail("no gradients") }
        XCTAssertEqual(mismatches(flatten(gradients["values"]), matrix.gradientValues!), 0)
    }

    func testPerStructure() throws {
        let (body, _) = try request("public_c_molecules.json", type: "power_spectrum", per: "structure")
        let (atomBody, _) = try request("public_c_molecules.json", type: "power_spectrum")
        let service = FeatureService()
        let perStructure = try service.compute(try service.prepare(body))
        let perAtom = try service.compute(try service.prepare(atomBody))
        XCTAssertNil(perStructure.centerTypes)
        XCTAssertEqual(perStructure.samples.names, ["structure"])
        XCTAssertEqual(perStructure.rowCount, 5)
        let cols = perAtom.columnCount
        var sums = [Double](repeating: 0, count: 5 * cols)
        for row in 0..<perAtom.rowCount {
            let s = Int(perAtom.samples.values[2 * row])
            for c in 0..<cols { sums[s * cols + c] += perAtom.values[row * cols + c] }
        }
        for k in sums.indices { XCTAssertEqual(perStructure.values[k], sums[k], accuracy: 1e-12) }
        let json =
            try JSONSerialization.jsonObject(with: Data(FeatureResponseEncoder.encode(perStructure, format: .json)))
            as! [String: Any]
        XCTAssertNil(json["center_types"])
    }

    func testNpzWrittenInPiecesEqualsBufferAndAnnouncedSize() throws {
        var archive = NumpyArchive()
        var rng = SystemRandomNumberGenerator()
        // Large enough for the background CRC, plus small entries computed inline.
        archive.add("values", shape: [3 << 17], .float64((0..<(3 << 17)).map { _ in Double.random(in: -1...1, using: &rng) }))
        archive.add("names", shape: [2], .strings(["n", "l_1"]))
        var pieces: [[UInt8]] = []
        try archive.writeNPZ { pieces.append(Array($0)) }
        let joined = pieces.flatMap { $0 }
        XCTAssertGreaterThan(pieces.count, 5)
        XCTAssertEqual(joined, archive.npz())
        XCTAssertEqual(joined.count, archive.npzSize)
        let files = try ZipReader.storedEntries(joined)  // checks every CRC against the data
        XCTAssertEqual(Set(files.keys), ["values.npy", "names.npy"])
        XCTAssertEqual(Array(files["values.npy"]!), NumpyArchive.npy(archive.entries[0]))
    }

    func testCorruptedNpzFailsTheCRCCheck() throws {
        var archive = NumpyArchive()
        archive.add("values", shape: [4], .float64([1, 2, 3, 4]))
        var bytes = archive.npz()
        XCTAssertNoThrow(try ZipReader.storedEntries(bytes))
        bytes[30 + 10 + 128 + 3] ^= 1  // a data byte (local header, name, npy header)
        XCTAssertThrowsError(try ZipReader.storedEntries(bytes))
    }

    func testNpzReadsBack() throws {
        let (body, _) = try request("public_d2_ethanol_gradients.json", type: "power_spectrum", gradients: true)
        let service = FeatureService()
        let matrix = try service.compute(try service.prepare(body))
        let archive = FeatureResponseEncoder.encode(matrix, format: .npz)
        let files = try ZipReader.storedEntries(archive)
        XCTAssertEqual(
            Set(files.keys),
            [
                "samples.npy", "sample_names.npy", "properties.npy", "property_names.npy", "values.npy",
                "center_types.npy", "gradient_samples.npy", "gradient_values.npy",
            ])
        let (shape, data) = try NpyReader.read(files["values.npy"]!, descr: "<f8")
        XCTAssertEqual(shape, [matrix.rowCount, matrix.columnCount])
        XCTAssertEqual(data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }, matrix.values)
        let (gshape, gdata) = try NpyReader.read(files["gradient_values.npy"]!, descr: "<f8")
        XCTAssertEqual(gshape, [matrix.gradientSamples!.count, 3, matrix.columnCount])
        XCTAssertEqual(gdata.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }, matrix.gradientValues!)
        let (pshape, _) = try NpyReader.read(files["properties.npy"]!, descr: "<i4")
        XCTAssertEqual(pshape, [matrix.columnCount, 5])
        let (nshape, _) = try NpyReader.read(files["property_names.npy"]!, descr: "<U15")
        XCTAssertEqual(nshape, [5])
    }
}

/// Minimal readers for the archive format, to check what numpy will see: entries are found
/// through the central directory (as Python's zipfile does) and every CRC is checked, in the
/// central directory and in the data descriptor after the data.
enum ZipReader {
    struct Failure: Error {}
    static func storedEntries(_ zip: [UInt8]) throws -> [String: [UInt8]] {
        func u16(_ o: Int) throws -> Int {
            guard o >= 0, o + 2 <= zip.count else { throw Failure() }
            return Int(zip[o]) | Int(zip[o + 1]) << 8
        }
        func u32(_ o: Int) throws -> Int { try u16(o) | u16(o + 2) << 16 }
        let end = zip.count - 22
        guard try u32(end) == 0x0605_4b50 else { throw Failure() }
        let count = try u16(end + 10)
        var c = try u32(end + 16)
        var files: [String: [UInt8]] = [:]
        for _ in 0..<count {
            guard try u32(c) == 0x0201_4b50, try u16(c + 10) == 0 else { throw Failure() }  // stored
            let crc = try u32(c + 16)
            let size = try u32(c + 20)
            let nameLength = try u16(c + 28)
            let extra = try u16(c + 30)
            let comment = try u16(c + 32)
            let offset = try u32(c + 42)
            let name = String(decoding: zip[(c + 46)..<(c + 46 + nameLength)], as: UTF8.self)
            guard try u32(offset) == 0x0403_4b50, try u16(offset + 26) == nameLength else { throw Failure() }
            let start = offset + 30 + nameLength + (try u16(offset + 28))
            guard start + size + 16 <= zip.count else { throw Failure() }
            let data = Array(zip[start..<(start + size)])
            let actual = data.withUnsafeBytes { Int(NumpyArchive.serialCRC(0, $0)) }
            guard actual == crc else { throw Failure() }
            if try u16(offset + 6) & 0x08 != 0 {  // data descriptor
                guard try u32(start + size) == 0x0807_4b50, try u32(start + size + 4) == crc,
                    try u32(start + size + 8) == size
                else { throw Failure() }
            }
            files[name] = data
            c += 46 + nameLength + extra + comment
        }
        return files
    }
}

enum NpyReader {
    struct Failure: Error {}
    static func read(_ file: [UInt8], descr: String) throws -> ([Int], [UInt8]) {
        guard file.count > 10, file[0] == 0x93, String(decoding: file[1..<6], as: UTF8.self) == "NUMPY" else { throw Failure() }
        let headerLength = Int(file[8]) | Int(file[9]) << 8
        guard (10 + headerLength) % 64 == 0 else { throw Failure() }
        let header = String(decoding: file[10..<(10 + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '\(descr)'"), header.hasSuffix("\n") else { throw Failure() }
        let shapeText = header.split(separator: "(")[1].split(separator: ")")[0]
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return (shape, Array(file[(10 + headerLength)...]))
    }
}
