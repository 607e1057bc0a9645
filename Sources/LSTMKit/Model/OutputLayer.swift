import Foundation

// The prediction layer y = F(W^y h + b^y) (eq. 7, with the sum over h's index j:
// y_i = F(Σ_j W^y_ij h_j + b^y_i)), its losses, and its backward (eqs. 21, 22, 14's first term).
//
// Shapes: N prediction rows (T·B for the `sequence` head, time-major; B for `last`), O outputs.

/// Forward, loss and backward of the output layer.
enum OutputLayer {
    /// Eq. 7: Z = H W^yᵀ + b^y, (N, H)·(H, O); then Y = F(Z) row by row.
    @inline(__always)
    static func forward<T: LSTMScalar>(
        weight: Matrix<T>, bias: UnsafeMutablePointer<T>, h: Matrix<T>,
        z: Matrix<T>, y: Matrix<T>, activation: OutputActivation
    ) {
        gemm(h, weight, transposeB: true, into: z)
        let o = z.cols
        for r in 0..<z.rows {
            let zr = z.base + r * z.stride, yr = y.base + r * y.stride
            for j in 0..<o { zr[j] += bias[j] }
            switch activation {
            case .identity: for j in 0..<o { yr[j] = zr[j] }
            case .sigmoid: for j in 0..<o { yr[j] = T.sigmoid(zr[j]) }
            case .tanh: for j in 0..<o { yr[j] = T.tanh(zr[j]) }
            case .softmax:
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
            }
        }
    }

    /// The loss summed over all target elements (divide by the element count for the mean).
    ///
    /// - Parameter targetRow: maps prediction row r to its row in the (batch-major) targets.
    static func lossSum<T: LSTMScalar>(
        z: Matrix<T>, y: Matrix<T>, loss: LossKind, targets: MinibatchView<T>.Targets,
        targetRow: (Int) -> Int, isValid: (Int) -> Bool
    ) -> Double {
        let o = z.cols
        var total = 0.0
        switch (loss, targets) {
        case (.crossEntropy, .classes(let ids)):
            // −log softmax(z)[k] = logsumexp(z) − z_k, computed in Double from the logits.
            for r in 0..<z.rows where isValid(r) {
                let zr = z.base + r * z.stride
                let k = Int(ids[targetRow(r)])
                precondition(k >= 0 && k < o, "class id \(k) out of range 0..<\(o)")
                var mx = Double(zr[0])
                for j in 1..<o { mx = max(mx, Double(zr[j])) }
                var s = 0.0
                for j in 0..<o { s += Foundation.exp(Double(zr[j]) - mx) }
                total += mx + Foundation.log(s) - Double(zr[k])
            }
        case (.mse, .values(let v)):
            for r in 0..<z.rows where isValid(r) {
                let yr = y.base + r * y.stride, tr = targetRow(r) * o
                for j in 0..<o {
                    let d = Double(yr[j]) - Double(v[tr + j])
                    total += d * d
                }
            }
        case (.bce, .values(let v)):
            // −[t log σ(z) + (1−t) log(1−σ(z))] = max(z, 0) − z t + log(1 + e^−|z|), stable for any z.
            for r in 0..<z.rows where isValid(r) {
                let zr = z.base + r * z.stride, tr = targetRow(r) * o
                for j in 0..<o {
                    let zj = Double(zr[j]), tj = Double(v[tr + j])
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
        targets: MinibatchView<T>.Targets, targetRow: (Int) -> Int, isValid: (Int) -> Bool, normalizer: Int
    ) {
        let o = y.cols
        let scale = 1 / T(normalizer)
        for r in 0..<y.rows {
            let yr = y.base + r * y.stride, dr = dz.base + r * dz.stride
            guard isValid(r) else {  // padding: no loss, no gradient
                dr.update(repeating: 0, count: o)
                continue
            }
            switch (loss, targets) {
            case (.crossEntropy, .classes(let ids)):
                for j in 0..<o { dr[j] = yr[j] * scale }
                dr[Int(ids[targetRow(r)])] -= scale
            case (.bce, .values(let v)):
                let tr = targetRow(r) * o
                for j in 0..<o { dr[j] = (yr[j] - v[tr + j]) * scale }
            case (.mse, .values(let v)):
                let tr = targetRow(r) * o
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
