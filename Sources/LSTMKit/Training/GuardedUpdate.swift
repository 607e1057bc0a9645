import Foundation

/// One optimizer update that can be undone: the weights this process updates (its slice of the
/// arena) and the optimizer's state are copied before the update and checked after it, so `Trainer`
/// can put them back when the update made any of them NaN or infinite.
///
/// With an `ElementwiseOptimizer` (all the built-in ones) the copy, the update and the check run part
/// by part (`ArenaSlices.part` elements, each part's arrays hot in cache while all three touch it) on the
/// shard workers; the parts are element-wise, so the result is the same bits for any worker count.
/// Otherwise (an `Optimizer` of the user's own) they run one after the other on the whole slice.
final class GuardedUpdate<T: LSTMScalar>: @unchecked Sendable {
    let parameters: ParameterSet<T>
    let optimizer: any Optimizer<T>
    let elementwise: (any ElementwiseOptimizer<T>)?
    /// The arena elements this process updates.
    let range: Range<Int>
    /// The guarded arrays (the arena's slice, then each state buffer), their copies, and the buffers
    /// they were found in. Captured at the first update and once more after it (an optimizer may
    /// allocate its state then); no allocation later.
    private var guarded: [(base: UnsafeMutablePointer<T>, count: Int)] = []
    private var backups: [Buffer<T>] = []
    private var buffers: [Buffer<T>] = []
    private var captures = 0
    /// Whether every guarded array mirrors `range` element for element (the parts need it).
    private var inParts = false
    /// Each worker's finding: all its parts finite.
    private let finite: UnsafeMutablePointer<Bool>
    private let maxWorkers: Int
    /// The threads the last `apply` ran its parts on (0: it ran whole, not in parts).
    private(set) var lastThreads = 0

    init(parameters: ParameterSet<T>, optimizer: any Optimizer<T>, range: Range<Int>, workers: Int) {
        self.parameters = parameters
        self.optimizer = optimizer
        elementwise = optimizer as? any ElementwiseOptimizer<T>
        self.range = range
        maxWorkers = max(1, workers)
        finite = .allocate(capacity: maxWorkers)
        finite.initialize(repeating: true, count: maxWorkers)
    }

    deinit { finite.deallocate() }

    /// Copies the guarded arrays, applies the optimizer's update with `grads` on up to `workers`
    /// threads, and returns whether every weight and state value is finite after it.
    func apply(_ grads: ParameterSet<T>, workers: Int) -> Bool {
        lastThreads = 0
        guard let elementwise else {
            if captures < 2 { capture() }
            backUp(part: nil)
            optimizer.step(parameters, grads)
            return isFinite(part: nil)
        }
        elementwise.beginStep(parameters, grads)
        if captures < 2 { capture() }
        guard inParts else {
            backUp(part: nil)
            elementwise.update(parameters, grads, part: 0..<range.count)
            return isFinite(part: nil)
        }
        let parts = (range.count + ArenaSlices.part - 1) / ArenaSlices.part
        guard parts > 0 else { return true }
        let w = ArenaSlices.threads(elements: range.count, workers: min(workers, maxWorkers))
        lastThreads = w
        runWorkers(w) { k in
            var ok = true
            for c in (k * parts / w)..<((k + 1) * parts / w) {
                let part = (c * ArenaSlices.part)..<min(self.range.count, (c + 1) * ArenaSlices.part)
                self.backUp(part: part)
                self.elementwise?.update(self.parameters, grads, part: part)
                ok = self.isFinite(part: part) && ok
            }
            self.finite[k] = ok
        }
        return (0..<w).allSatisfy { finite[$0] }
    }

    /// Puts back the weights and state copied by the last `apply`.
    func restore() {
        for i in guarded.indices { guarded[i].base.update(from: backups[i].base, count: guarded[i].count) }
    }

    /// Copies `part` (offsets into each guarded array; nil: all) to the backups.
    private func backUp(part: Range<Int>?) {
        for i in guarded.indices {
            let r = part ?? 0..<guarded[i].count
            (backups[i].base + r.lowerBound).update(from: guarded[i].base + r.lowerBound, count: r.count)
        }
    }

    /// Whether `part` (nil: all) of every guarded array is finite.
    private func isFinite(part: Range<Int>?) -> Bool {
        guarded.allSatisfy { g in
            let r = part ?? 0..<g.count
            return allFinite(g.base + r.lowerBound, r.count)
        }
    }

    /// Finds the arrays to guard and makes their copies (again only if the optimizer's buffers changed).
    private func capture() {
        captures += 1
        let now = [parameters.storage] + optimizer.stateBuffers.map(\.buffer)
        if now.count == buffers.count && zip(now, buffers).allSatisfy({ $0 === $1 }) { return }
        buffers = now
        guarded =
            [(parameters.storage.base + range.lowerBound, range.count)] + now.dropFirst().map { ($0.base, $0.count) }
        backups = guarded.map { Buffer<T>(count: $0.count) }
        inParts = guarded.allSatisfy { $0.count == range.count }
    }
}

/// Whether all `count` values at `p` are finite: one vectorised pass (x·0 is 0 for finite x and
/// NaN for ±∞ and NaN, so the sum stays 0 exactly when every value is finite).
@inline(__always)
func allFinite<T: LSTMScalar>(_ p: UnsafeMutablePointer<T>, _ count: Int) -> Bool {
    var i = 0
    if T.self == Float.self {
        let f = asFloat(p)
        var acc = SIMD8<Float>()
        while i + 8 <= count {
            acc += load8(f, i) * 0
            i += 8
        }
        guard acc.sum() == 0 else { return false }
    }
    var tail: T = 0
    while i < count {
        tail += p[i] * 0
        i += 1
    }
    return tail == 0
}
