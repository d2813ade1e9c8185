import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TesseraStorage

/// A parsed XML element: name, concatenated text, children. Enough for S3's responses.
struct XMLNode: Sendable {
    var name: String
    var text: String = ""
    var children: [XMLNode] = []

    /// The first child named `name`.
    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    /// Every child named `name`, in order.
    func children(named name: String) -> [XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child named `name`.
    func text(of name: String) -> String? { child(name)?.text }
}

/// Parses S3's XML responses with bounds on depth, element count and text size, so a hostile or
/// broken server cannot make the parser allocate without limit.
enum S3XML {
    static let maximumDepth = 16
    static let maximumElements = 200_000

    /// Parses a document.
    /// - Throws: ``StorageError`` `.invalidResponse` if it is not well-formed or exceeds the bounds.
    static func parse(_ bytes: [UInt8], context: String) throws -> XMLNode {
        let builder = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = false
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        let parsed = parser.parse()
        if let failure = builder.failure {
            throw StorageError(.invalidResponse, "\(context): \(failure)")
        }
        guard parsed, let root = builder.root else {
            let reason = parser.parserError.map { "\($0)" } ?? "not well-formed"
            throw StorageError(.invalidResponse, "\(context): the response is not valid XML (\(reason))")
        }
        return root
    }

    /// S3's `<Error>`: code, message, request id.
    static func parseError(_ bytes: [UInt8]) -> (code: String?, message: String?, requestID: String?)? {
        guard !bytes.isEmpty, let root = try? parse(bytes, context: "error response"), root.name == "Error" else { return nil }
        return (root.text(of: "Code"), root.text(of: "Message"), root.text(of: "RequestId"))
    }

    /// One object of a ListObjectsV2 page, before key validation.
    struct ListedObject {
        var key: String
        var size: Int
        var etag: String
        var lastModified: Date
    }

    /// A ListObjectsV2 page.
    struct ListPage {
        var objects: [ListedObject]
        var isTruncated: Bool
        var nextContinuationToken: String?
    }

    static func parseListObjectsV2(_ bytes: [UInt8], urlEncoded: Bool) throws -> ListPage {
        let root = try parse(bytes, context: "ListObjectsV2")
        guard root.name == "ListBucketResult" else {
            throw StorageError(.invalidResponse, "ListObjectsV2: expected <ListBucketResult>, got <\(root.name)>")
        }
        var objects: [ListedObject] = []
        for entry in root.children(named: "Contents") {
            guard let rawKey = entry.text(of: "Key"),
                  let sizeText = entry.text(of: "Size"), let size = Int(sizeText), size >= 0,
                  let modifiedText = entry.text(of: "LastModified"), let modified = AmazonDate.parseISO8601(modifiedText) else {
                throw StorageError(.invalidResponse, "ListObjectsV2: an entry lacks a valid Key, Size or LastModified")
            }
            let key = urlEncoded ? (percentDecode(rawKey) ?? "") : rawKey
            objects.append(ListedObject(key: key, size: size, etag: unquote(entry.text(of: "ETag") ?? ""), lastModified: modified))
        }
        let truncated: Bool
        switch root.text(of: "IsTruncated") {
        case "true": truncated = true
        case "false", nil: truncated = false
        case let other?: throw StorageError(.invalidResponse, "ListObjectsV2: IsTruncated is '\(other)'")
        }
        let token = root.text(of: "NextContinuationToken").flatMap { $0.isEmpty ? nil : $0 }
        if truncated && token == nil {
            throw StorageError(.invalidResponse, "ListObjectsV2: a truncated page without NextContinuationToken")
        }
        return ListPage(objects: objects, isTruncated: truncated, nextContinuationToken: truncated ? token : nil)
    }

    static func parseInitiateMultipartUpload(_ bytes: [UInt8]) throws -> String {
        let root = try parse(bytes, context: "CreateMultipartUpload")
        guard root.name == "InitiateMultipartUploadResult", let id = root.text(of: "UploadId"), !id.isEmpty else {
            throw StorageError(.invalidResponse, "CreateMultipartUpload: no UploadId in the response")
        }
        return id
    }

    /// The body of CompleteMultipartUpload.
    static func completeMultipartUploadBody(etags: [String]) -> [UInt8] {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for (index, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(escape("\"" + etag + "\""))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        return Array(xml.utf8)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Strips one pair of surrounding double quotes (S3 quotes ETags).
    static func unquote(_ etag: String) -> String {
        var text = Substring(etag)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        return String(text)
    }

    /// Decodes `%XX` escapes (and `+` as a space, as S3's url encoding type does); nil if
    /// malformed or not UTF-8.
    static func percentDecode(_ text: String) -> String? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}

/// Builds an ``XMLNode`` tree from parser callbacks, enforcing the bounds.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    private var stack: [XMLNode] = []
    private var elements = 0
    private var textBytes = 0
    var root: XMLNode?
    var failure: String?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        elements += 1
        guard stack.count < S3XML.maximumDepth, elements <= S3XML.maximumElements else {
            failure = "the XML is nested deeper than \(S3XML.maximumDepth) or has more than \(S3XML.maximumElements) elements"
            parser.abortParsing()
            return
        }
        stack.append(XMLNode(name: elementName))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        textBytes += string.utf8.count
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA block: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: block, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard let node = stack.popLast() else { return }
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].children.append(node)
        }
    }

    func parser(_ parser: XMLParser, resolveExternalEntityName name: String, systemID: String?) -> Data? {
        nil  // never fetch anything a response points at
    }
}
