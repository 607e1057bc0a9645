/// A fixed-size, zero-initialised block of scalars allocated once and freed on deinit.
///
/// The runtime's memory plan is a handful of these (parameters, gradients, workspaces),
/// sized up front; the hot path only takes views into them.
public final class Buffer<T: LSTMScalar>: @unchecked Sendable {
    /// Number of elements.
    public let count: Int
    /// Start of the storage; valid for the buffer's lifetime.
    public let base: UnsafeMutablePointer<T>

    /// Allocates `count` zeros (64-byte aligned, for SIMD loads and BLAS) through `Allocation`,
    /// which ends the process with a clear message if the memory is refused.
    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        let allocated = Self.allocatedCount(count)
        let (bytes, overflow) = allocated.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        let raw = Allocation.raw(
            byteCount: overflow ? Int.max : bytes, alignment: 64, for: "a tensor of \(count) \(T.self) values")
        // Zero bytes are 0 in every LSTMScalar (IEEE 754 binary formats): one memset instead of the
        // unspecialised per-element initialize(repeating:), 12 % of `lstm train`'s user time at
        // H = 1024, one step (farm-bench, 7 pairs).
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: allocated * MemoryLayout<T>.stride)
        base = raw.bindMemory(to: T.self, capacity: allocated)
    }

    /// Elements a buffer of `count` allocates: at least one, so an empty buffer has a valid base.
    public static func allocatedCount(_ count: Int) -> Int { max(1, count) }

    deinit { Allocation.free(UnsafeMutableRawPointer(base)) }

    /// The whole buffer as a Swift buffer pointer.
    @inlinable public var pointer: UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: base, count: count)
    }

    /// Sets every element to zero.
    public func zero() { base.update(repeating: 0, count: count) }

    /// Copies the contents out into an array.
    public func toArray() -> [T] { Array(pointer) }

    /// Overwrites the contents from an array of the same length.
    public func copy(from values: [T]) {
        precondition(values.count == count, "copy of \(values.count) values into a buffer of \(count)")
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: count) }
    }

    /// Element access (not for hot loops: take `pointer` once instead).
    public subscript(i: Int) -> T {
        get { base[i] }
        set { base[i] = newValue }
    }
}

/// A row-major matrix view into memory owned elsewhere: `rows × cols`, rows `stride` apart.
///
/// Views carry their shape so every GEMM checks its operands; they never own memory.
public struct Matrix<T: LSTMScalar>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    public let rows: Int
    public let cols: Int
    public let stride: Int

    @inlinable
    public init(_ base: UnsafeMutablePointer<T>, rows: Int, cols: Int, stride: Int? = nil) {
        self.base = base
        self.rows = rows
        self.cols = cols
        self.stride = stride ?? cols
    }

    /// Rows `r ..< r + n` of this matrix.
    @inlinable
    public func rows(_ r: Int, _ n: Int) -> Matrix {
        Matrix(base + r * stride, rows: n, cols: cols, stride: stride)
    }

    /// Columns `c ..< c + n` of this matrix (same rows, same stride).
    @inlinable
    public func cols(_ c: Int, _ n: Int) -> Matrix {
        Matrix(base + c, rows: rows, cols: n, stride: stride)
    }

    /// Whether rows are packed back to back (`stride == cols`).
    @inlinable public var isContiguous: Bool { stride == cols || rows <= 1 }

    /// Element count (`rows * cols`).
    @inlinable public var count: Int { rows * cols }

    /// Sets every element to zero.
    public func zero() {
        if isContiguous {
            base.update(repeating: 0, count: count)
        } else {
            for r in 0..<rows { (base + r * stride).update(repeating: 0, count: cols) }
        }
    }
}

/// GEMM on shaped views: `c ← alpha·op(a)·op(b) + beta·c`, transposes by flag, never by copy.
@inline(__always)
public func gemm<T: LSTMScalar>(
    _ a: Matrix<T>, transposeA: Bool = false,
    _ b: Matrix<T>, transposeB: Bool = false,
    into c: Matrix<T>, alpha: T = 1, beta: T = 0
) {
    let m = transposeA ? a.cols : a.rows
    let k = transposeA ? a.rows : a.cols
    let kb = transposeB ? b.cols : b.rows
    let n = transposeB ? b.rows : b.cols
    precondition(
        k == kb && c.rows == m && c.cols == n,
        "gemm shape mismatch: op(A) [\(m), \(k)] · op(B) [\(kb), \(n)] → C [\(c.rows), \(c.cols)]")
    if m == 0 || n == 0 { return }
    if k == 0 {  // BLAS leaves C untouched for k = 0 only when beta = 1; make it explicit.
        if beta == 0 { c.zero() } else if beta != 1 { scale(c, by: beta) }
        return
    }
    T.gemm(
        transA: transposeA, transB: transposeB, m: m, n: n, k: k,
        alpha: alpha, a: a.base, lda: a.stride, b: b.base, ldb: b.stride,
        beta: beta, c: c.base, ldc: c.stride)
}

/// c ← beta·c, elementwise.
public func scale<T: LSTMScalar>(_ c: Matrix<T>, by beta: T) {
    for r in 0..<c.rows {
        let row = c.base + r * c.stride
        for j in 0..<c.cols { row[j] *= beta }
    }
}
