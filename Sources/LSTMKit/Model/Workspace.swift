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
        let h = config.hiddenSize  // the widest layer: shared scratch is sized for it
        let i0 = config.inputWidth
        let o = config.outputSize
        let d = config.directions
        let dh = config.layerOutputWidth  // the top layer's output, the head's input
        let nl = config.numLayers
        let tb = maxBatch * maxSteps
        let widest = max(config.widestLayerOutput, i0)
        x0 = Buffer(count: tb * i0)
        let packedR = Buffer<T>(count: LSTMLayer.packedRCount(T.self, hidden: h))
        self.packedR = packedR
        layers = (0..<(nl * d)).map {
            LayerActivations(
                maxBatch: maxBatch, maxSteps: maxSteps, hidden: config.hiddenSize($0 / d), packedR: packedR)
        }
        biasSum = (0..<(nl * d)).map { config.bias == .pytorch ? Buffer(count: 4 * config.hiddenSize($0 / d)) : nil }
        layerOut = (0..<nl).map { k in d == 2 ? Buffer(count: tb * config.layerOutputWidth(k)) : nil }
        reversedIn = (0..<nl).map { k in d == 2 ? Buffer(count: tb * config.layerInputWidth(k)) : nil }
        let n = config.head == .sequence ? tb : maxBatch
        let useDropout = config.dropout > 0
        // Slot k < L drops layer k's input, D·H_{k−1} wide; slot L the head's input, D·H_last.
        dropMask = (0...nl).map { k in
            !useDropout || k == 0 ? nil : Buffer(count: (k == nl ? n : tb) * config.layerOutputWidth(k - 1))
        }
        dropped = (0...nl).map { k in
            !useDropout || k == 0 ? nil : Buffer(count: (k == nl ? n : tb) * config.layerOutputWidth(k - 1))
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
        var bufs: [Buffer<T>] = [x0, headIn, z, y, dz, dHead, dGates, dOutA, dOutB, dcCarry, packedR] + dirDH + dirDX
        bufs += layers.flatMap { [$0.gates, $0.h, $0.c, $0.tanhC] }
        bufs += (layerOut + reversedIn + dropMask + dropped + biasSum).compactMap { $0 }
        return bufs.reduce(0) { $0 + $1.count } * MemoryLayout<T>.stride
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
