import ArgumentParser
import Foundation
import TesseraSubtensor

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate, inspect and use sr25519 / ed25519 keys as Substrate does.",
        subcommands: [Generate.self, Inspect.self, Sign.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate a mnemonic and print its key pair as JSON.")
        @Option(help: "sr25519 or ed25519.") var scheme: String = "sr25519"
        @Option(help: "Words in the mnemonic: 12, 15, 18, 21 or 24.") var words: Int = 12

        func run() throws {
            let scheme = try parseScheme(scheme)
            guard [12, 15, 18, 21, 24].contains(words) else { throw ValidationError("--words must be 12, 15, 18, 21 or 24") }
            let phrase = Mnemonic.generate(words: words)
            let seed = try wrap { () throws(SubtensorError) in try Mnemonic.miniSecret(phrase: phrase) }
            let pair = try wrap { () throws(SubtensorError) in try KeyPair(scheme: scheme, seed: seed) }
            print("{\"scheme\": \"\(scheme.rawValue)\", \"mnemonic\": \"\(phrase)\", \"seed\": \"\(Hex.encode(seed))\", \"public_key\": \"\(Hex.encode(pair.publicKey))\", \"ss58_address\": \"\(pair.address())\"}")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the public key and SS58 address of a seed, a mnemonic or an address.")
        @Option(help: "sr25519 or ed25519.") var scheme: String = "sr25519"
        @Option(help: "32-byte seed (mini secret) in hex.") var seed: String?
        @Option(help: "BIP-39 phrase.") var mnemonic: String?
        @Option(help: "Mnemonic password.") var password: String = ""
        @Option(help: "An SS58 address.") var address: String?
        @Option(help: "A secret URI: PHRASE or 0xSEED, hard junctions (//Alice), ///password.") var uri: String?
        @Option(help: "An unencrypted bittensor keyfile (e.g. ~/.bittensor/wallets/NAME/hotkeys/HOTKEY).") var keyfile: String?
        @Option(help: "SS58 prefix for printed addresses.") var ss58Prefix: UInt16 = SS58.bittensorPrefix

        func validate() throws {
            guard [seed, mnemonic, address, keyfile, uri].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --seed, --mnemonic, --uri, --address, --keyfile")
            }
        }

        func run() throws {
            let prefix = ss58Prefix
            if let address {
                let decoded = try wrap { () throws(SubtensorError) in try SS58.decode(address) }
                print("{\"public_key\": \"\(Hex.encode(decoded.publicKey))\", \"ss58_prefix\": \(decoded.prefix), \"ss58_address\": \"\(SS58.encode(decoded.publicKey, prefix: prefix))\"}")
                return
            }
            let scheme = try parseScheme(scheme)
            if let keyfile {
                guard let data = FileManager.default.contents(atPath: keyfile) else { throw CLIError("cannot read \(keyfile)") }
                let pair = try wrap { () throws(SubtensorError) in try KeyPair(bittensorKeyfile: Array(data), scheme: scheme) }
                print("{\"scheme\": \"\(scheme.rawValue)\", \"public_key\": \"\(Hex.encode(pair.publicKey))\", \"ss58_address\": \"\(pair.address(prefix: prefix))\"}")
                return
            }
            if let uri {
                let pair = try wrap { () throws(SubtensorError) in try KeyPair(scheme: scheme, uri: uri) }
                print("{\"scheme\": \"\(scheme.rawValue)\", \"public_key\": \"\(Hex.encode(pair.publicKey))\", \"ss58_address\": \"\(pair.address(prefix: prefix))\"}")
                return
            }
            let bytes: [UInt8]
            if let seed {
                bytes = try wrap { () throws(SubtensorError) in try Hex.decode(seed) }
            } else {
                let phrase = mnemonic ?? ""
                let password = self.password
                bytes = try wrap { () throws(SubtensorError) in try Mnemonic.miniSecret(phrase: phrase, password: password) }
            }
            let pair = try wrap { () throws(SubtensorError) in try KeyPair(scheme: scheme, seed: bytes) }
            print("{\"scheme\": \"\(scheme.rawValue)\", \"seed\": \"\(Hex.encode(bytes))\", \"public_key\": \"\(Hex.encode(pair.publicKey))\", \"ss58_address\": \"\(pair.address(prefix: prefix))\"}")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a message; prints JSON with public_key and signature in hex.",
            discussion: "sr25519 signs under the \"substrate\" context with fresh randomness unless --randomness is given (for reproducible test vectors).")
        @Option(help: "sr25519 or ed25519.") var scheme: String
        @Option(help: "32-byte seed (mini secret) in hex.") var seed: String
        @Option(help: "The message in hex.") var message: String
        @Option(help: "sr25519 only: 32 bytes of external randomness in hex, for reproducible signatures.") var randomness: String?

        func run() throws {
            let scheme = try parseScheme(scheme)
            let seedHex = seed, messageHex = message
            let seedBytes = try wrap { () throws(SubtensorError) in try Hex.decode(seedHex) }
            let messageBytes = try wrap { () throws(SubtensorError) in try Hex.decode(messageHex) }
            let pair = try wrap { () throws(SubtensorError) in try KeyPair(scheme: scheme, seed: seedBytes) }
            var signature = pair.sign(messageBytes)
            if let randomness {
                guard scheme == .sr25519 else { throw ValidationError("--randomness applies to sr25519 only") }
                let random = try wrap { () throws(SubtensorError) in try Hex.decode(randomness) }
                signature = try wrap { () throws(SubtensorError) in
                    try Sr25519.sign(miniSecret: seedBytes, message: messageBytes, context: Array("substrate".utf8), randomness: random)
                }
            }
            print("{\"scheme\": \"\(scheme.rawValue)\", \"public_key\": \"\(Hex.encode(pair.publicKey))\", \"signature\": \"\(Hex.encode(signature))\"}")
        }
    }
}

private func parseScheme(_ text: String) throws -> SignatureScheme {
    guard let scheme = SignatureScheme(rawValue: text.lowercased()) else { throw ValidationError("--scheme must be sr25519 or ed25519") }
    return scheme
}

private func wrap<T>(_ body: () throws(SubtensorError) -> T) throws -> T {
    do { return try body() } catch { throw CLIError("\(error)") }
}
