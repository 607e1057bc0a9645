import Foundation

// Gradient clipping over the whole gradient arena, as torch.nn.utils' `clip_grad_norm_`
// (norm_type 2, all parameters in one group) and `clip_grad_value_`.
// The plain @_specialize pairs make generic callers (Trainer<T>) reach the Float/Double
// bodies too; see Optimizer.swift.
// All three loops vectorise for Float as written (release disassembly: cvtps2pd/mulpd/addpd for
// the norm, mulps for the scaling, andps/andnps/orps selects for the clamp), so unlike the
// optimizers they need no explicit SIMD pass. The norm's summation order is fixed by the code
// (per block of 256 elements four strided partial sums, then the blocks in order: see
// `gradientNorm`), whatever the thread or process count.

/// Scales `grads` so that its global L2 norm is at most `maxNorm`, as torch's
/// `clip_grad_norm_(params, max_norm)`; returns the norm before clipping:
///
///     ‖g‖ = √(Σᵢ gᵢ²)  (accumulated in Double),  c = maxNorm / (‖g‖ + 1e-6),  g ← c·g if c < 1
///
/// As in torch, a non-finite norm is not an error: a NaN norm makes c NaN and every gradient
/// NaN, an infinite one makes c = 0. Pass `knownNorm` when the caller already has ‖g‖, and
/// `range` to scale only those elements (one rank's slice; the norm must then be known).
@_specialize(exported:true,where T == Float)
@_specialize(exported:true,where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
@discardableResult
public func clipGradientNorm<T: LSTMScalar>(
    _ grads: ParameterSet<T>, maxNorm: Double, knownNorm: Double? = nil, range: Range<Int>? = nil
) -> Double {
    precondition(maxNorm >= 0, "maxNorm must be ≥ 0, got \(maxNorm)")
    let norm = knownNorm ?? gradientNorm(grads)
    let coefficient = maxNorm / (norm + 1e-6)
    if !(coefficient >= 1) {  // c < 1, or NaN (torch's clamp(c, max=1) keeps NaN)
        let g = grads.storage.base
        let f = T(coefficient)
        for i in range ?? 0..<grads.count { g[i] *= f }
    }
    return norm
}

/// Global L2 norm √(Σᵢ gᵢ²) of a gradient arena, accumulated in Double (NaN or ∞ if any
/// element is). The order is fixed by blocks of `ArenaSlices.block` elements: each block's sum
/// of squares (`blockSumOfSquares`), then the block sums added in block order. So ranks holding
/// different slices of the arena get the one-process norm from their blocks' sums (`Trainer`).
@_specialize(exported:true,where T == Float)
@_specialize(exported:true,where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gradientNorm<T: LSTMScalar>(_ grads: ParameterSet<T>) -> Double {
    let blocks = ArenaSlices(count: grads.count, worldSize: 1).blocks
    var total = 0.0
    for b in 0..<blocks { total += blockSumOfSquares(grads.storage.base, count: grads.count, block: b) }
    return total.squareRoot()
}

/// Σ g² over block `b` (elements b·256 ..< min((b+1)·256, count)) of the arena at `g`, in Double.
@inline(__always)
func blockSumOfSquares<T: LSTMScalar>(_ g: UnsafeMutablePointer<T>, count: Int, block b: Int) -> Double {
    let end = min(count, (b + 1) * ArenaSlices.block)
    // Four independent partial sums: the loop vectorises and the rounding error stays small.
    var s0 = 0.0
    var s1 = 0.0
    var s2 = 0.0
    var s3 = 0.0
    var i = b * ArenaSlices.block
    while i + 4 <= end {
        let a = Double(g[i])
        let b = Double(g[i + 1])
        let c = Double(g[i + 2])
        let d = Double(g[i + 3])
        s0 += a * a
        s1 += b * b
        s2 += c * c
        s3 += d * d
        i += 4
    }
    while i < end {
        let a = Double(g[i])
        s0 += a * a
        i += 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// Each block's sum of squares (`gradientNorm`'s order) for the blocks in `blocks`, into
/// `out[b]`: one rank's part of the global norm. With `workers` > 1 the blocks are split over up to
/// that many threads (`ArenaSlices.threads`); each block's sum is the same.
@_specialize(exported:true,where T == Float)
@_specialize(exported:true,where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
public func blockSumsOfSquares<T: LSTMScalar>(
    _ grads: ParameterSet<T>, blocks: Range<Int>, into out: UnsafeMutablePointer<Double>, workers: Int = 1
) {
    let w = ArenaSlices.threads(elements: blocks.count * ArenaSlices.block, workers: workers)
    let shared = SharedPointer(out)
    runWorkers(w) { k in
        let n = blocks.count
        for b in (blocks.lowerBound + k * n / w)..<(blocks.lowerBound + (k + 1) * n / w) {
            shared.pointer[b] = blockSumOfSquares(grads.storage.base, count: grads.count, block: b)
        }
    }
}

/// Clamps every gradient to [−clipValue, clipValue], as torch's `clip_grad_value_`:
/// gᵢ ← min(max(gᵢ, −v), v), for the elements in `range` (default: all). NaNs stay NaN.
@_specialize(exported:true,where T == Float)
@_specialize(exported:true,where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
public func clipGradientValue<T: LSTMScalar>(_ grads: ParameterSet<T>, clipValue: Double, range: Range<Int>? = nil) {
    precondition(clipValue >= 0, "clipValue must be ≥ 0, got \(clipValue)")
    let g = grads.storage.base
    let v = T(clipValue)
    for i in range ?? 0..<grads.count {
        let x = g[i]
        g[i] = x > v ? v : (x < -v ? -v : x)
    }
}
