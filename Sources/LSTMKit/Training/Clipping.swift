import Foundation

// Gradient clipping over the whole gradient arena, as torch.nn.utils' `clip_grad_norm_`
// (norm_type 2, all parameters in one group) and `clip_grad_value_`.
// The plain @_specialize pairs make generic callers (Trainer<T>) reach the Float/Double
// bodies too; see Optimizers.swift.
// For Float the three passes are spelled out on SIMD vectors (the norm's summation order is
// the scalar loop's, so the norm is bitwise the same); the scalar loops stay the reference,
// run Double and the tails, and are selected for Float by `GradientClipping.scalarReference` (SPI).

/// Switches for the clipping kernels.
@_spi(Reference) public enum GradientClipping {
    /// Run the scalar reference loops for Float too (tests compare them with the SIMD passes).
    nonisolated(unsafe) public static var scalarReference = false
}

/// The same memory seen as Float, once `T == Float` has been checked.
@inline(__always)
private func asFloat<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

/// Whether the Float SIMD passes apply to element type `T`.
@inline(__always)
private func simdFloat<T>(_: T.Type) -> Bool { T.self == Float.self && !GradientClipping.scalarReference }

/// Scales `grads` so that its global L2 norm is at most `maxNorm`, as torch's
/// `clip_grad_norm_(params, max_norm)`; returns the norm before clipping:
///
///     ‖g‖ = √(Σᵢ gᵢ²)  (accumulated in Double),  c = maxNorm / (‖g‖ + 1e-6),  g ← c·g if c < 1
///
/// As in torch, a non-finite norm is not an error: a NaN norm makes c NaN and every gradient
/// NaN, an infinite one makes c = 0. Pass `knownNorm` when the caller already has ‖g‖.
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
@discardableResult
public func clipGradientNorm<T: LSTMScalar>(_ grads: ParameterSet<T>, maxNorm: Double, knownNorm: Double? = nil) -> Double {
    precondition(maxNorm >= 0, "maxNorm must be ≥ 0, got \(maxNorm)")
    let norm = knownNorm ?? gradientNorm(grads)
    let coefficient = maxNorm / (norm + 1e-6)
    if !(coefficient >= 1) {  // c < 1, or NaN (torch's clamp(c, max=1) keeps NaN)
        let g = grads.storage.base, f = T(coefficient), n = grads.count
        var i = 0
        if simdFloat(T.self) {
            let gf = asFloat(g), ff = Float(coefficient)
            while i + 8 <= n {
                let raw = UnsafeMutableRawPointer(gf + i)
                raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self) * ff, as: SIMD8<Float>.self)
                i += 8
            }
        }
        while i < n {
            g[i] *= f
            i += 1
        }
    }
    return norm
}

/// Global L2 norm √(Σᵢ gᵢ²) of a gradient arena, accumulated in Double (NaN or ∞ if any
/// element is).
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
public func gradientNorm<T: LSTMScalar>(_ grads: ParameterSet<T>) -> Double {
    let g = grads.storage.base, n = grads.count
    // Four independent partial sums, sᵣ over i ≡ r (mod 4), the tail into s₀: short dependency
    // chains, small rounding error, and one fixed order whatever the thread count.
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var i = 0
    if simdFloat(T.self) {
        // The same four sums as lanes of one SIMD4<Double>, eight Floats a load, in the same order.
        let gf = UnsafeRawPointer(asFloat(g))
        var s = SIMD4<Double>()
        while i + 8 <= n {
            let x = gf.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            let lo = SIMD4<Double>(x.lowHalf), hi = SIMD4<Double>(x.highHalf)
            s += lo * lo
            s += hi * hi
            i += 8
        }
        (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3])
    }
    while i + 4 <= n {
        let a = Double(g[i]), b = Double(g[i + 1]), c = Double(g[i + 2]), d = Double(g[i + 3])
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
@_specialize(exported: true, where T == Float)
@_specialize(exported: true, where T == Double)
@_specialize(where T == Float)
@_specialize(where T == Double)
public func clipGradientValue<T: LSTMScalar>(_ grads: ParameterSet<T>, clipValue: Double) {
    precondition(clipValue >= 0, "clipValue must be ≥ 0, got \(clipValue)")
    let g = grads.storage.base, v = T(clipValue), n = grads.count
    var i = 0
    if simdFloat(T.self) {
        // Not `-hi`: SIMD negation is 0 − x, which turns −0 into +0 where the scalar −v keeps it.
        let gf = asFloat(g), v8 = Float(clipValue)
        let hi = SIMD8<Float>(repeating: v8), lo = SIMD8<Float>(repeating: -v8)
        while i + 8 <= n {
            let raw = UnsafeMutableRawPointer(gf + i)
            let x = raw.loadUnaligned(as: SIMD8<Float>.self)
            // x > v ? v : (x < −v ? −v : x), lane by lane; NaN fails both tests and stays.
            let y = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
            raw.storeBytes(of: y, as: SIMD8<Float>.self)
            i += 8
        }
    }
    while i < n {
        let x = g[i]
        g[i] = x > v ? v : (x < -v ? -v : x)
        i += 1
    }
}
