/// XXH64, the 64-bit xxHash (github.com/Cyan4973/xxHash, "xxhash_spec.md"): a fast
/// non-cryptographic hash for detecting corrupted files (a flipped bit changes the hash with
/// probability 1 − 2⁻⁶⁴). Streaming: feed bytes with `update` in any pieces, then `finalize`;
/// the result does not depend on how the input was cut. Checked against the reference
/// implementation's values in LSTMFilesTests.
public struct XXH64: Sendable {
    static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private var v1: UInt64, v2: UInt64, v3: UInt64, v4: UInt64
    private let seed: UInt64
    private var total: UInt64 = 0
    /// Up to 31 bytes not yet consumed by a 32-byte stripe.
    private var pending: [UInt8] = []

    /// A hasher with `seed` (0 by default).
    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ Self.prime1 &+ Self.prime2
        v2 = seed &+ Self.prime2
        v3 = seed
        v4 = seed &- Self.prime1
        pending.reserveCapacity(32)
    }

    /// The hash of `bytes` in one call.
    public static func hash<C: Collection>(_ bytes: C, seed: UInt64 = 0) -> UInt64 where C.Element == UInt8 {
        var h = XXH64(seed: seed)
        h.update(Array(bytes))
        return h.finalize()
    }

    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        var acc = acc &+ input &* prime2
        acc = (acc << 31) | (acc >> 33)
        return acc &* prime1
    }

    @inline(__always) private static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        let acc = acc ^ round(0, v)
        return acc &* prime1 &+ prime4
    }

    @inline(__always) private static func load64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Adds `bytes` to the input.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Adds `bytes` to the input.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var n = bytes.count
        total &+= UInt64(n)
        if !pending.isEmpty {
            let take = min(32 - pending.count, n)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: p, count: take))
            p += take
            n -= take
            if pending.count < 32 { return }
            pending.withUnsafeBytes { stripes($0.baseAddress!, 32) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = n & ~31
        if whole > 0 { stripes(p, whole) }
        if n > whole { pending.append(contentsOf: UnsafeRawBufferPointer(start: p + whole, count: n - whole)) }
    }

    /// Consumes `count` bytes (a multiple of 32) at `p`.
    private mutating func stripes(_ p: UnsafeRawPointer, _ count: Int) {
        var a = v1
        var b = v2
        var c = v3
        var d = v4
        var i = 0
        while i < count {
            a = Self.round(a, Self.load64(p, i))
            b = Self.round(b, Self.load64(p, i + 8))
            c = Self.round(c, Self.load64(p, i + 16))
            d = Self.round(d, Self.load64(p, i + 24))
            i += 32
        }
        v1 = a
        v2 = b
        v3 = c
        v4 = d
    }

    /// The hash of everything added so far (the hasher can keep being fed afterwards).
    public func finalize() -> UInt64 {
        var h: UInt64
        if total >= 32 {
            h =
                ((v1 << 1) | (v1 >> 63)) &+ ((v2 << 7) | (v2 >> 57)) &+ ((v3 << 12) | (v3 >> 52))
                &+ ((v4 << 18) | (v4 >> 46))
            h = Self.merge(h, v1)
            h = Self.merge(h, v2)
            h = Self.merge(h, v3)
            h = Self.merge(h, v4)
        } else {
            h = seed &+ Self.prime5
        }
        h &+= total
        pending.withUnsafeBytes { raw in
            var i = 0
            let n = raw.count
            while i + 8 <= n {
                let k = Self.round(0, Self.load64(raw.baseAddress!, i))
                h ^= k
                h = ((h << 27) | (h >> 37)) &* Self.prime1 &+ Self.prime4
                i += 8
            }
            if i + 4 <= n {
                let k = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                h ^= k &* Self.prime1
                h = ((h << 23) | (h >> 41)) &* Self.prime2 &+ Self.prime3
                i += 4
            }
            while i < n {
                h ^= UInt64(raw[i]) &* Self.prime5
                h = ((h << 11) | (h >> 53)) &* Self.prime1
                i += 1
            }
        }
        h ^= h >> 33
        h = h &* Self.prime2
        h ^= h >> 29
        h = h &* Self.prime3
        h ^= h >> 32
        return h
    }
}
