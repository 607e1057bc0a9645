// The whole model: embedding or features → stacked (optionally bidirectional) LSTM layers →
// output layer → loss. Forward and backward side by side; all memory comes from a Workspace.
//
// Letters: B batch, T steps, H_k layer k's hidden width, D directions (1 or 2), I₀ layer-0 input
// width, O outputs, N prediction rows (T·B for the sequence head, B for the last head). Layer
// outputs and every gradient flowing between layers are time-major (T, B, D·H_k): row t·B + b.
//
// Variable lengths: sequence b has L_b ≤ T valid steps, padding after them. The forward
// direction needs no masking (padding comes after every valid step, and padded rows get no
// loss, hence no gradient); the reverse direction reads each sequence reversed within its own
// length, x̃⁽ˢ⁾ = x⁽ᴸ⁻¹⁻ˢ⁾, so its padding also comes last.

/// Forward and backward of a stacked LSTM with an output layer, over one minibatch.
public struct LSTMNetwork<T: LSTMScalar>: Sendable {
    public let config: ModelConfig
    /// The LSTM layers' GEMM arithmetic (`training.precision`; `.bf16` for Float only, where
    /// `Precision.unsupportedReason` is nil).
    public var precision: Precision = .float32 {
        willSet { precondition(newValue == .float32 || T.self == Float.self, "bf16 is Float only") }
    }

    public init(config: ModelConfig) throws {
        try config.validate()
        self.config = config
    }

    /// Number of target elements a full-length minibatch of (b, t) contributes to the mean loss.
    public func targetCount(batch b: Int, steps t: Int) -> Int {
        let rows = config.head == .sequence ? b * t : b
        return config.loss.usesClassTargets ? rows : rows * config.outputSize
    }

    /// Number of target elements of `batch` (only valid steps count).
    public func targetCount(_ batch: MinibatchView<T>) -> Int {
        guard batch.lengths != nil, config.head == .sequence else {
            return targetCount(batch: batch.batchSize, steps: batch.steps)
        }
        let rows = (0..<batch.batchSize).reduce(0) { $0 + batch.length($1) }
        return config.loss.usesClassTargets ? rows : rows * config.outputSize
    }

    /// Runs eqs. 1–7 over the minibatch and returns the summed loss (if it has targets).
    ///
    /// - Parameters:
    ///   - initialState: h⁽⁰⁾, c⁽⁰⁾ per layer and direction; zeros when nil.
    ///   - dropout: masks for a training pass; nil (evaluation) applies no dropout.
    @discardableResult
    @_specialize(exported:true,where T == Float)
    @_specialize(exported:true,where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func forward(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        initialState: LSTMState<T>? = nil, dropout: DropoutContext? = nil
    ) -> LossSum {
        let b = batch.batchSize
        let t = batch.steps
        let i0 = config.inputWidth
        let o = config.outputSize
        let dirs = config.directions
        let dh = config.layerOutputWidth
        ws.begin(batch)
        gatherInputs(params, batch, ws)
        let drop = dropout != nil && config.dropout > 0
        ws.dropoutActive = drop

        var input = Matrix(ws.x0.base, rows: t * b, cols: i0)  // (T·B, I_k), time-ordered
        for k in 0..<config.numLayers {
            if k > 0 && drop { input = applyDropout(slot: k, input, steps: t, ws, batch.rowOffset, dropout!) }
            ws.layerInputs[k] = input
            let h = config.hiddenSize(k)
            for d in 0..<dirs {
                let slot = k * dirs + d
                let acts = ws.layers[slot]
                if let s = initialState {
                    precondition(
                        s.h.count == ws.layers.count && s.h[slot].count == b * h && s.c[slot].count == b * h,
                        "initial state must be [layers·directions][B·H_k]")
                    s.h[slot].withUnsafeBufferPointer { acts.h.base.update(from: $0.baseAddress!, count: b * h) }
                    s.c[slot].withUnsafeBufferPointer { acts.c.base.update(from: $0.baseAddress!, count: b * h) }
                } else {
                    acts.h.base.update(repeating: 0, count: b * h)
                    acts.c.base.update(repeating: 0, count: b * h)
                }
                let x = d == 0 ? input : reverseInTime(input, into: ws.reversedIn[k]!, ws)
                let p = params.layers[slot]
                var bias = p.b
                if let bHH = p.bHH, let sum = ws.biasSum[slot] {  // PyTorch's b_ih + b_hh
                    for j in 0..<(4 * h) { sum.base[j] = p.b[j] + bHH[j] }
                    bias = sum.base
                }
                LSTMLayer.forward(
                    p, x: x, batch: b, steps: t, hidden: h, acts: acts, bias: bias, precision: precision)
            }
            input = layerOutput(k, ws)
        }

        var hIn: Matrix<T>
        let h = config.hiddenSize(config.numLayers - 1)
        if config.head == .sequence {
            hIn = input
        } else {  // each sequence's final step: forward h at L_b − 1, reverse h at time 0
            hIn = Matrix(ws.headIn.base, rows: b, cols: dh)
            for r in 0..<b {
                let last = ws.lengths[r] - 1
                (hIn.base + r * dh).update(from: input.base + (last * b + r) * dh, count: h)
                if dirs == 2 { (hIn.base + r * dh + h).update(from: input.base + r * dh + h, count: h) }
            }
        }
        if drop {
            hIn = applyDropout(
                slot: config.numLayers, hIn, steps: config.head == .sequence ? t : 1, ws, batch.rowOffset, dropout!)
        }
        ws.headInput = hIn

        let n = ws.predictionRows
        if let targets = batch.targets { checkTargets(targets, batch) }
        var classes: UnsafeBufferPointer<Int32>?  // softmax + cross-entropy: loss fused into forward
        if case .classes(let ids) = batch.targets, config.activation == .softmax { classes = ids }
        let fused = OutputLayer.forward(
            weight: params.headWeight, bias: params.headBias, h: hIn,
            z: Matrix(ws.z.base, rows: n, cols: o), y: Matrix(ws.y.base, rows: n, cols: o),
            activation: config.activation, classes: classes, rows: predictionRows(ws))
        guard let targets = batch.targets else { return LossSum() }
        let sum =
            classes != nil
            ? fused
            : OutputLayer.lossSum(
                z: Matrix(ws.z.base, rows: n, cols: o), y: Matrix(ws.y.base, rows: n, cols: o),
                loss: config.loss, targets: targets, rows: predictionRows(ws))
        return LossSum(sum: sum, count: targetCount(batch))
    }

    /// Backpropagation through time (eqs. 8–25) for the last `forward` on this workspace;
    /// gradients are **added** to `grads`.
    ///
    /// - Parameter normalizer: the element count the mean loss divides by. Defaults to this
    ///   minibatch's own count; a shard of a larger minibatch passes the whole minibatch's count
    ///   so that shard gradients sum to the full gradient.
    @_specialize(exported:true,where T == Float)
    @_specialize(exported:true,where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func backward(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        into grads: ParameterSet<T>, normalizer: Int? = nil
    ) {
        let b = ws.batch
        let t = ws.steps
        precondition(batch.batchSize == b && batch.steps == t, "backward needs the minibatch of the last forward")
        guard let targets = batch.targets else { preconditionFailure("backward needs targets") }
        let h = config.hiddenSize(config.numLayers - 1)  // the top layer, the head's input
        let o = config.outputSize
        let dirs = config.directions
        let dh = config.layerOutputWidth
        let n = ws.predictionRows
        let dz = Matrix(ws.dz.base, rows: n, cols: o)
        OutputLayer.lossGradient(
            y: Matrix(ws.y.base, rows: n, cols: o), dz: dz, loss: config.loss, activation: config.activation,
            targets: targets, rows: predictionRows(ws),
            normalizer: normalizer ?? targetCount(batch))

        // δ of the output layer's input, then of the top layer's time-ordered output.
        let dHead =
            config.head == .sequence
            ? Matrix(ws.dOutA.base, rows: t * b, cols: dh) : Matrix(ws.dHead.base, rows: b, cols: dh)
        OutputLayer.backward(
            weight: params.headWeight, gradWeight: grads.headWeight, gradBias: grads.headBias,
            h: ws.headInput, dz: dz, dH: dHead)
        ws.bucketReadiness?.finished(0)  // the head's gradient is final (GradientBuckets)
        if ws.dropoutActive { multiply(dHead, by: ws.dropMask[config.numLayers]!) }
        if config.head == .last {  // scatter back to the steps the head read
            ws.dOutA.base.update(repeating: 0, count: t * b * dh)
            for r in 0..<b {
                let last = ws.lengths[r] - 1
                (ws.dOutA.base + (last * b + r) * dh).update(from: dHead.base + r * dh, count: h)
                if dirs == 2 { (ws.dOutA.base + r * dh + h).update(from: dHead.base + r * dh + h, count: h) }
            }
        }

        let needInputGrad = ws.computesInputGradient || params.embedding != nil
        var dOut = ws.dOutA
        var dNext = ws.dOutB
        for k in stride(from: config.numLayers - 1, through: 0, by: -1) {
            let x = ws.layerInputs[k]
            let needDX = k > 0 || needInputGrad
            let h = config.hiddenSize(k)
            if dirs == 1 {
                LSTMLayer.backward(
                    params.layers[k], grads: grads.layers[k], x: x, batch: b, steps: t, hidden: h,
                    acts: ws.layers[k], dH: dOut.base, dGates: ws.dGates.base, dcCarry: ws.dcCarry.base,
                    dX: needDX ? Matrix(dNext.base, rows: t * b, cols: x.cols) : nil, precision: precision)
            } else {
                splitDirections(dOut, hidden: h, ws)
                for d in 0..<2 {
                    let xd = d == 0 ? x : Matrix(ws.reversedIn[k]!.base, rows: t * b, cols: x.cols)
                    LSTMLayer.backward(
                        params.layers[k * 2 + d], grads: grads.layers[k * 2 + d], x: xd, batch: b, steps: t,
                        hidden: h, acts: ws.layers[k * 2 + d], dH: ws.dirDH[d].base, dGates: ws.dGates.base,
                        dcCarry: ws.dcCarry.base,
                        dX: needDX ? Matrix(ws.dirDX[d].base, rows: t * b, cols: x.cols) : nil,
                        precision: precision)
                }
                if needDX { joinDirections(into: dNext, width: x.cols, ws) }
            }
            if needDX && k > 0 && ws.dropoutActive {
                multiply(Matrix(dNext.base, rows: t * b, cols: x.cols), by: ws.dropMask[k]!)
            }
            swap(&dOut, &dNext)
            if k > 0 { ws.bucketReadiness?.finished(GradientBuckets.afterLayer(k, layers: config.numLayers)) }
        }
        ws.inputGradientBuffer = needInputGrad ? dOut : nil  // δx₀, time-major

        if case .tokens(let ids) = batch.inputs, let gradEmb = grads.embedding {
            // Embedding rows receive the gradient of every position that looked them up.
            let e = config.inputWidth
            for s in 0..<t {
                for r in 0..<b {
                    let dst = gradEmb.base + Int(ids[r * t + s]) * e
                    let src = dOut.base + (s * b + r) * e
                    for j in 0..<e { dst[j] += src[j] }
                }
            }
        }
        ws.bucketReadiness?.finished(config.numLayers)  // layer 0 and the embedding
    }

    /// Forward (with dropout when given), then backward into `grads`; returns the summed loss.
    @discardableResult
    @_specialize(exported:true,where T == Float)
    @_specialize(exported:true,where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func lossAndGradient(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        into grads: ParameterSet<T>, initialState: LSTMState<T>? = nil, normalizer: Int? = nil,
        dropout: DropoutContext? = nil
    ) -> LossSum {
        let loss = forward(params, batch, workspace: ws, initialState: initialState, dropout: dropout)
        backward(params, batch, workspace: ws, into: grads, normalizer: normalizer)
        return loss
    }

    // MARK: - Helpers

    /// Fills x₀ (T, B, I₀) from the batch-major minibatch.
    @inline(__always)
    private func gatherInputs(_ params: ParameterSet<T>, _ batch: MinibatchView<T>, _ ws: Workspace<T>) {
        let b = batch.batchSize
        let t = batch.steps
        let i0 = config.inputWidth
        switch (batch.inputs, config.input) {
        case (.features(let x), .features):
            precondition(
                x.count == b * t * i0, "features must be [B, T, I] = [\(b), \(t), \(i0)], got \(x.count) values")
            for s in 0..<t {
                for r in 0..<b {
                    (ws.x0.base + (s * b + r) * i0).update(from: x.baseAddress! + (r * t + s) * i0, count: i0)
                }
            }
        case (.tokens(let ids), .tokens(let v, _)):
            precondition(ids.count == b * t, "tokens must be [B, T] = [\(b), \(t)], got \(ids.count) ids")
            let emb = params.embedding!
            for s in 0..<t {
                for r in 0..<b {
                    let id = Int(ids[r * t + s])
                    precondition(id >= 0 && id < v, "token id \(id) out of range 0..<\(v)")
                    (ws.x0.base + (s * b + r) * i0).update(from: emb.base + id * i0, count: i0)
                }
            }
        default:
            preconditionFailure("minibatch inputs do not match the model's input kind \(config.input)")
        }
    }

    /// Layer k's time-ordered output (T·B, D·H_k): its h buffer, or both directions side by side.
    private func layerOutput(_ k: Int, _ ws: Workspace<T>) -> Matrix<T> {
        let b = ws.batch
        let t = ws.steps
        let h = config.hiddenSize(k)
        if config.directions == 1 { return ws.layers[k].outputs(batch: b, steps: t, hidden: h) }
        let out = ws.layerOut[k]!.base
        let fwd = ws.layers[2 * k]
        let rev = ws.layers[2 * k + 1]
        for r in 0..<b {
            let len = ws.lengths[r]
            for s in 0..<t {
                let row = out + (s * b + r) * 2 * h
                row.update(from: fwd.h.base + ((s + 1) * b + r) * h, count: h)
                // Time s of the reverse direction is its processing step len − 1 − s.
                if s < len {
                    (row + h).update(from: rev.h.base + ((len - s) * b + r) * h, count: h)
                } else {
                    (row + h).update(repeating: 0, count: h)
                }
            }
        }
        return Matrix(out, rows: t * b, cols: 2 * h)
    }

    /// Maps (time-major) prediction rows to (batch-major) target rows and marks padding rows.
    private func predictionRows(_ ws: Workspace<T>) -> PredictionRows {
        let b = ws.batch
        let t = ws.steps
        if config.head == .last { return .all }
        let allValid = ws.lengths.allSatisfy { $0 == t }
        return PredictionRows(batch: b, steps: t, lengths: allValid ? nil : ws.lengths)
    }

    private func checkTargets(_ targets: MinibatchView<T>.Targets, _ batch: MinibatchView<T>) {
        let rows = config.head == .sequence ? batch.batchSize * batch.steps : batch.batchSize
        switch targets {
        case .classes(let ids):
            precondition(config.loss.usesClassTargets, "loss \(config.loss.rawValue) needs float targets")
            precondition(ids.count == rows, "class targets must have \(rows) ids, got \(ids.count)")
        case .values(let v):
            precondition(!config.loss.usesClassTargets, "loss cross_entropy needs class-id targets")
            precondition(
                v.count == rows * config.outputSize,
                "targets must have \(rows)×\(config.outputSize) values, got \(v.count)")
        }
    }
}
