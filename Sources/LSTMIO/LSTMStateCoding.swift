import LSTMKit

/// The carried (h, c) of a stateful stream as JSON, so a run's state saved with a checkpoint
/// (its data cursor) resumes the stream bit for bit.
extension LSTMState: Codable where T == Float {
    enum CodingKeys: String, CodingKey { case h, c }

    /// Decodes `{"h": [[Float]], "c": [[Float]]}`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(h: try c.decode([[Float]].self, forKey: .h), c: try c.decode([[Float]].self, forKey: .c))
    }

    /// Encodes `{"h": [[Float]], "c": [[Float]]}`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(h, forKey: .h)
        try c.encode(self.c, forKey: .c)
    }
}
