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
    /// Per layer and direction with `bias: pytorch`: (G) b_ih + b_hh, summed at each forward.
    let biasSum: [Buffer<T>?]
    /// Per layer, when D = 2: (T, B, 2H_k) the two directions' h side by side, time-ordered.
    let layerOut: [Buffer<T>?]
    /// Per layer, when D = 2: (T, B, I_k) the layer input reversed within each sequence.
    let reversedIn: [Buffer<T>?]
    /// Dropout slot k (1 ≤ k < L: layer k's input; L: the output layer's input): the
    /// mask values (0 or 1/(1−p)) and the masked input. Empty when dropout is 0.
    let dropMask: [Buffer<T>?]
    let dropped: [Buffer<T>?]
    /// (B, D·H_last): the last head's input, each sequence's final step gathered.
    let headIn: Buffer<T>
    /// (N, O): logits z and predictions y = F(z).
    let z: Buffer<T>
    let y: Buffer<T>
    /// (N, O): δz; (N, D·H): δ of the head input (last head).
    let dz: Buffer<T>
    let dHead: Buffer<T>
    /// (T, B, G) for the widest layer: δθ ⊙ f′_θ of the layer being differentiated.
    let dGates: Buffer<T>
    /// (T, B, max(D·max H_k, I₀)) ×2: δ of layer outputs flowing down the stack, ping-ponged.
    let dOutA: Buffer<T>
    let dOutB: Buffer<T>
    /// When D = 2: per direction, δh (T, B, H) and δx (T, B, max(D·H, I₀)) in processing order.
    let dirDH: [Buffer<T>]
    let dirDX: [Buffer<T>]
    /// (B, max H_k): δc carry.
    let dcCarry: Buffer<T>
    /// The widest layer's R packed for the per-step GEMMs, shared by all layers (empty when T has
    /// no packed GEMM): `LSTMLayer.packedRCount`.
    let packedR: Buffer<T>
    /// This workspace's place in the shard workers' step group (`StepGroup`), shared by its layers.
    let stepGroup: StepGroupSlot
    /// Told after each gradient bucket's backward (`GradientBuckets`), when the shard workers
    /// overlap the exchange with backpropagation; nil otherwise.
    var bucketReadiness: BucketReadiness?

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

    /// The element count of every buffer below, computed once (`WorkspaceSizes`).
    public let sizes: WorkspaceSizes

    public init(config: ModelConfig, maxBatch: Int, maxSteps: Int, computesInputGradient: Bool = false) {
        precondition(maxBatch > 0 && maxSteps > 0, "workspace needs maxBatch and maxSteps ≥ 1")
        self.config = config
        self.maxBatch = maxBatch
        self.maxSteps = maxSteps
        self.computesInputGradient = computesInputGradient
        let sizes: WorkspaceSizes
        do { sizes = try WorkspaceSizes(T.self, config: config, maxBatch: maxBatch, maxSteps: maxSteps) } catch {
            preconditionFailure("a workspace of \(error.what) past Int: \(config) B=\(maxBatch) T=\(maxSteps)")
        }
        self.sizes = sizes
        func buffer(_ count: Int) -> Buffer<T> { Buffer(count: count) }
        func buffer(_ count: Int?) -> Buffer<T>? { count.map { Buffer(count: $0) } }
        x0 = buffer(sizes.x0)
        let packedR = buffer(sizes.packedR)
        self.packedR = packedR
        let stepGroup = StepGroupSlot()
        self.stepGroup = stepGroup
        layers = sizes.layers.map {
            LayerActivations(
                gates: buffer($0.gates), h: buffer($0.h), c: buffer($0.c), tanhC: buffer($0.tanhC), packedR: packedR,
                stepGroup: stepGroup)
        }
        biasSum = sizes.biasSum.map(buffer)
        layerOut = sizes.layerOut.map(buffer)
        reversedIn = sizes.reversedIn.map(buffer)
        dropMask = sizes.dropMask.map(buffer)
        dropped = sizes.dropped.map(buffer)
        headIn = buffer(sizes.headIn)
        z = buffer(sizes.predictions)
        y = buffer(sizes.predictions)
        dz = buffer(sizes.predictions)
        dHead = buffer(sizes.headIn)
        dGates = buffer(sizes.dGates)
        dOutA = buffer(sizes.dOut)
        dOutB = buffer(sizes.dOut)
        dirDH = sizes.dirDH.map(buffer)
        dirDX = sizes.dirDX.map(buffer)
        dcCarry = buffer(sizes.dcCarry)
        let nl = config.numLayers
        layerInputs = Array(repeating: Matrix(x0.base, rows: 0, cols: 0), count: nl)
        headInput = Matrix(x0.base, rows: 0, cols: 0)
        lengths = []
        lengths.reserveCapacity(maxBatch)
    }

    /// Bytes this workspace allocated (`sizes.allocatedCount` scalars).
    public var byteCount: Int {
        var bufs: [Buffer<T>] = [x0, headIn, z, y, dz, dHead, dGates, dOutA, dOutB, dcCarry, packedR] + dirDH + dirDX
        bufs += layers.flatMap { [$0.gates, $0.h, $0.c, $0.tanhC] }
        bufs += (layerOut + reversedIn + dropMask + dropped + biasSum).compactMap { $0 }
        return bufs.reduce(0) { $0 + Buffer<T>.allocatedCount($1.count) } * MemoryLayout<T>.stride
    }

    func begin(_ view: MinibatchView<T>) {
        let b = view.batchSize
        let t = view.steps
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
        let d = config.directions
        return LSTMState(
            h: layers.indices.map { slot in
                let n = batch * config.hiddenSize(slot / d)
                return Array(UnsafeBufferPointer(start: layers[slot].h.base + steps * n, count: n))
            },
            c: layers.indices.map { slot in
                let n = batch * config.hiddenSize(slot / d)
                return Array(UnsafeBufferPointer(start: layers[slot].c.base + steps * n, count: n))
            })
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

/// The element count of every buffer of a `Workspace(config:maxBatch:maxSteps:)`, in
/// overflow-checked arithmetic: the workspace allocates from these, and the memory plan
/// (LSTMRun's `MemoryPlan`) sums them, so neither can drift from the other.
public struct WorkspaceSizes: Sendable, Equatable {
    /// One layer and direction's activations (`LayerActivations`).
    public struct Activations: Sendable, Equatable {
        /// (T, B, 4H_k): the gates.
        public let gates: Int
        /// (T+1, B, H_k) each: h and c with the initial state in slot 0.
        public let h: Int
        public let c: Int
        /// (T, B, H_k): tanh(c).
        public let tanhC: Int
    }

    /// (T, B, I₀): layer 0's input.
    public let x0: Int
    /// Per layer and direction (k·D + d).
    public let layers: [Activations]
    /// Per layer and direction with `bias: pytorch`: 4H_k; else nil.
    public let biasSum: [Int?]
    /// Per layer when D = 2: (T, B, D·H_k) and (T, B, I_k); else nil.
    public let layerOut: [Int?]
    public let reversedIn: [Int?]
    /// Dropout slots 0…L (slot 0 and every slot without dropout: nil): mask and masked input.
    public let dropMask: [Int?]
    public let dropped: [Int?]
    /// (B, D·H_last) with the `last` head, else 0: headIn and dHead each.
    public let headIn: Int
    /// (N, O): z, y and dz each.
    public let predictions: Int
    /// (T, B, 4·max H_k).
    public let dGates: Int
    /// (T, B, max(D·max H_k, I₀)): dOutA and dOutB each.
    public let dOut: Int
    /// When D = 2, per direction: (T, B, max H_k) and (T, B, max(D·max H_k, I₀)).
    public let dirDH: [Int]
    public let dirDX: [Int]
    /// (B, max H_k).
    public let dcCarry: Int
    /// The widest layer's packed R (`LSTMLayer.packedRCount`; 0 when the scalar has no packed GEMM).
    public let packedR: Int
    /// Scalars allocated in all: the sum over the buffers of `Buffer.allocatedCount`.
    public let allocatedCount: Int

    public init<T: LSTMScalar>(_: T.Type, config c: ModelConfig, maxBatch b: Int, maxSteps t: Int)
        throws(SizeOverflow)
    {
        let what = "the workspaces"
        func p(_ f: Int...) throws(SizeOverflow) -> Int { try CheckedSize.product(f, what) }
        let d = c.directions
        let nl = c.numLayers
        let h = c.hiddenSize  // the widest layer: shared scratch is sized for it
        let tb = try p(b, t)
        let n = c.head == .sequence ? tb : b
        let widest = max(c.widestLayerOutput, c.inputWidth)
        x0 = try p(tb, c.inputWidth)
        var layers: [Activations] = []
        var biasSum: [Int?] = []
        for slot in 0..<(nl * d) {
            let hk = c.hiddenSize(slot / d)
            layers.append(
                Activations(
                    gates: try p(tb, 4, hk), h: try p(t + 1, b, hk), c: try p(t + 1, b, hk), tanhC: try p(tb, hk)))
            biasSum.append(c.bias == .pytorch ? try p(4, hk) : nil)
        }
        self.layers = layers
        self.biasSum = biasSum
        var layerOut: [Int?] = []
        var reversedIn: [Int?] = []
        for k in 0..<nl {
            layerOut.append(d == 2 ? try p(tb, c.layerOutputWidth(k)) : nil)
            reversedIn.append(d == 2 ? try p(tb, c.layerInputWidth(k)) : nil)
        }
        self.layerOut = layerOut
        self.reversedIn = reversedIn
        // Slot k < L drops layer k's input, D·H_{k−1} wide; slot L the head's input, D·H_last.
        var drop: [Int?] = []
        for k in 0...nl {
            drop.append(c.dropout <= 0 || k == 0 ? nil : try p(k == nl ? n : tb, c.layerOutputWidth(k - 1)))
        }
        dropMask = drop
        dropped = drop
        headIn = c.head == .last ? try p(b, c.layerOutputWidth) : 0
        predictions = try p(n, c.outputSize)
        dGates = try p(tb, 4, h)
        dOut = try p(tb, widest)
        dirDH = d == 2 ? [try p(tb, h), try p(tb, h)] : []
        dirDX = d == 2 ? [try p(tb, widest), try p(tb, widest)] : []
        dcCarry = try p(b, h)
        packedR = LSTMLayer.packedRCount(T.self, hidden: h)
        var counts = [x0, headIn, headIn, predictions, predictions, predictions, dGates, dOut, dOut, dcCarry, packedR]
        counts += dirDH + dirDX + layers.flatMap { [$0.gates, $0.h, $0.c, $0.tanhC] }
        counts += (layerOut + reversedIn + dropMask + dropped + biasSum).compactMap { $0 }
        allocatedCount = try CheckedSize.sum(counts.map(Buffer<T>.allocatedCount), what)
    }

    /// Bytes allocated for scalars of `stride` bytes.
    public func bytes(stride: Int) throws(SizeOverflow) -> Int {
        try CheckedSize.product([allocatedCount, stride], "the workspaces")
    }
}
