import Foundation

/// TensorBoard event files: TFRecord framing of serialized `Tensorboard_Event` messages. Each
/// record is the message's length (UInt64, little-endian), the masked CRC32C of those 8 bytes, the
/// message, and the masked CRC32C of the message: what TensorBoard's readers expect.
public enum EventFile {
    /// `payload` framed as one TFRecord.
    public static func record(_ payload: Data) -> Data {
        var out = Data(capacity: payload.count + 16)
        var length = UInt64(payload.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Data($0) }
        out.append(lengthBytes)
        var lengthCRC = CRC32C.masked(lengthBytes).littleEndian
        out.append(withUnsafeBytes(of: &lengthCRC) { Data($0) })
        out.append(payload)
        var dataCRC = CRC32C.masked(payload).littleEndian
        out.append(withUnsafeBytes(of: &dataCRC) { Data($0) })
        return out
    }

    /// The events of an event file, every record's checksums checked.
    public static func events(in data: Data) throws -> [Tensorboard_Event] {
        let bytes = [UInt8](data)
        var events: [Tensorboard_Event] = []
        var at = 0
        func word<T: FixedWidthInteger>(_ type: T.Type, _ offset: Int) -> T {
            var v: T = 0
            for k in 0..<MemoryLayout<T>.size { v |= T(bytes[offset + k]) << (8 * k) }
            return v
        }
        while at < bytes.count {
            guard at + 12 <= bytes.count else { throw EventFileError("a record header cut short at byte \(at)") }
            let length = Int(word(UInt64.self, at))
            guard word(UInt32.self, at + 8) == CRC32C.masked(bytes[at..<(at + 8)]) else {
                throw EventFileError("the length CRC of the record at byte \(at) does not match")
            }
            guard length <= bytes.count - at - 16 else {
                throw EventFileError("the record at byte \(at) is cut short (\(length) bytes announced)")
            }
            let payload = bytes[(at + 12)..<(at + 12 + length)]
            guard word(UInt32.self, at + 12 + length) == CRC32C.masked(payload) else {
                throw EventFileError("the data CRC of the record at byte \(at) does not match")
            }
            events.append(try Tensorboard_Event(serializedBytes: Array(payload)))
            at += 16 + length
        }
        return events
    }
}

/// An event file that is not well-formed.
public struct EventFileError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// CRC-32C (Castagnoli), as TFRecord uses it, and its masked form.
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: rotated right by 15 bits plus a constant.
    public static func masked<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let c = checksum(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}
