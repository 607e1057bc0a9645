// The whole model: embedding or features → stacked (optionally bidirectional) LSTM layers →
// output layer → loss. Forward and backward side by side; all memory comes from a Workspace.
//
// Letters: B batch, T steps, H hidden, D directions (1 or 2), I₀ layer-0 input width, O outputs,
// N prediction rows (T·B for the sequence head, B for the last head). Layer outputs and every
// gradient flowing between layers are time-major (T, B, D·H): row t·B + b.
//
// Variable lengths: sequence b has L_b ≤ T valid steps, padding after them. The forward
// direction needs no masking (padding comes after every valid step, and padded rows get no
// loss, hence no gradient); the reverse direction reads each sequence reversed within its own
// length, x̃⁽ˢ⁾ = x⁽ᴸ⁻¹⁻ˢ⁾, so its padding also comes last.

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
    /// Per layer and direction (k·D + d): gates, h, c, tanh(c) in processing order.
    let layers: [LayerActivations<T>]
    /// Per layer, when D = 2: (T, B, 2H) the two directions' h side by side, time-ordered.
    let layerOut: [Buffer<T>?]
    /// Per layer, when D = 2: (T, B, I_k) the layer input reversed within each sequence.
    let reversedIn: [Buffer<T>?]
    /// Dropout slot k (1 ≤ k < L: layer k's input; L: the output layer's input): the
    /// mask values (0 or 1/(1−p)) and the masked input. Empty when dropout is 0.
    let dropMask: [Buffer<T>?]
    let dropped: [Buffer<T>?]
    /// (B, D·H): the last head's input, each sequence's final step gathered.
    let headIn: Buffer<T>
    /// (N, O): logits z and predictions y = F(z).
    let z: Buffer<T>
    let y: Buffer<T>
    /// (N, O): δz; (N, D·H): δ of the head input (last head).
    let dz: Buffer<T>
    let dHead: Buffer<T>
    /// (T, B, G): δθ ⊙ f′_θ of the layer being differentiated.
    let dGates: Buffer<T>
    /// (T, B, max(D·H, I₀)) ×2: δ of layer outputs flowing down the stack, ping-ponged.
    let dOutA: Buffer<T>
    let dOutB: Buffer<T>
    /// When D = 2: per direction, δh (T, B, H) and δx (T, B, max(D·H, I₀)) in processing order.
    let dirDH: [Buffer<T>]
    let dirDX: [Buffer<T>]
    /// (B, H): δc carry.
    let dcCarry: Buffer<T>

    /// What the last forward fed each layer and the output layer (views into the above).
    var layerInputs: [Matrix<T>]
    var headInput: Matrix<T>
    var dropoutActive = false
    /// Where the last backward left ∂L/∂x₀ (time-major).
    var inputGradientBuffer: Buffer<T>?

    /// Shape of the last forward pass.
    public private(set) var batch = 0
    public private(set) var steps = 0
    /// Valid steps per sequence in the last forward pass.
    public private(set) var lengths: [Int]

    public init(config: ModelConfig, maxBatch: Int, maxSteps: Int, computesInputGradient: Bool = false) {
        precondition(maxBatch > 0 && maxSteps > 0, "workspace needs maxBatch and maxSteps ≥ 1")
        self.config = config
        self.maxBatch = maxBatch
        self.maxSteps = maxSteps
        self.computesInputGradient = computesInputGradient
        let h = config.hiddenSize, i0 = config.inputWidth, o = config.outputSize
        let d = config.directions, dh = config.layerOutputWidth, nl = config.numLayers
        let tb = maxBatch * maxSteps
        let widest = max(dh, i0)
        x0 = Buffer(count: tb * i0)
        layers = (0..<(nl * d)).map { _ in LayerActivations(maxBatch: maxBatch, maxSteps: maxSteps, hidden: h) }
        layerOut = (0..<nl).map { _ in d == 2 ? Buffer(count: tb * dh) : nil }
        reversedIn = (0..<nl).map { k in d == 2 ? Buffer(count: tb * config.layerInputWidth(k)) : nil }
        let n = config.head == .sequence ? tb : maxBatch
        let useDropout = config.dropout > 0
        dropMask = (0...nl).map { k in
            !useDropout || k == 0 ? nil : Buffer(count: (k == nl ? n : tb) * dh)
        }
        dropped = (0...nl).map { k in
            !useDropout || k == 0 ? nil : Buffer(count: (k == nl ? n : tb) * dh)
        }
        headIn = Buffer(count: config.head == .last ? maxBatch * dh : 0)
        z = Buffer(count: n * o)
        y = Buffer(count: n * o)
        dz = Buffer(count: n * o)
        dHead = Buffer(count: config.head == .last ? maxBatch * dh : 0)
        dGates = Buffer(count: tb * 4 * h)
        dOutA = Buffer(count: tb * widest)
        dOutB = Buffer(count: tb * widest)
        dirDH = d == 2 ? [Buffer(count: tb * h), Buffer(count: tb * h)] : []
        dirDX = d == 2 ? [Buffer(count: tb * widest), Buffer(count: tb * widest)] : []
        dcCarry = Buffer(count: maxBatch * h)
        layerInputs = Array(repeating: Matrix(x0.base, rows: 0, cols: 0), count: nl)
        headInput = Matrix(x0.base, rows: 0, cols: 0)
        lengths = []
        lengths.reserveCapacity(maxBatch)
    }

    /// Bytes held by this workspace.
    public var byteCount: Int {
        var bufs: [Buffer<T>] = [x0, headIn, z, y, dz, dHead, dGates, dOutA, dOutB, dcCarry] + dirDH + dirDX
        bufs += layers.flatMap { [$0.gates, $0.h, $0.c, $0.tanhC] }
        bufs += (layerOut + reversedIn + dropMask + dropped).compactMap { $0 }
        return bufs.reduce(0) { $0 + $1.count } * MemoryLayout<T>.stride
    }

    func begin(_ view: MinibatchView<T>) {
        let b = view.batchSize, t = view.steps
        precondition(b >= 1 && b <= maxBatch, "batch of \(b) in a workspace for at most \(maxBatch)")
        precondition(t >= 1 && t <= maxSteps, "\(t) steps in a workspace for at most \(maxSteps)")
        batch = b
        steps = t
        lengths.removeAll(keepingCapacity: true)
        for r in 0..<b {
            let l = view.length(r)
            precondition(l >= 1 && l <= t, "sequence \(r) has length \(l), outside 1...\(t)")
            lengths.append(l)
        }
    }

    /// Prediction rows of the last forward: N = T·B (time-major) or B.
    var predictionRows: Int { config.head == .sequence ? steps * batch : batch }

    /// The predictions y = F(z) of the last forward pass, batch-major: [B, T, O] or [B, O]
    /// (rows past a sequence's length are padding).
    public func outputs() -> [T] {
        let o = config.outputSize
        var out = [T](repeating: 0, count: predictionRows * o)
        for r in 0..<predictionRows {
            let dst = config.head == .sequence ? (r % batch) * steps + r / batch : r
            for j in 0..<o { out[dst * o + j] = y.base[r * o + j] }
        }
        return out
    }

    /// h and c of every layer and direction (index k·D + d) after the last step of the last
    /// forward pass, for carrying state into the next chunk.
    public func finalState() -> LSTMState<T> {
        let n = batch * config.hiddenSize
        return LSTMState(
            h: layers.map { Array(UnsafeBufferPointer(start: $0.h.base + steps * n, count: n)) },
            c: layers.map { Array(UnsafeBufferPointer(start: $0.c.base + steps * n, count: n)) })
    }

    /// ∂L/∂inputs of the last backward pass, batch-major [B, T, I] (needs `computesInputGradient`).
    public func inputGradient() -> [T] {
        precondition(computesInputGradient, "workspace was made without computesInputGradient")
        guard let src = inputGradientBuffer else { preconditionFailure("no backward pass yet") }
        let i0 = config.inputWidth
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
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func forward(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        initialState: LSTMState<T>? = nil, dropout: DropoutContext? = nil
    ) -> LossSum {
        let b = batch.batchSize, t = batch.steps
        let h = config.hiddenSize, i0 = config.inputWidth, o = config.outputSize
        let dirs = config.directions, dh = config.layerOutputWidth
        ws.begin(batch)
        gatherInputs(params, batch, ws)
        let drop = dropout != nil && config.dropout > 0
        ws.dropoutActive = drop

        var input = Matrix(ws.x0.base, rows: t * b, cols: i0)  // (T·B, I_k), time-ordered
        for k in 0..<config.numLayers {
            if k > 0 && drop { input = applyDropout(slot: k, input, steps: t, ws, batch.rowOffset, dropout!) }
            ws.layerInputs[k] = input
            for d in 0..<dirs {
                let slot = k * dirs + d
                let acts = ws.layers[slot]
                if let s = initialState {
                    precondition(s.h.count == ws.layers.count && s.h[slot].count == b * h && s.c[slot].count == b * h,
                                 "initial state must be [layers·directions][B·H]")
                    s.h[slot].withUnsafeBufferPointer { acts.h.base.update(from: $0.baseAddress!, count: b * h) }
                    s.c[slot].withUnsafeBufferPointer { acts.c.base.update(from: $0.baseAddress!, count: b * h) }
                } else {
                    acts.h.base.update(repeating: 0, count: b * h)
                    acts.c.base.update(repeating: 0, count: b * h)
                }
                let x = d == 0 ? input : reverseInTime(input, into: ws.reversedIn[k]!, ws)
                LSTMLayer.forward(params.layers[slot], x: x, batch: b, steps: t, hidden: h, acts: acts)
            }
            input = layerOutput(k, ws)
        }

        var hIn: Matrix<T>
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
        if drop { hIn = applyDropout(slot: config.numLayers, hIn, steps: config.head == .sequence ? t : 1, ws, batch.rowOffset, dropout!) }
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
        let sum = classes != nil ? fused : OutputLayer.lossSum(
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
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func backward(
        _ params: ParameterSet<T>, _ batch: MinibatchView<T>, workspace ws: Workspace<T>,
        into grads: ParameterSet<T>, normalizer: Int? = nil
    ) {
        let b = ws.batch, t = ws.steps
        precondition(batch.batchSize == b && batch.steps == t, "backward needs the minibatch of the last forward")
        guard let targets = batch.targets else { preconditionFailure("backward needs targets") }
        let h = config.hiddenSize, o = config.outputSize, dirs = config.directions, dh = config.layerOutputWidth
        let n = ws.predictionRows
        let dz = Matrix(ws.dz.base, rows: n, cols: o)
        OutputLayer.lossGradient(
            y: Matrix(ws.y.base, rows: n, cols: o), dz: dz, loss: config.loss, activation: config.activation,
            targets: targets, rows: predictionRows(ws),
            normalizer: normalizer ?? targetCount(batch))

        // δ of the output layer's input, then of the top layer's time-ordered output.
        let dHead = config.head == .sequence
            ? Matrix(ws.dOutA.base, rows: t * b, cols: dh) : Matrix(ws.dHead.base, rows: b, cols: dh)
        OutputLayer.backward(
            weight: params.headWeight, gradWeight: grads.headWeight, gradBias: grads.headBias,
            h: ws.headInput, dz: dz, dH: dHead)
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
        var dOut = ws.dOutA, dNext = ws.dOutB
        for k in stride(from: config.numLayers - 1, through: 0, by: -1) {
            let x = ws.layerInputs[k]
            let needDX = k > 0 || needInputGrad
            if dirs == 1 {
                LSTMLayer.backward(
                    params.layers[k], grads: grads.layers[k], x: x, batch: b, steps: t, hidden: h,
                    acts: ws.layers[k], dH: dOut.base, dGates: ws.dGates.base, dcCarry: ws.dcCarry.base,
                    dX: needDX ? Matrix(dNext.base, rows: t * b, cols: x.cols) : nil)
            } else {
                splitDirections(dOut, ws)
                for d in 0..<2 {
                    let xd = d == 0 ? x : Matrix(ws.reversedIn[k]!.base, rows: t * b, cols: x.cols)
                    LSTMLayer.backward(
                        params.layers[k * 2 + d], grads: grads.layers[k * 2 + d], x: xd, batch: b, steps: t,
                        hidden: h, acts: ws.layers[k * 2 + d], dH: ws.dirDH[d].base, dGates: ws.dGates.base,
                        dcCarry: ws.dcCarry.base, dX: needDX ? Matrix(ws.dirDX[d].base, rows: t * b, cols: x.cols) : nil)
                }
                if needDX { joinDirections(into: dNext, width: x.cols, ws) }
            }
            if needDX && k > 0 && ws.dropoutActive {
                multiply(Matrix(dNext.base, rows: t * b, cols: x.cols), by: ws.dropMask[k]!)
            }
            swap(&dOut, &dNext)
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
    }

    /// Forward (with dropout when given), then backward into `grads`; returns the summed loss.
    @discardableResult
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
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

    /// x̃⁽ˢ⁾ = x⁽ᴸ⁻¹⁻ˢ⁾ per sequence (zeros past its length): the reverse direction's input.
    private func reverseInTime(_ x: Matrix<T>, into dst: Buffer<T>, _ ws: Workspace<T>) -> Matrix<T> {
        let b = ws.batch, t = ws.steps, w = x.cols
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

    /// Layer k's time-ordered output (T·B, D·H): its h buffer, or both directions side by side.
    private func layerOutput(_ k: Int, _ ws: Workspace<T>) -> Matrix<T> {
        let b = ws.batch, t = ws.steps, h = config.hiddenSize
        if config.directions == 1 { return ws.layers[k].outputs(batch: b, steps: t, hidden: h) }
        let out = ws.layerOut[k]!.base, fwd = ws.layers[2 * k], rev = ws.layers[2 * k + 1]
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

    /// Splits δ(layer output) (T·B, 2H) into each direction's δh in processing order.
    private func splitDirections(_ dOut: Buffer<T>, _ ws: Workspace<T>) {
        let b = ws.batch, t = ws.steps, h = config.hiddenSize
        let f = ws.dirDH[0].base, rv = ws.dirDH[1].base
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
    private func joinDirections(into dst: Buffer<T>, width w: Int, _ ws: Workspace<T>) {
        let b = ws.batch, t = ws.steps
        let f = ws.dirDX[0].base, rv = ws.dirDX[1].base
        for r in 0..<b {
            let len = ws.lengths[r]
            for s in 0..<t {
                let out = dst.base + (s * b + r) * w, a = f + (s * b + r) * w
                if s < len {
                    let c = rv + ((len - 1 - s) * b + r) * w
                    for j in 0..<w { out[j] = a[j] + c[j] }
                } else {
                    out.update(from: a, count: w)
                }
            }
        }
    }

    /// Inverted dropout on x (rows = steps·B, time-major), masks drawn per sequence.
    private func applyDropout(
        slot: Int, _ x: Matrix<T>, steps tt: Int, _ ws: Workspace<T>, _ rowOffset: Int, _ ctx: DropoutContext
    ) -> Matrix<T> {
        let b = ws.batch, w = x.cols, p = config.dropout
        let mask = ws.dropMask[slot]!.base, out = ws.dropped[slot]!.base
        let keepScale = T(1 / (1 - p))
        for r in 0..<b {
            var rng = RandomSource(seed: dropoutSeed(ctx, slot: slot, sequence: rowOffset + r))
            for s in 0..<tt {
                let i = (s * b + r) * w
                for j in 0..<w {
                    let m: T = rng.nextUnit() < p ? 0 : keepScale
                    mask[i + j] = m
                    out[i + j] = x.base[(s * b + r) * x.stride + j] * m
                }
            }
        }
        return Matrix(out, rows: tt * b, cols: w)
    }

    /// One seed per (run seed, step, dropout slot, sequence), mixed SplitMix64-style.
    private func dropoutSeed(_ ctx: DropoutContext, slot: Int, sequence: Int) -> UInt64 {
        var z = ctx.seed
        for v in [UInt64(truncatingIfNeeded: ctx.step), UInt64(slot), UInt64(sequence)] {
            z = (z ^ v) &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
        }
        return z
    }

    private func multiply(_ m: Matrix<T>, by mask: Buffer<T>) {
        let w = m.cols
        for r in 0..<m.rows {
            let row = m.base + r * m.stride, mk = mask.base + r * w
            for j in 0..<w { row[j] *= mk[j] }
        }
    }

    /// Maps (time-major) prediction rows to (batch-major) target rows and marks padding rows.
    private func predictionRows(_ ws: Workspace<T>) -> PredictionRows {
        let b = ws.batch, t = ws.steps
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
            precondition(v.count == rows * config.outputSize,
                         "targets must have \(rows)×\(config.outputSize) values, got \(v.count)")
        }
    }
}
