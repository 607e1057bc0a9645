// The whole model: embedding or features → stacked LSTM layers → output layer → loss.
// Forward and backward side by side; all memory comes from a Workspace sized once.

/// Every buffer one forward+backward needs, allocated once for (maxBatch, maxSteps).
///
/// One workspace per worker thread: nothing in it is shared, and nothing is allocated per step.
public final class Workspace<T: LSTMScalar>: @unchecked Sendable {
    public let config: ModelConfig
    public let maxBatch: Int
    public let maxSteps: Int
    /// Also compute ∂L/∂x for feature inputs (gradient checks); token inputs always do.
    public let computesInputGradient: Bool

    /// (T, B, I₀): layer 0's input, time-major (features transposed, or embeddings gathered).
    let x0: Buffer<T>
    let layers: [LayerActivations<T>]
    /// (N, O): logits z and predictions y = F(z); N = T·B (sequence head) or B (last head).
    let z: Buffer<T>
    let y: Buffer<T>
    /// (N, O): δz.
    let dz: Buffer<T>
    /// (T, B, G): δθ ⊙ f′_θ of the layer being differentiated.
    let dGates: Buffer<T>
    /// (T, B, max(H, I₀)) ×2: δh flowing down the stack, ping-ponged between layers.
    let dHa: Buffer<T>
    let dHb: Buffer<T>
    /// (B, H): δc carry.
    let dcCarry: Buffer<T>

    /// Shape of the last forward pass.
    public private(set) var batch = 0
    public private(set) var steps = 0

    public init(config: ModelConfig, maxBatch: Int, maxSteps: Int, computesInputGradient: Bool = false) {
        precondition(maxBatch > 0 && maxSteps > 0, "workspace needs maxBatch and maxSteps ≥ 1")
        self.config = config
        self.maxBatch = maxBatch
        self.maxSteps = maxSteps
        self.computesInputGradient = computesInputGradient
        let h = config.hiddenSize, i0 = config.inputWidth, o = config.outputSize
        let tb = maxBatch * maxSteps
        x0 = Buffer(count: tb * i0)
        layers = (0..<config.numLayers).map { _ in LayerActivations(maxBatch: maxBatch, maxSteps: maxSteps, hidden: h) }
        let n = config.head == .sequence ? tb : maxBatch
        z = Buffer(count: n * o)
        y = Buffer(count: n * o)
        dz = Buffer(count: n * o)
        dGates = Buffer(count: tb * 4 * h)
        dHa = Buffer(count: tb * max(h, i0))
        dHb = Buffer(count: tb * max(h, i0))
        dcCarry = Buffer(count: maxBatch * h)
    }

    /// Bytes held by this workspace.
    public var byteCount: Int {
        let bufs = [x0, z, y, dz, dGates, dHa, dHb, dcCarry] + layers.flatMap { [$0.gates, $0.h, $0.c, $0.tanhC] }
        return bufs.reduce(0) { $0 + $1.count } * MemoryLayout<T>.stride
    }

    func begin(batch b: Int, steps t: Int) {
        precondition(b >= 1 && b <= maxBatch, "batch of \(b) in a workspace for at most \(maxBatch)")
        precondition(t >= 1 && t <= maxSteps, "\(t) steps in a workspace for at most \(maxSteps)")
        batch = b
        steps = t
    }

    /// Prediction rows of the last forward: N = T·B (time-major) or B.
    var predictionRows: Int { config.head == .sequence ? steps * batch : batch }

    /// The predictions y = F(z) of the last forward pass, batch-major: [B, T, O] or [B, O].
    public func outputs() -> [T] {
        let o = config.outputSize
        var out = [T](repeating: 0, count: predictionRows * o)
        for r in 0..<predictionRows {
            let dst = config.head == .sequence ? (r % batch) * steps + r / batch : r
            for j in 0..<o { out[dst * o + j] = y.base[r * o + j] }
        }
        return out
    }

    /// h and c of every layer after the last step of the last forward pass.
    public func finalState() -> LSTMState<T> {
        let n = batch * config.hiddenSize
        return LSTMState(
            h: layers.map { Array(UnsafeBufferPointer(start: $0.h.base + steps * n, count: n)) },
            c: layers.map { Array(UnsafeBufferPointer(start: $0.c.base + steps * n, count: n)) })
    }

    /// ∂L/∂inputs of the last backward pass, batch-major [B, T, I] (needs `computesInputGradient`).
    public func inputGradient() -> [T] {
        precondition(computesInputGradient, "workspace was made without computesInputGradient")
        let i0 = config.inputWidth
        let src = config.numLayers % 2 == 1 ? dHb : dHa  // where layer 0's δx landed (see backward)
        var out = [T](repeating: 0, count: batch * steps * i0)
        for s in 0..<steps {
            for b in 0..<batch {
                for j in 0..<i0 { out[(b * steps + s) * i0 + j] = src.base[(s * batch + b) * i0 + j] }
            }
        }
        return out
    }
}

/// Forward and backward of a stacked LSTM with an output layer, over one minibatch.
public struct LSTMNetwork<T: LSTMScalar>: Sendable {
    public let config: ModelConfig

    public init(config: ModelConfig) throws {
        try config.validate()
        self.config = config
    }

    /// Number of target elements a minibatch of (b, t) contributes to the mean loss.
    public func targetCount(batch b: Int, steps t: Int) -> Int {
        let rows = config.head == .sequence ? b * t : b
        return config.loss.usesClassTargets ? rows : rows * config.outputSize
    }

    /// Runs eqs. 1–7 over the minibatch and returns the summed loss (if it has targets).
    ///
    /// - Parameter initialState: h⁽⁰⁾, c⁽⁰⁾ per layer; zeros when nil.
    @discardableResult
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        initialState: LSTMState<T>? = nil
    ) -> LossSum {
        let b = batch.batchSize, t = batch.steps
        let h = config.hiddenSize, i0 = config.inputWidth, o = config.outputSize
        ws.begin(batch: b, steps: t)
        gatherInputs(params, batch, ws)
        for (k, layer) in params.layers.enumerated() {
            let acts = ws.layers[k]
            if let s = initialState {
                precondition(s.h.count == config.numLayers && s.h[k].count == b * h && s.c[k].count == b * h,
                             "initial state must be [layers][B·H]")
                s.h[k].withUnsafeBufferPointer { acts.h.base.update(from: $0.baseAddress!, count: b * h) }
                s.c[k].withUnsafeBufferPointer { acts.c.base.update(from: $0.baseAddress!, count: b * h) }
            } else {
                acts.h.base.update(repeating: 0, count: b * h)
                acts.c.base.update(repeating: 0, count: b * h)
            }
            let x = k == 0
                ? Matrix(ws.x0.base, rows: t * b, cols: i0)
                : ws.layers[k - 1].outputs(batch: b, steps: t, hidden: h)
            LSTMLayer.forward(layer, x: x, batch: b, steps: t, hidden: h, acts: acts)
        }
        let n = ws.predictionRows
        OutputLayer.forward(
            weight: params.headWeight, bias: params.headBias, h: headInput(ws),
            z: Matrix(ws.z.base, rows: n, cols: o), y: Matrix(ws.y.base, rows: n, cols: o),
            activation: config.activation)
        guard let targets = batch.targets else { return LossSum() }
        checkTargets(targets, batch)
        let sum = OutputLayer.lossSum(
            z: Matrix(ws.z.base, rows: n, cols: o), y: Matrix(ws.y.base, rows: n, cols: o),
            loss: config.loss, targets: targets, targetRow: targetRow(ws))
        return LossSum(sum: sum, count: targetCount(batch: b, steps: t))
    }

    /// Backpropagation through time (eqs. 8–25) for the last `forward` on this workspace;
    /// gradients are **added** to `grads`.
    ///
    /// - Parameter normalizer: the element count the mean loss divides by. Defaults to this
    ///   minibatch's own count; a shard of a larger minibatch passes the whole minibatch's count
    ///   so that shard gradients sum to the full gradient.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        into grads: ParameterSet<T>, normalizer: Int? = nil
    ) {
        let b = ws.batch, t = ws.steps
        precondition(batch.batchSize == b && batch.steps == t, "backward needs the minibatch of the last forward")
        guard let targets = batch.targets else { preconditionFailure("backward needs targets") }
        let h = config.hiddenSize, i0 = config.inputWidth, o = config.outputSize
        let n = ws.predictionRows
        let dz = Matrix(ws.dz.base, rows: n, cols: o)
        OutputLayer.lossGradient(
            y: Matrix(ws.y.base, rows: n, cols: o), dz: dz, loss: config.loss, activation: config.activation,
            targets: targets, targetRow: targetRow(ws), normalizer: normalizer ?? targetCount(batch: b, steps: t))

        // δh of the top layer: only the rows that made predictions receive it.
        var dHin = ws.dHa, dHout = ws.dHb
        let top = config.numLayers - 1
        let dHtop: Matrix<T>
        if config.head == .sequence {
            dHtop = Matrix(dHin.base, rows: t * b, cols: h)
        } else {
            dHin.base.update(repeating: 0, count: (t - 1) * b * h)
            dHtop = Matrix(dHin.base + (t - 1) * b * h, rows: b, cols: h)
        }
        OutputLayer.backward(
            weight: params.headWeight, gradWeight: grads.headWeight, gradBias: grads.headBias,
            h: headInput(ws), dz: dz, dH: dHtop)

        let needInputGrad = ws.computesInputGradient || params.embedding != nil
        for k in stride(from: top, through: 0, by: -1) {
            let x = k == 0
                ? Matrix(ws.x0.base, rows: t * b, cols: i0)
                : ws.layers[k - 1].outputs(batch: b, steps: t, hidden: h)
            let dX: Matrix<T>? = (k > 0 || needInputGrad) ? Matrix(dHout.base, rows: t * b, cols: x.cols) : nil
            LSTMLayer.backward(
                params.layers[k], grads: grads.layers[k], x: x, batch: b, steps: t, hidden: h,
                acts: ws.layers[k], dH: dHin.base, dGates: ws.dGates.base, dcCarry: ws.dcCarry.base, dX: dX)
            swap(&dHin, &dHout)
        }
        // Now dHin holds ∂L/∂x₀ (time-major); Workspace.inputGradient relies on this ping-pong.
        if case .tokens(let ids) = batch.inputs, let gradEmb = grads.embedding {
            // Embedding rows receive the gradient of every position that looked them up.
            let e = i0
            for s in 0..<t {
                for r in 0..<b {
                    let dst = gradEmb.base + Int(ids[r * t + s]) * e
                    let src = dHin.base + (s * b + r) * e
                    for j in 0..<e { dst[j] += src[j] }
                }
            }
        }
    }

    /// Forward, then backward into `grads`; returns the summed loss.
    @discardableResult
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func lossAndGradient(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        into grads: ParameterSet<T>, initialState: LSTMState<T>? = nil, normalizer: Int? = nil
    ) -> LossSum {
        let loss = forward(params, batch, workspace: ws, initialState: initialState)
        backward(params, batch, workspace: ws, into: grads, normalizer: normalizer)
        return loss
    }

    // MARK: - Helpers

    /// Fills x₀ (T, B, I₀) from the batch-major minibatch.
    @inline(__always)
    private func gatherInputs(_ params: ParameterSet<T>, _ batch: MinibatchView<T>, _ ws: Workspace<T>) {
        let b = batch.batchSize, t = batch.steps, i0 = config.inputWidth
        switch (batch.inputs, config.input) {
        case (.features(let x), .features):
            precondition(x.count == b * t * i0, "features must be [B, T, I] = [\(b), \(t), \(i0)], got \(x.count) values")
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

    /// The hidden states the output layer reads: all of h⁽¹⁾…h⁽ᵀ⁾ of the top layer, or h⁽ᵀ⁾.
    private func headInput(_ ws: Workspace<T>) -> Matrix<T> {
        let top = ws.layers[config.numLayers - 1], b = ws.batch, t = ws.steps, h = config.hiddenSize
        return config.head == .sequence
            ? top.outputs(batch: b, steps: t, hidden: h)
            : Matrix(top.h.base + t * b * h, rows: b, cols: h)
    }

    /// Maps a (time-major) prediction row to its (batch-major) target row.
    private func targetRow(_ ws: Workspace<T>) -> (Int) -> Int {
        let b = ws.batch, t = ws.steps
        if config.head == .last { return { $0 } }
        return { r in (r % b) * t + r / b }
    }

    private func checkTargets(_ targets: MinibatchView<T>.Targets, _ batch: MinibatchView<T>) {
        let rows = config.head == .sequence ? batch.batchSize * batch.steps : batch.batchSize
        switch targets {
        case .classes(let ids):
            precondition(config.loss.usesClassTargets, "loss \(config.loss.rawValue) needs float targets")
            precondition(ids.count == rows, "class targets must have \(rows) ids, got \(ids.count)")
        case .values(let v):
            precondition(!config.loss.usesClassTargets, "loss cross_entropy needs class-id targets")
            precondition(v.count == rows * config.outputSize,
                         "targets must have \(rows)×\(config.outputSize) values, got \(v.count)")
        }
    }
}
