import LSTMKit

/// `lstm resume --accumulate K′`: the same minibatch and shards, cut another way (docs/config.md,
/// "Gradient accumulation"). Pure: it reads only the config.
extension RunConfig {
    /// The `--set` overrides that run this config on with `training.accumulate: k`: the same minibatch
    /// (K·B sequences) and the same shards (K·S₁), cut into k micro-batches and k rounds.
    func overrides(accumulate k: Int, directory: String) throws -> [String] {
        let k0 = training.accumulate
        let b0 = data.batchSize
        let global = k0 * b0
        let was = "the run's minibatch of \(global) sequence(s) (training.accumulate \(k0) × data.batch_size \(b0))"
        guard (1...SizeBounds.shards).contains(k) else {
            throw RunError("--accumulate must be in 1...\(SizeBounds.shards) (got \(k))")
        }
        guard global % k == 0 else {
            let ks = (1...global).filter { global % $0 == 0 && $0 <= SizeBounds.shards }.map(String.init)
            throw RunError(
                "\(directory): \(was) cannot be cut into \(k) equal micro-batches; --accumulate must divide \(global) (one of \(ks.joined(separator: ", ")))"
            )
        }
        guard let s0 = parallel.shards else {
            throw RunError(
                "\(directory): the run leaves parallel.shards to its default, so the shard count its bits depend on is not pinned in its config; --accumulate keeps the bits only for a run started with parallel.shards set (then S × accumulate stays the same)"
            )
        }
        guard (k0 * s0) % k == 0 else {
            throw RunError(
                "\(directory): the run's \(k0 * s0) shard(s) (training.accumulate \(k0) × parallel.shards \(s0)) cannot be cut into \(k) rounds; --accumulate must divide \(k0 * s0)"
            )
        }
        return ["training.accumulate=\(k)", "data.batch_size=\(global / k)", "parallel.shards=\(k0 * s0 / k)"]
    }
}
