import Foundation

// The prediction layer y = F(W^y h + b^y) (eq. 7, with the sum over h's index j:
// y_i = F(Σ_j W^y_ij h_j + b^y_i)), its losses, and its backward (eqs. 21, 22, 14's first term).
//
// Shapes: N prediction rows (T·B for the `sequence` head, time-major; B for `last`), O outputs.

/// Maps prediction rows to batch-major target rows and marks padding rows, without closures.
struct PredictionRows {
    /// B; 0 for the `last` head (prediction row r is target row r).
    let batch: Int
    /// T (sequence head).
    let steps: Int
    /// L_b per sequence, or nil when every row is valid.
    let lengths: [Int]?

    /// Every row valid and the identity map (the `last` head, or inference).
    static let all = PredictionRows(batch: 0, steps: 0, lengths: nil)

    /// The target row of time-major prediction row r = s·B + b: row b·T + s of the targets.
    @inline(__always)
    func target(_ r: Int) -> Int { batch == 0 ? r : (r % batch) * steps + r / batch }

    /// Whether prediction row r is a real step (not padding past its sequence's length).
    @inline(__always)
    func isValid(_ r: Int) -> Bool {
        guard let lengths else { return true }
        return r / batch < lengths[r % batch]
    }
}

/// Forward, loss and backward of the output layer.
enum OutputLayer {
    /// Eq. 7: Z = H W^yᵀ + b^y, (N, H)·(H, O); then Y = F(Z) row by row.
    ///
    /// With softmax + cross-entropy targets the loss is fused into the softmax pass and returned
    /// (summed over valid rows); otherwise the return value is 0 and `lossSum` gives the loss.
    @inline(__always)
    @discardableResult
    static func forward<T: LSTMScalar>(
        weight: Matrix<T>, bias: UnsafeMutablePointer<T>, h: Matrix<T>,
        z: Matrix<T>, y: Matrix<T>, activation: OutputActivation,
        classes: UnsafeBufferPointer<Int32>? = nil, rows: PredictionRows = .all
    ) -> Double {
        gemm(h, weight, transposeB: true, into: z)
        let o = z.cols
        var total = 0.0
        for r in 0..<z.rows {
            let zr = z.base + r * z.stride
            let yr = y.base + r * y.stride
            if activation == .softmax {
                var k = -1
                if let classes, rows.isValid(r) {
                    k = Int(classes[rows.target(r)])
                    precondition(k >= 0 && k < o, "class id \(k) out of range 0..<\(o)")
                }
                total += T.lstmSoftmaxRow(z: zr, bias: bias, y: yr, count: o, target: k)
                continue
            }
            for j in 0..<o { zr[j] += bias[j] }
            switch activation {
            case .identity: yr.update(from: zr, count: o)
            case .sigmoid: for j in 0..<o { yr[j] = T.sigmoid(zr[j]) }
            case .tanh: for j in 0..<o { yr[j] = T.tanh(zr[j]) }
            case .softmax: break  // handled above
            }
        }
        return total
    }

    /// One row of eq. 7's softmax, z += b in place, and (if `target` ≥ 0) its cross-entropy
    /// −log softmax(z)[k] = logsumexp(z) − z_k in Double from the logits: the plain reference
    /// loop (Double uses it; Float's SIMD kernel is tested against it). Shapes: z, bias, y (O).
    @inline(__always)
    static func softmaxRowReference<T: LSTMScalar>(
        z zr: UnsafeMutablePointer<T>, bias: UnsafeMutablePointer<T>, y yr: UnsafeMutablePointer<T>,
        count o: Int, target k: Int
    ) -> Double {
        for j in 0..<o { zr[j] += bias[j] }
        var mx = zr[0]
        for j in 1..<o { mx = max(mx, zr[j]) }
        var sum: T = 0
        for j in 0..<o {
            let e = T.exp(zr[j] - mx)
            yr[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<o { yr[j] *= inv }
        guard k >= 0 else { return 0 }
        var mxd = Double(zr[0])
        for j in 1..<o { mxd = max(mxd, Double(zr[j])) }
        var s = 0.0
        for j in 0..<o { s += Foundation.exp(Double(zr[j]) - mxd) }
        return mxd + Foundation.log(s) - Double(zr[k])
    }

    /// dz = (y − t)·scale over one row (O), or y·scale when `t` is nil: the plain reference loop.
    @inline(__always)
    static func scaledDifferenceReference<T: LSTMScalar>(
        _ y: UnsafeMutablePointer<T>, _ t: UnsafePointer<T>?, scale: T,
        into dz: UnsafeMutablePointer<T>, count o: Int
    ) {
        if let t {
            for j in 0..<o { dz[j] = (y[j] - t[j]) * scale }
        } else {
            for j in 0..<o { dz[j] = y[j] * scale }
        }
    }

    /// The loss summed over all target elements (divide by the element count for the mean).
    ///
    /// Softmax + cross-entropy is normally fused into `forward`; this is its reference for tests.
    /// - Parameter rows: maps prediction row r to its row in the (batch-major) targets.
    static func lossSum<T: LSTMScalar>(
        z: Matrix<T>, y: Matrix<T>, loss: LossKind, targets: MinibatchView<T>.Targets, rows: PredictionRows
    ) -> Double {
        let o = z.cols
        var total = 0.0
        switch (loss, targets) {
        case (.crossEntropy, .classes(let ids)):
            // −log softmax(z)[k] = logsumexp(z) − z_k, computed in Double from the logits.
            for r in 0..<z.rows where rows.isValid(r) {
                let zr = z.base + r * z.stride
                let k = Int(ids[rows.target(r)])
                precondition(k >= 0 && k < o, "class id \(k) out of range 0..<\(o)")
                var mx = Double(zr[0])
                for j in 1..<o { mx = max(mx, Double(zr[j])) }
                var s = 0.0
                for j in 0..<o { s += Foundation.exp(Double(zr[j]) - mx) }
                total += mx + Foundation.log(s) - Double(zr[k])
            }
        case (.mse, .values(let v)):
            for r in 0..<z.rows where rows.isValid(r) {
                let yr = y.base + r * y.stride
                let tr = rows.target(r) * o
                for j in 0..<o {
                    let d = Double(yr[j]) - Double(v[tr + j])
                    total += d * d
                }
            }
        case (.bce, .values(let v)):
            // −[t log σ(z) + (1−t) log(1−σ(z))] = max(z, 0) − z t + log(1 + e^−|z|), stable for any z.
            for r in 0..<z.rows where rows.isValid(r) {
                let zr = z.base + r * z.stride
                let tr = rows.target(r) * o
                for j in 0..<o {
                    let zj = Double(zr[j])
                    let tj = Double(v[tr + j])
                    total += max(zj, 0) - zj * tj + Foundation.log1p(Foundation.exp(-abs(zj)))
                }
            }
        default:
            preconditionFailure("loss \(loss.rawValue) does not take these targets")
        }
        return total
    }

    /// δz = ∂L/∂z for the mean loss over `normalizer` elements, written into `dz`.
    ///
    /// Softmax + cross-entropy and sigmoid + BCE give ŷ − target directly (the per-element
    /// "δy ⊙ dF/dx" holds only for elementwise F); MSE uses δy = 2(y − t) times F′, with the
    /// softmax Jacobian y ⊙ (δy − ⟨δy, y⟩) when F is softmax.
    static func lossGradient<T: LSTMScalar>(
        y: Matrix<T>, dz: Matrix<T>, loss: LossKind, activation: OutputActivation,
        targets: MinibatchView<T>.Targets, rows: PredictionRows, normalizer: Int
    ) {
        let o = y.cols
        let scale = 1 / T(normalizer)
        for r in 0..<y.rows {
            let yr = y.base + r * y.stride
            let dr = dz.base + r * dz.stride
            guard rows.isValid(r) else {  // padding: no loss, no gradient
                dr.update(repeating: 0, count: o)
                continue
            }
            switch (loss, targets) {
            case (.crossEntropy, .classes(let ids)):
                T.lstmScaledDifference(yr, nil, scale: scale, into: dr, count: o)  // ŷ − t, t one-hot
                dr[Int(ids[rows.target(r)])] -= scale
            case (.bce, .values(let v)):
                T.lstmScaledDifference(
                    yr, v.baseAddress.map { $0 + rows.target(r) * o }, scale: scale, into: dr, count: o)
            case (.mse, .values(let v)):
                let tr = rows.target(r) * o
                for j in 0..<o { dr[j] = 2 * (yr[j] - v[tr + j]) * scale }  // δy
                switch activation {  // ⊙ F′(z), eqs. 12, 21, 22
                case .identity: break
                case .sigmoid: for j in 0..<o { dr[j] *= yr[j] * (1 - yr[j]) }
                case .tanh: for j in 0..<o { dr[j] *= 1 - yr[j] * yr[j] }
                case .softmax:
                    var dot: T = 0
                    for j in 0..<o { dot += dr[j] * yr[j] }
                    for j in 0..<o { dr[j] = yr[j] * (dr[j] - dot) }
                }
            default:
                preconditionFailure("loss \(loss.rawValue) does not take these targets")
            }
        }
    }

    /// Eqs. 21, 22 and the first term of 14, all rows at once:
    /// δW^y += δZᵀ H, δb^y += Σ_rows δZ, δH = δZ W^y.
    @inline(__always)
    static func backward<T: LSTMScalar>(
        weight: Matrix<T>, gradWeight: Matrix<T>, gradBias: UnsafeMutablePointer<T>,
        h: Matrix<T>, dz: Matrix<T>, dH: Matrix<T>
    ) {
        gemm(dz, transposeA: true, h, into: gradWeight, beta: 1)  // eq. 21, (O, N)·(N, H)
        addColumnSums(dz, into: gradBias)  // eq. 22
        gemm(dz, weight, into: dH)  // eq. 14, first term, (N, O)·(O, H)
    }
}
