/// An invalid structure; `field` is a path below `structures/<structure>`.
public struct StructureError: Error, Equatable, Sendable, CustomStringConvertible {
    public var structure: Int
    public var field: String
    public var message: String
    public init(structure: Int, field: String, message: String) {
        self.structure = structure
        self.field = field
        self.message = message
    }
    public var description: String { "structures/\(structure)/\(field): \(message)" }
}
