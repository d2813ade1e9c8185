public import Foundation

/// The date formats S3 speaks, converted without `DateFormatter` (no locale, no time zone
/// database, no allocation of formatters): `x-amz-date` (`20150830T123600Z`), HTTP dates
/// (`Wed, 25 Nov 2026 00:18:22 GMT`, the `Last-Modified` header) and ISO 8601 with optional
/// fractional seconds (`2026-11-25T00:18:22.123Z`, in listings).
public enum AmazonDate {
    /// `x-amz-date` and the credential scope's date stamp of `date` (UTC).
    public static func format(_ date: Date) -> (amzDate: String, dateStamp: String) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (year, month, day, hour, minute, second) = civil(seconds)
        let stamp = pad(year, 4) + pad(month, 2) + pad(day, 2)
        return (stamp + "T" + pad(hour, 2) + pad(minute, 2) + pad(second, 2) + "Z", stamp)
    }

    /// Parses an RFC 7231 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
    /// - Returns: The date, or nil if the text is not exactly that form.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        // "Www, DD Mmm YYYY HH:MM:SS GMT" is 29 bytes.
        guard bytes.count == 29, bytes[3] == UInt8(ascii: ","), bytes[4] == UInt8(ascii: " "),
              bytes[7] == UInt8(ascii: " "), bytes[11] == UInt8(ascii: " "), bytes[16] == UInt8(ascii: " "),
              bytes[19] == UInt8(ascii: ":"), bytes[22] == UInt8(ascii: ":"), bytes[25] == UInt8(ascii: " "),
              String(decoding: bytes[26...], as: UTF8.self) == "GMT" else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(decoding: bytes[8..<11], as: UTF8.self)),
              let day = digits(bytes[5..<7]), let year = digits(bytes[12..<16]),
              let hour = digits(bytes[17..<19]), let minute = digits(bytes[20..<22]),
              let second = digits(bytes[23..<25]) else { return nil }
        return make(year: year, month: monthIndex + 1, day: day, hour: hour, minute: minute, second: second, fraction: 0)
    }

    /// Parses ISO 8601 UTC, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
    /// - Returns: The date, or nil if the text is not exactly that form.
    public static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"),
              bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = digits(bytes[0..<4]), let month = digits(bytes[5..<7]), let day = digits(bytes[8..<10]),
              let hour = digits(bytes[11..<13]), let minute = digits(bytes[14..<16]),
              let second = digits(bytes[17..<19]) else { return nil }
        var fraction = 0.0
        if bytes.count > 20 {
            // ".d…dZ", at most nanoseconds.
            guard bytes[19] == UInt8(ascii: "."), bytes.count - 21 >= 1, bytes.count - 21 <= 9,
                  let value = digits(bytes[20..<(bytes.count - 1)]) else { return nil }
            fraction = Double(value) / pow(10, Double(bytes.count - 21))
        }
        return make(year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction)
    }

    private static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return bytes.isEmpty ? nil : value
    }

    private static func make(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, fraction: Double) -> Date? {
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The UTC civil time of `seconds` since 1970.
    static func civil(_ seconds: Int64) -> (Int, Int, Int, Int, Int, Int) {
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day), Int(rest / 3600), Int(rest % 3600 / 60), Int(rest % 60))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
