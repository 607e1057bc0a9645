/// The largest sizes a model or a run may ask for: the one table of bounds that
/// `ModelConfig.validate()` and the config reader (LSTMRun) check, before any size reaches an
/// initializer (docs/config.md lists them). Far above anything trainable on one machine, they
/// keep every size product in the parameter layout and the memory plan within Int; whether a
/// run within the bounds fits in memory is the memory plan's question (LSTMRun.MemoryPlan).
public enum SizeBounds {
    /// H, per layer.
    public static let hiddenSize = 1 << 16
    /// L.
    public static let numLayers = 256
    /// I, the feature width.
    public static let inputSize = 1 << 20
    /// V, the vocabulary.
    public static let vocabularySize = 1 << 24
    /// E, the embedding width.
    public static let embeddingSize = 1 << 16
    /// O.
    public static let outputSize = 1 << 24
    /// B, sequences per minibatch.
    public static let batchSize = 1 << 20
    /// T, steps per window of a token stream.
    public static let seqLength = 1 << 20
    /// S and W, shards and worker threads.
    public static let shards = 1024
    /// Values (sequences × steps) a generated split may hold.
    public static let generatedSamples = 1 << 28

    /// "hidden_size must be ≤ 65536 (got 1000000000000)" when `value` is outside 1...`max`.
    public static func problem(_ name: String, _ value: Int, max: Int) -> String? {
        if value < 1 { return "\(name) must be ≥ 1 (got \(value))" }
        if value > max { return "\(name) must be ≤ \(max) (got \(value))" }
        return nil
    }
}
