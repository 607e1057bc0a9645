import Foundation

/// How far a run is through its data, counted one way everywhere (console, metrics.jsonl,
/// checkpoints, `lstm inspect`, the summary and TensorBoard): the epochs trained, whole epochs
/// plus the part of the current one. Step 441 of a run with 81 minibatches per epoch is
/// epoch 5.44; the end of the third epoch is 3.00, also once the next one has begun.
public enum Epochs {
    /// `epoch` whole epochs done plus `position` of `perEpoch` minibatches of the next, to 4 decimals.
    public static func trained(epoch: Int, position: Int, perEpoch: Int) -> Double {
        let exact = Double(epoch) + (perEpoch > 0 ? Double(position) / Double(perEpoch) : 0)
        return (exact * 10_000).rounded() / 10_000
    }

    /// "5.44": how the console, the summary and `lstm inspect` show an epoch count.
    public static func text(_ epochs: Double) -> String { String(format: "%.2f", epochs) }
}
