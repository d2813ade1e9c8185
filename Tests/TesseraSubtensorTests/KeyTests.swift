import Testing
import TesseraSubtensor

@Suite struct KeyTests {
    /// Merlin's published transcript test (merlin `equivalence_simple`).
    @Test func merlinPublishedVector() {
        var t = MerlinTranscript(label: Array("test protocol".utf8))
        t.append(label: Array("some label".utf8), message: Array("some data".utf8))
        #expect(hex(t.challengeBytes(label: Array("challenge".utf8), count: 32)) ==
            "d5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615")
    }

    /// RFC 8032 §7.1 test 1.
    @Test func ed25519RFC8032() throws {
        let pair = try KeyPair(scheme: .ed25519, seed: bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(hex(pair.publicKey) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        #expect(hex(pair.sign([])) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    }

    @Test func ed25519MatchesPython() throws {
        let cases = Golden.object("keys")["ed25519"] as? [[String: String]] ?? []
        #expect(cases.count == 16)
        for item in cases {
            let pair = try KeyPair(scheme: .ed25519, seed: bytes(item["seed"] ?? ""))
            #expect(hex(pair.publicKey) == item["public_key"])
            let message = bytes(item["message"] ?? "")
            #expect(hex(pair.sign(message)) == item["signature"])
            #expect(KeyPair.verify(scheme: .ed25519, publicKey: pair.publicKey, message: message, signature: bytes(item["signature"] ?? "")))
        }
    }

    /// Public keys from py-sr25519-bindings (schnorrkel), its signatures verify here, and our
    /// signatures verify here too (Python verified a sample of them: see Documentation/Subtensor.md).
    @Test func sr25519MatchesSchnorrkel() throws {
        let cases = Golden.object("keys")["sr25519"] as? [[String: String]] ?? []
        #expect(cases.count == 16)
        for item in cases {
            let pair = try KeyPair(scheme: .sr25519, seed: bytes(item["seed"] ?? ""))
            #expect(hex(pair.publicKey) == item["public_key"])
            let message = bytes(item["message"] ?? "")
            let theirs = bytes(item["signature"] ?? "")
            #expect(KeyPair.verify(scheme: .sr25519, publicKey: pair.publicKey, message: message, signature: theirs))
            let ours = pair.sign(message)
            #expect(KeyPair.verify(scheme: .sr25519, publicKey: pair.publicKey, message: message, signature: ours))
            // Tampering breaks it.
            var bad = theirs
            bad[0] ^= 1
            #expect(!KeyPair.verify(scheme: .sr25519, publicKey: pair.publicKey, message: message, signature: bad))
            #expect(!KeyPair.verify(scheme: .sr25519, publicKey: pair.publicKey, message: message + [0], signature: theirs))
        }
    }

    @Test func sr25519SignaturesVerifiedByPython() throws {
        let cases = Golden.object("sr25519_swift_signatures")["cases"] as? [[String: String]] ?? []
        #expect(cases.count == 8)
        for item in cases {
            let signature = try Sr25519.sign(miniSecret: bytes(item["seed"] ?? ""), message: bytes(item["message"] ?? ""),
                                             context: Array("substrate".utf8), randomness: bytes(item["randomness"] ?? ""))
            #expect(hex(signature) == item["signature"], "signature verified by py-sr25519-bindings")
        }
    }

    @Test func mnemonicsMatchSubstrate() throws {
        let cases = Golden.object("keys")["mnemonics"] as? [[String: String]] ?? []
        #expect(cases.count == 6)
        for item in cases {
            let phrase = item["phrase"] ?? "", password = item["password"] ?? ""
            #expect(hex(try Mnemonic.miniSecret(phrase: phrase, password: password)) == item["mini_secret"])
            #expect(hex(try KeyPair(scheme: .sr25519, mnemonic: phrase, password: password).publicKey) == item["sr25519_public_key"])
            #expect(hex(try KeyPair(scheme: .ed25519, mnemonic: phrase, password: password).publicKey) == item["ed25519_public_key"])
        }
        #expect(throws: SubtensorError.self) { try Mnemonic.miniSecret(phrase: "bottom drive obey lake curtain smoke basket hold race lonely fit fit") }
        #expect(throws: SubtensorError.self) { try Mnemonic.miniSecret(phrase: "not a mnemonic") }
    }

    @Test func generatedPhraseRoundTrips() throws {
        let phrase = Mnemonic.generate(words: 12)
        #expect(phrase.split(separator: " ").count == 12)
        _ = try Mnemonic.miniSecret(phrase: phrase)
    }

    @Test func badKeysThrow() {
        #expect(throws: SubtensorError.self) { try KeyPair(scheme: .ed25519, seed: [1, 2, 3]) }
        #expect(throws: SubtensorError.self) { try KeyPair(scheme: .sr25519, seed: [UInt8](repeating: 0, count: 64)) }
        #expect(!KeyPair.verify(scheme: .sr25519, publicKey: [1], message: [], signature: []))
        #expect(!KeyPair.verify(scheme: .ed25519, publicKey: [UInt8](repeating: 0, count: 32), message: [], signature: [UInt8](repeating: 0, count: 64)))
    }
}

@Suite struct KeyfileTests {
    @Test func secretKeysFromSchnorrkelEncoding() throws {
        let cases = Golden.object("keys")["sr25519"] as? [[String: String]] ?? []
        for item in cases.prefix(4) {
            let pair = try KeyPair(sr25519SecretKey: bytes(item["secret"] ?? ""))
            #expect(hex(pair.publicKey) == item["public_key"])
            let signature = pair.sign([1, 2, 3])
            #expect(KeyPair.verify(scheme: .sr25519, publicKey: pair.publicKey, message: [1, 2, 3], signature: signature))
        }
        #expect(throws: SubtensorError.self) { try KeyPair(sr25519SecretKey: [UInt8](repeating: 0, count: 64)) }
    }

    @Test func bittensorKeyfiles() throws {
        let item = try #require((Golden.object("keys")["sr25519"] as? [[String: String]])?.first)
        let mnemonic = try #require((Golden.object("keys")["mnemonics"] as? [[String: String]])?.first)
        let publicHex = "0x" + (item["public_key"] ?? "")
        let fromSeed = #"{"accountId": "\#(publicHex)", "publicKey": "\#(publicHex)", "secretSeed": "0x\#(item["seed"] ?? "")", "secretPhrase": null}"#
        #expect(hex(try KeyPair(bittensorKeyfile: Array(fromSeed.utf8)).publicKey) == item["public_key"])
        let fromPhrase = #"{"secretPhrase": "\#(mnemonic["phrase"] ?? "")", "publicKey": "0x\#(mnemonic["sr25519_public_key"] ?? "")"}"#
        #expect(hex(try KeyPair(bittensorKeyfile: Array(fromPhrase.utf8)).publicKey) == mnemonic["sr25519_public_key"])
        let fromPrivate = #"{"privateKey": "0x\#(item["secret"] ?? "")"}"#
        #expect(hex(try KeyPair(bittensorKeyfile: Array(fromPrivate.utf8)).publicKey) == item["public_key"])
        let mismatch = #"{"secretSeed": "0x\#(item["seed"] ?? "")", "publicKey": "0x\#(String(repeating: "00", count: 32))"}"#
        #expect(throws: SubtensorError.self) { try KeyPair(bittensorKeyfile: Array(mismatch.utf8)) }
        #expect(throws: SubtensorError.self) { try KeyPair(bittensorKeyfile: Array("$NACLabcdef".utf8)) }
        #expect(throws: SubtensorError.self) { try KeyPair(bittensorKeyfile: Array("{\"publicKey\": \"0x00\"}".utf8)) }
        #expect(throws: SubtensorError.self) { try KeyPair(bittensorKeyfile: Array("not json".utf8)) }
    }
}

@Suite struct DerivationTests {
    @Test func sr25519HardDerivationMatchesSubstrateInterface() throws {
        let cases = Golden.object("keys")["derived"] as? [[String: String]] ?? []
        #expect(cases.count == 5)
        for item in cases {
            let pair = try KeyPair(scheme: .sr25519, uri: item["uri"] ?? "")
            #expect(hex(pair.publicKey) == item["sr25519_public_key"], "\(item["uri"] ?? "")")
        }
    }

    /// Substrate's well-known ed25519 development accounts (`subkey inspect --scheme ed25519 //Alice`).
    @Test func ed25519DevelopmentAccounts() throws {
        let alice = try KeyPair(scheme: .ed25519, uri: "//Alice")
        #expect(hex(alice.publicKey) == "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee")
        #expect(alice.address() == "5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu")
        let bob = try KeyPair(scheme: .ed25519, uri: "//Bob")
        #expect(hex(bob.publicKey) == "d17c2d7823ebf260fd138f2d7e27d114c0145d968b5ff5006125f2414fadae69")
    }

    @Test func uriForms() throws {
        let phrase = KeyPair.developmentPhrase
        #expect(try KeyPair(scheme: .sr25519, uri: phrase).publicKey == KeyPair(scheme: .sr25519, mnemonic: phrase).publicKey)
        #expect(try KeyPair(scheme: .sr25519, uri: phrase + "//Alice").publicKey == KeyPair(scheme: .sr25519, uri: "//Alice").publicKey)
        let seed = "0x" + String(repeating: "07", count: 32)
        #expect(try KeyPair(scheme: .ed25519, uri: seed).publicKey == KeyPair(scheme: .ed25519, seed: [UInt8](repeating: 7, count: 32)).publicKey)
        #expect(try KeyPair(scheme: .sr25519, uri: phrase + "///secret").publicKey == KeyPair(scheme: .sr25519, mnemonic: phrase, password: "secret").publicKey)
        #expect(throws: SubtensorError.self) { try KeyPair(scheme: .sr25519, uri: "//Alice/soft") }
        #expect(throws: SubtensorError.self) { try KeyPair(scheme: .sr25519, uri: "0x1234//Alice") }
        #expect(throws: SubtensorError.self) { try KeyPair(scheme: .sr25519, uri: "//Alice//") }
    }
}

@Suite struct SecretHygieneTests {
    @Test func keyPairsNeverPrintTheirSecret() throws {
        let seed = [UInt8](repeating: 0xAB, count: 32)
        for scheme in SignatureScheme.allCases {
            let pair = try KeyPair(scheme: scheme, seed: seed)
            for text in [String(describing: pair), String(reflecting: pair), "\(Mirror(reflecting: pair).children.map { "\($0.value)" })"] {
                #expect(!text.contains("abab"), "\(scheme): \(text)")
                #expect(!text.contains("171, 171"), "\(scheme): \(text)")
            }
        }
    }
}
