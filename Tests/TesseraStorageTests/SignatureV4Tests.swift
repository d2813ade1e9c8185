import Foundation
import Testing
import TesseraS3

/// Known-answer tests from AWS's published Signature Version 4 test suite
/// (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html, service `service`,
/// us-east-1, 2015-08-30T12:36:00Z, key AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY)
/// and the S3 documentation's examples (sig-v4-header-based-auth, 2013-05-24, key
/// AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY). The expected values are
/// AWS's, not this implementation's: a bug cannot agree with them by construction.
@Suite("Signature Version 4")
struct SignatureV4Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var method: String
        var path: String
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        var body: String = ""
        var authorization: String
        var testDescription: String { name }
    }

    static let suiteCredentials = S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let scope = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    static let host = ("Host", "example.amazonaws.com")

    static let vectors: [Vector] = [
        Vector(name: "get-vanilla", method: "GET", path: "/", headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(name: "get-vanilla-query-order-key-case", method: "GET", path: "/",
               query: [("Param2", "value2"), ("Param1", "value1")], headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        Vector(name: "get-vanilla-empty-query-key", method: "GET", path: "/", query: [("Param1", "value1")], headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
        Vector(name: "get-vanilla-query-unreserved", method: "GET", path: "/",
               query: [("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")], headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        Vector(name: "get-vanilla-utf8-query", method: "GET", path: "/", query: [("\u{1234}", "bar")], headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
        Vector(name: "get-unreserved", method: "GET", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        Vector(name: "get-utf8", method: "GET", path: "/\u{1234}", headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        Vector(name: "get-header-key-duplicate", method: "GET", path: "/",
               headers: [host, ("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
               authorization: scope + "SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
        Vector(name: "get-header-value-order", method: "GET", path: "/",
               headers: [host, ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")],
               authorization: scope + "SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        Vector(name: "get-header-value-trim", method: "GET", path: "/",
               headers: [host, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
               authorization: scope + "SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        Vector(name: "post-vanilla", method: "POST", path: "/", headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        Vector(name: "post-vanilla-empty-query-value", method: "POST", path: "/", query: [("Param1", "value1")], headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        Vector(name: "post-vanilla-query-nonunreserved", method: "POST", path: "/",
               query: [("@#$%^", ""), ("+", "/,?><`\";:\\|][{}")], headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"),
        Vector(name: "post-vanilla-query-space", method: "POST", path: "/", query: [("p", "")], headers: [host],
               authorization: scope + "SignedHeaders=host;x-amz-date, Signature=e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b"),
        Vector(name: "post-header-key-sort", method: "POST", path: "/", headers: [host, ("My-Header1", "value1")],
               authorization: scope + "SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
        Vector(name: "post-header-value-case", method: "POST", path: "/", headers: [host, ("My-Header1", "VALUE1")],
               authorization: scope + "SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        Vector(name: "post-x-www-form-urlencoded", method: "POST", path: "/",
               headers: [("Content-Type", "application/x-www-form-urlencoded"), host], body: "Param1=value1",
               authorization: scope + "SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
        Vector(name: "post-x-www-form-urlencoded-parameters", method: "POST", path: "/",
               headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf8"), host], body: "Param1=value1",
               authorization: scope + "SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
    ]

    @Test("AWS test-suite vectors", arguments: vectors)
    func suite(_ vector: Vector) {
        let signer = SignatureV4(credentials: Self.suiteCredentials, region: "us-east-1", service: "service")
        let signed = signer.sign(
            method: vector.method, path: vector.path, query: vector.query, headers: vector.headers,
            payloadHash: SignatureV4.hexSHA256(Array(vector.body.utf8)), date: Self.suiteDate)
        #expect(signed.authorization == vector.authorization)
    }

    @Test("get-vanilla: the canonical request and string to sign match AWS's files")
    func getVanillaSteps() {
        let signer = SignatureV4(credentials: Self.suiteCredentials, region: "us-east-1", service: "service")
        let signed = signer.sign(method: "GET", path: "/", query: [], headers: [Self.host],
                                 payloadHash: SignatureV4.emptyPayloadHash, date: Self.suiteDate)
        #expect(signed.canonicalRequest == """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signed.stringToSign == """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """)
        #expect(signed.headers.contains { $0.name == "x-amz-date" && $0.value == "20150830T123600Z" })
        #expect(signed.headers.contains { $0.name == "Authorization" && $0.value == signed.authorization })
    }

    @Test("post-sts-header-before: a session token is signed as x-amz-security-token")
    func sessionToken() {
        let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
        var credentials = Self.suiteCredentials
        credentials.sessionToken = token
        let signed = SignatureV4(credentials: credentials, region: "us-east-1", service: "service")
            .sign(method: "POST", path: "/", query: [], headers: [Self.host], payloadHash: SignatureV4.emptyPayloadHash, date: Self.suiteDate)
        #expect(signed.authorization == Self.scope + "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")
        #expect(signed.headers.contains { $0.name == "x-amz-security-token" && $0.value == token })
    }

    static let s3Credentials = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let s3Scope = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
    static let s3Host = ("Host", "examplebucket.s3.amazonaws.com")

    @Test("S3 documentation: GET Object with a range")
    func s3GetObject() {
        let signed = SignatureV4(credentials: Self.s3Credentials, region: "us-east-1").sign(
            method: "GET", path: "/test.txt", query: [],
            headers: [Self.s3Host, ("Range", "bytes=0-9"), ("x-amz-content-sha256", SignatureV4.emptyPayloadHash)],
            payloadHash: SignatureV4.emptyPayloadHash, date: Self.s3Date)
        #expect(signed.canonicalRequest == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signed.stringToSign.hasSuffix("\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(signed.authorization == Self.s3Scope + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("S3 documentation: PUT Object with a '$' in the key and a signed body")
    func s3PutObject() {
        let body = SignatureV4.hexSHA256(Array("Welcome to Amazon S3.".utf8))
        #expect(body == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signed = SignatureV4(credentials: Self.s3Credentials, region: "us-east-1").sign(
            method: "PUT", path: "/test$file.text", query: [],
            headers: [Self.s3Host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                      ("x-amz-content-sha256", body)],
            payloadHash: body, date: Self.s3Date)
        #expect(signed.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\n"))
        #expect(signed.authorization == Self.s3Scope + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("S3 documentation: GET bucket lifecycle and list objects (query parameters)")
    func s3Queries() {
        let signer = SignatureV4(credentials: Self.s3Credentials, region: "us-east-1")
        let headers = [Self.s3Host, ("x-amz-content-sha256", SignatureV4.emptyPayloadHash)]
        let lifecycle = signer.sign(method: "GET", path: "/", query: [("lifecycle", "")], headers: headers,
                                    payloadHash: SignatureV4.emptyPayloadHash, date: Self.s3Date)
        #expect(lifecycle.authorization == Self.s3Scope + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        let list = signer.sign(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: headers,
                               payloadHash: SignatureV4.emptyPayloadHash, date: Self.s3Date)
        #expect(list.authorization == Self.s3Scope + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("URI encoding: unreserved kept, everything else %XX uppercase, '/' kept only in paths")
    func encoding() {
        #expect(SignatureV4.encode("a b/c~d+e$é") == "a%20b%2Fc~d%2Be%24%C3%A9")
        #expect(SignatureV4.encodePath("/a b/c~d+e$é") == "/a%20b/c~d%2Be%24%C3%A9")
        #expect(SignatureV4.canonicalQuery([("b", "2"), ("a", "2"), ("a", "1"), ("c", "")]) == "a=1&a=2&b=2&c=")
    }

    @Test("the secret never appears in descriptions")
    func redaction() {
        let credentials = S3Credentials(accessKeyID: "AKID", secretAccessKey: "very-secret", sessionToken: "token-secret")
        #expect(!"\(credentials)".contains("very-secret") && !"\(credentials)".contains("token-secret"))
        #expect("\(credentials)".contains("AKID"))
    }

    @Test("credentials from the environment need both the key id and the secret")
    func environmentCredentials() {
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
                == S3Credentials(accessKeyID: "a", secretAccessKey: "b"))
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_SESSION_TOKEN": "t"])?.sessionToken == "t")
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a"]) == nil)
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "b"]) == nil)
    }
}
