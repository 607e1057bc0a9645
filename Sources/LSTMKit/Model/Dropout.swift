/// Turns dropout on for a training forward pass; masks are a pure function of (seed, step,
/// layer, sequence index in the minibatch), so any shard or worker split draws the same masks.
public struct DropoutContext: Sendable, Equatable {
    public var seed: UInt64
    public var step: Int
    public init(seed: UInt64, step: Int) {
        self.seed = seed
        self.step = step
    }
}

/// The integer form of "drop when `nextUnit()` < p": a draw u = next() >> 11 (< 2⁵³) is dropped
/// when u < ⌈p·2⁵³⌉. nextUnit() is u·2⁻⁵³, exact in Double, and so is p·2⁵³ (a power-of-two
/// scaling), so u·2⁻⁵³ < p ⟺ u < ⌈p·2⁵³⌉: the same masks without an integer-to-Double
/// conversion and a floating-point compare per element.
@inline(__always)
func dropoutCut(_ p: Double) -> UInt64 { UInt64((p * 0x1p53).rounded(.up)) }

// Inverted dropout with masks drawn per sequence, so any shard or worker split draws the same masks.
extension LSTMNetwork {
    /// Inverted dropout on x (rows = steps·B, time-major), masks drawn per sequence.
    func applyDropout(
        slot: Int, _ x: Matrix<T>, steps tt: Int, _ ws: Workspace<T>, _ rowOffset: Int, _ ctx: DropoutContext
    ) -> Matrix<T> {
        let b = ws.batch
        let w = x.cols
        let p = config.dropout
        let mask = ws.dropMask[slot]!.base
        let out = ws.dropped[slot]!.base
        let keepScale = T(1 / (1 - p))
        let cut = dropoutCut(p)
        // Rows in memory order (step by step, each sequence's row in turn), each sequence's generator
        // kept in a stack buffer between its rows: every sequence draws the same values in the same
        // order as one generator run per sequence, while x, the mask and the output are streamed
        // front to back instead of at a stride of B rows (the arrays are larger than L2).
        withUnsafeTemporaryAllocation(of: RandomSource.self, capacity: b) { rngs in
            for r in 0..<b {
                rngs.initializeElement(
                    at: r, to: RandomSource(seed: dropoutSeed(ctx, slot: slot, sequence: rowOffset + r)))
            }
            for s in 0..<tt {
                for r in 0..<b {
                    var rng = rngs[r]
                    let mk = mask + (s * b + r) * w
                    let dst = out + (s * b + r) * w
                    let src = x.base + (s * b + r) * x.stride
                    for j in 0..<w {
                        let m: T = rng.next() >> 11 < cut ? 0 : keepScale
                        mk[j] = m
                        dst[j] = src[j] * m
                    }
                    rngs[r] = rng
                }
            }
        }
        return Matrix(out, rows: tt * b, cols: w)
    }

    /// One seed per (run seed, step, dropout slot, sequence), mixed SplitMix64-style.
    func dropoutSeed(_ ctx: DropoutContext, slot: Int, sequence: Int) -> UInt64 {
        @inline(__always) func mix(_ z: UInt64, _ v: UInt64) -> UInt64 {
            var z = (z ^ v) &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        // Three rounds, no array literal (this runs per sequence per step).
        return mix(mix(mix(ctx.seed, UInt64(truncatingIfNeeded: ctx.step)), UInt64(slot)), UInt64(sequence))
    }

    func multiply(_ m: Matrix<T>, by mask: Buffer<T>) {
        let w = m.cols
        for r in 0..<m.rows {
            let row = m.base + r * m.stride
            let mk = mask.base + r * w
            for j in 0..<w { row[j] *= mk[j] }
        }
    }
}
