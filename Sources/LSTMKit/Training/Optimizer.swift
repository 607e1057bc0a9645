import Foundation

#if arch(x86_64)
    internal import _Builtin_intrinsics.intel
#endif

// Parameter updates as flat loops over the arena (parameters, gradients and optimizer state
// share one layout). Update rules, hyperparameter names, defaults, validation and state names
// follow torch.optim's single-tensor (foreach=False) implementations, so trajectories agree
// with PyTorch to rounding (Tests/LSTMKitTests/OptimizerTests.swift checks 1e-12 in Double).
//
// Weight decay never writes into the gradient arena: like torch's `grad.add(param, ...)` it
// makes a local d = g + λθ, so the caller's gradients are left as they were.
//
// Each `step` carries two pairs of @_specialize: the exported pair lets other modules call the
// Float/Double bodies directly; the plain pair makes the generic body check Scalar at run time
// and jump to them. The second matters because callers hold `any Optimizer<T>` (Trainer): the
// protocol witness enters the generic body, which without that check runs unspecialised,
// ~30–60× slower (measured: Adam<Float> 143 → 3.7 ns per parameter through the existential).
//
// SGD's loops vectorise. Adam, RMSprop and Adagrad's scalar loops do not: on Linux a scalar
// `squareRoot()` is a sqrtss with an errno fallback call to sqrtf, which LLVM will not vectorise.
// So for Float each has a fused SIMD8<Float> pass beside its scalar loop, which stays the
// reference and runs Double and the n mod 8 tail. SIMD8's own `squareRoot()` is also lane by lane
// (eight sqrtss with fallback calls), so `sqrt8` uses SSE's sqrtps on x86_64. The SIMD pass does
// the same IEEE operations in the same order (no reassociation, no FMA; sqrt and division are
// correctly rounded either way), so it is bitwise equal to the scalar loop; OptimizerSIMDTests
// check that. `scalarReference` (SPI) forces the scalar loop, for those tests and lstm-bench.

/// An update rule applied to a parameter arena given its gradient arena.
public protocol Optimizer<Scalar>: AnyObject {
    associatedtype Scalar: LSTMScalar
    /// torch.optim's class name in lower case ("sgd", "adam", …), as stored in checkpoints.
    var name: String { get }
    /// The step size used by the next `step`.
    var learningRate: Double { get set }
    /// Updates taken so far; checkpoints save and restore it.
    var stepCount: Int { get set }
    /// State tensors mirroring the parameter arena (e.g. Adam's "exp_avg", "exp_avg_sq"),
    /// by torch.optim's names; checkpoints save and restore their contents.
    var stateBuffers: [(name: String, buffer: Buffer<Scalar>)] { get }
    /// The hyperparameters with every default filled in (`lr` is the current learning rate);
    /// `configuration.makeOptimizer(layout:)` builds an equivalent fresh optimizer.
    var configuration: OptimizerConfig { get }
    /// The elements of the arena this optimizer updates and whose state it keeps, ZeRO stage 1
    /// (`ArenaSlices`: one rank's slice; its state buffers then hold only that slice); nil: all.
    var slice: Range<Int>? { get }
    /// Applies one update to `params` from `grads` (same layout), to the elements of `slice`.
    func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>)
}

extension Optimizer {
    public var slice: Range<Int>? { nil }

    /// The elements `step` updates in an arena of `count`.
    func updated(_ count: Int) -> Range<Int> {
        guard let slice else { return 0..<count }
        precondition(slice.upperBound <= count, "optimizer slice \(slice) outside an arena of \(count)")
        return slice
    }
    /// Name and learning rate only, for conformers that predate `configuration`.
    public var configuration: OptimizerConfig { OptimizerConfig(name: name, values: ["lr": [learningRate]]) }
}

/// An optimizer whose update is element-wise (each element's new weight and state depend on that
/// element's weight, gradient and state alone), so one update can run in parts on several threads:
/// `beginStep` once, then `update(_:_:part:)` for disjoint parts covering `0..<n` (n = the count of
/// the elements it updates; parts are offsets into them), in any order, at once. Together they are
/// bitwise equal to `step`. All the built-in optimizers are; `Trainer` runs their update, its backup
/// and its finite check part by part on the shard workers.
public protocol ElementwiseOptimizer<Scalar>: Optimizer {
    /// Advances `stepCount` and readies the state for the update (allocates it, fixes what depends
    /// on the step); no element changes.
    func beginStep(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>)
    /// Updates the elements `part` (offsets into the updated range) for the step begun.
    func update(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>, part: Range<Int>)
}

extension ElementwiseOptimizer {
    /// `beginStep`, then `update` over every element the optimizer updates.
    public func step(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>) {
        beginStep(params, grads)
        update(params, grads, part: 0..<updated(params.count).count)
    }

    /// The elements of `params` the update covers, checked against the state (`state`: its count).
    func updatedRange(_ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>, state: Int?) -> Range<Int> {
        precondition(params.layout == grads.layout, "parameter and gradient layouts differ")
        let range = updated(params.count)
        if let state { precondition(range.count == state, "optimizer state was made for another layout") }
        return range
    }

    /// The weights and gradients of `part` (offsets into the updated range), checked as `updatedRange`.
    func partPointers(
        _ params: ParameterSet<Scalar>, _ grads: ParameterSet<Scalar>, part: Range<Int>, state: Int?
    ) -> (p: UnsafeMutablePointer<Scalar>, g: UnsafeMutablePointer<Scalar>) {
        let at = updatedRange(params, grads, state: state).lowerBound + part.lowerBound
        return (params.storage.base + at, grads.storage.base + at)
    }
}

/// Traps with the validation message if `config` is invalid (the initialisers' contract;
/// `OptimizerConfig.makeOptimizer` throws the same message instead).
func requireValid(_ config: OptimizerConfig) {
    do { try config.validate() } catch { preconditionFailure("\(error)") }
}

// MARK: - SIMD helpers shared by the Float passes

/// An eight-lane view of `p[i..<i+8]` (Float arenas are only 4-byte aligned).
@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

/// Stores eight lanes to `p[i..<i+8]`.
@inline(__always)
func store8(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: SIMD8<Float>.self)
}

/// √x on eight lanes, correctly rounded like the scalar `squareRoot()`: two sqrtps on x86_64, where
/// SIMD8's `squareRoot()` would be eight scalar calls.
@inline(__always)
func sqrt8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    #if arch(x86_64)
        SIMD8(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
    #else
        x.squareRoot()
    #endif
}

/// The same memory seen as Float, for the SIMD passes once `S == Float` has been checked.
@inline(__always)
func asFloat<S>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

/// One Adam/AdamW update (torch's `_single_tensor_adam`), inlined into each specialised `step`:
/// the scalar reference, and the loop for Double and the SIMD pass's tail.
