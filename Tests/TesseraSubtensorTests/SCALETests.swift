import Testing
import TesseraSubtensor

@Suite struct SCALETests {
    @Test func compactMatchesScalecodec() throws {
        let cases = Golden.list("compact")
        #expect(cases.count >= 10)
        for item in cases {
            let value = try #require(UInt128(item["value"] as? String ?? ""))
            let expected = item["hex"] as? String ?? ""
            var encoder = ScaleEncoder()
            encoder.appendCompact(value)
            #expect(hex(encoder.bytes) == expected, "compact \(value)")
            var decoder = ScaleDecoder(bytes(expected))
            #expect(try decoder.readCompact(UInt128.self) == value)
            #expect(decoder.isAtEnd)
        }
    }

    @Test func fixedWidthAndContainers() throws {
        var e = ScaleEncoder()
        e.append(littleEndian: UInt16(0x0102))
        e.append(littleEndian: UInt64(1))
        e.append(true)
        e.appendString("abc")
        e.appendBytes([9, 8])
        #expect(hex(e.bytes) == "0201" + "0100000000000000" + "01" + "0c616263" + "080908")
        var d = ScaleDecoder(e.bytes)
        #expect(try d.read(UInt16.self) == 0x0102)
        #expect(try d.read(UInt64.self) == 1)
        #expect(try d.readBool())
        #expect(try d.readString() == "abc")
        #expect(try d.readByteVector() == [9, 8])
        try d.expectEnd()
    }

    @Test func optionsAndVectors() throws {
        var d = ScaleDecoder([0x01, 0x2A, 0x00, 0x0C, 0x04, 0x08, 0x0C])
        #expect(try d.readOption { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readByte() } == 42)
        #expect(try d.readOption { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readByte() } == nil)
        #expect(try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readCompact(UInt8.self) } == [1, 2, 3])
        #expect(d.isAtEnd)
    }

    static let malformedCompacts: [[UInt8]] = [
        [],  // empty
        [0x01],  // two-byte mode, one byte
        [0x02, 0x00],  // four-byte mode, two bytes
        [0x03, 0, 0, 0],  // big-integer mode, truncated
        [0x04 | 0x01, 0x00],  // non-canonical: 1 in two-byte mode
        [0xFF] + [UInt8](repeating: 0xFF, count: 67),  // wider than 128 bits
    ]

    @Test(arguments: malformedCompacts)
    func malformedCompactThrows(_ input: [UInt8]) {
        var d = ScaleDecoder(input)
        #expect(throws: SubtensorError.self) { try d.readCompact(UInt128.self) }
    }

    @Test func compactThatDoesNotFitThrows() {
        var d = ScaleDecoder([0x02, 0x00, 0x01, 0x00])  // 16384
        #expect(throws: SubtensorError.self) { try d.readCompact(UInt8.self) }
    }

    @Test func hostileLengthsThrowBeforeAllocating() {
        // A vector claiming 2^30 items in 6 bytes.
        var d = ScaleDecoder([0x03, 0x00, 0x00, 0x00, 0x40, 0x00])
        #expect(throws: SubtensorError.self) { try d.readByteVector() }
        var v = ScaleDecoder([0xFE, 0xFF, 0x03, 0x00, 1, 2, 3])
        #expect(throws: SubtensorError.self) { try v.readVector(minimumItemSize: 32) { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readBytes(32) } }
        var b = ScaleDecoder([0x02])
        #expect(throws: SubtensorError.self) { try b.readBool() }
        var o = ScaleDecoder([0x02])
        #expect(throws: SubtensorError.self) { try o.readOption { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readByte() } }
    }

    @Test func hexStrings() throws {
        #expect(try Hex.decode("0x00ff10") == [0, 255, 16])
        #expect(try Hex.decode("ABcd") == [0xAB, 0xCD])
        #expect(Hex.encode([1, 0xAB]) == "0x01ab")
        #expect(throws: SubtensorError.self) { try Hex.decode("0x123") }
        #expect(throws: SubtensorError.self) { try Hex.decode("zz") }
    }
}
