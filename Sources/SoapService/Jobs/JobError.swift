import FastJSON

/// One structure the job could not featurize.
struct JobError: Equatable {
    var structure: Int
    var pointer: String
    var detail: String
}

enum JobErrorList {
    static func encode(_ errors: [JobError]) -> String {
        var w = JSONWriter(capacity: 64 * errors.count + 2)
        w.beginArray()
        for e in errors.sorted(by: { $0.structure < $1.structure }) { write(e, to: &w) }
        w.endArray()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func write(_ e: JobError, to w: inout JSONWriter) {
        w.beginObject()
        w.key("structure")
        w.integer(e.structure)
        w.key("pointer")
        w.string(e.pointer)
        w.key("detail")
        w.string(e.detail)
        w.endObject()
    }

    static func decode(_ text: String) -> [JobError] {
        guard case .array(let items)? = try? JSON.parse(Array(text.utf8)) else { return [] }
        return items.compactMap { item in
            guard case .object(let o) = item, let s = o["structure"]?.doubleValue else { return nil }
            return JobError(structure: Int(s), pointer: o["pointer"]?.stringValue ?? "", detail: o["detail"]?.stringValue ?? "")
        }
    }
}
