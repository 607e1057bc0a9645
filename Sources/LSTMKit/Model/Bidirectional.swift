// Bidirectional layers: the reverse direction reads each sequence reversed within its own length,
// so its padding also comes last; these helpers reverse inputs and split/join the directions.

extension LSTMNetwork {
    /// x̃⁽ˢ⁾ = x⁽ᴸ⁻¹⁻ˢ⁾ per sequence (zeros past its length): the reverse direction's input.
    func reverseInTime(_ x: Matrix<T>, into dst: Buffer<T>, _ ws: Workspace<T>) -> Matrix<T> {
        let b = ws.batch
        let t = ws.steps
        let w = x.cols
        for r in 0..<b {
            let len = ws.lengths[r]
            for s in 0..<t {
                let out = dst.base + (s * b + r) * w
                if s < len {
                    out.update(from: x.base + ((len - 1 - s) * b + r) * x.stride, count: w)
                } else {
                    out.update(repeating: 0, count: w)
                }
            }
        }
        return Matrix(dst.base, rows: t * b, cols: w)
    }

    /// Splits δ(layer output) (T·B, 2H) of a layer H wide into each direction's δh in processing order.
    func splitDirections(_ dOut: Buffer<T>, hidden h: Int, _ ws: Workspace<T>) {
        let b = ws.batch
        let t = ws.steps
        let f = ws.dirDH[0].base
        let rv = ws.dirDH[1].base
        for r in 0..<b {
            let len = ws.lengths[r]
            for s in 0..<t {
                (f + (s * b + r) * h).update(from: dOut.base + (s * b + r) * 2 * h, count: h)
                if s < len {
                    (rv + (s * b + r) * h).update(from: dOut.base + ((len - 1 - s) * b + r) * 2 * h + h, count: h)
                } else {
                    (rv + (s * b + r) * h).update(repeating: 0, count: h)
                }
            }
        }
    }

    /// δx (time-ordered) = δx of the forward direction + the reverse direction's δx un-reversed.
    func joinDirections(into dst: Buffer<T>, width w: Int, _ ws: Workspace<T>) {
        let b = ws.batch
        let t = ws.steps
        let f = ws.dirDX[0].base
        let rv = ws.dirDX[1].base
        for r in 0..<b {
            let len = ws.lengths[r]
            for s in 0..<t {
                let out = dst.base + (s * b + r) * w
                let a = f + (s * b + r) * w
                if s < len {
                    let c = rv + ((len - 1 - s) * b + r) * w
                    for j in 0..<w { out[j] = a[j] + c[j] }
                } else {
                    out.update(from: a, count: w)
                }
            }
        }
    }
}
