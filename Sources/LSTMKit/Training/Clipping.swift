import Foundation

// Gradient clipping over the whole gradient arena, as torch.nn.utils' `clip_grad_norm_`
// (norm_type 2, all parameters in one group) and `clip_grad_value_`.
// The plain @_specialize pairs make generic callers (Trainer<T>) reach the Float/Double
// bodies too; see Optimizer.swift.
// All three loops vectorise for Float as written (release disassembly: cvtps2pd/mulpd/addpd for
// the norm, mulps for the scaling, andps/andnps/orps selects for the clamp), so unlike the
// optimizers they need no explicit SIMD pass. The norm's summation order is fixed by the code
// (four strided partial sums, see `gradientNorm`), single-threaded, whatever the thread count.

/// Scales `grads` so that its global L2 norm is at most `maxNorm`, as torch's
/// `clip_grad_norm_(params, max_norm)`; returns the norm before clipping:
///
///     ‖g‖ = √(Σᵢ gᵢ²)  (accumulated in Double),  c = maxNorm / (‖g‖ + 1e-6),  g ← c·g if c < 1
///
/// As in torch, a non-finite norm is not an error: a NaN norm makes c NaN and every gradient
/// NaN, an infinite one makes c = 0. Pass `knownNorm` when the caller already has ‖g‖.
@_specialize(exported:true,where T == Float)
@_specialize(exported:true,where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
@discardableResult
public func clipGradientNorm<T: LSTMScalar>(_ grads: ParameterSet<T>, maxNorm: Double, knownNorm: Double? = nil)
    -> Double
{
    precondition(maxNorm >= 0, "maxNorm must be ≥ 0, got \(maxNorm)")
    let norm = knownNorm ?? gradientNorm(grads)
    let coefficient = maxNorm / (norm + 1e-6)
    if !(coefficient >= 1) {  // c < 1, or NaN (torch's clamp(c, max=1) keeps NaN)
        let g = grads.storage.base
        let f = T(coefficient)
        for i in 0..<grads.count { g[i] *= f }
    }
    return norm
}

/// Global L2 norm √(Σᵢ gᵢ²) of a gradient arena, accumulated in Double (NaN or ∞ if any
/// element is).
@_specialize(exported:true,where T == Float)
@_specialize(exported:true,where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gradientNorm<T: LSTMScalar>(_ grads: ParameterSet<T>) -> Double {
    let g = grads.storage.base
    let n = grads.count
    // Four independent partial sums: the loop vectorises and the rounding error stays small.
    var s0 = 0.0
    var s1 = 0.0
    var s2 = 0.0
    var s3 = 0.0
    var i = 0
    while i + 4 <= n {
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
    while i < n {
        let a = Double(g[i])
        s0 += a * a
        i += 1
    }
    return ((s0 + s1) + (s2 + s3)).squareRoot()
}

/// Clamps every gradient to [−clipValue, clipValue], as torch's `clip_grad_value_`:
/// gᵢ ← min(max(gᵢ, −v), v). NaNs stay NaN.
@_specialize(exported:true,where T == Float)
@_specialize(exported:true,where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
public func clipGradientValue<T: LSTMScalar>(_ grads: ParameterSet<T>, clipValue: Double) {
    precondition(clipValue >= 0, "clipValue must be ≥ 0, got \(clipValue)")
    let g = grads.storage.base
    let v = T(clipValue)
    for i in 0..<grads.count {
        let x = g[i]
        g[i] = x > v ? v : (x < -v ? -v : x)
    }
}
