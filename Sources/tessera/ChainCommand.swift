import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import TesseraChain
import TesseraCore
import TesseraSubtensor

/// Which node to talk to.
struct NodeOptions: ParsableArguments {
    @Option(help: "The node's JSON-RPC URL: http(s):// or ws(s):// (default: $TESSERA_SUBTENSOR_URL).")
    var url: String?
    @Option(help: "Seconds to wait for one answer.") var timeout: Int = 30

    func makeClient() throws -> SubtensorClient {
        guard let url = url ?? ProcessInfo.processInfo.environment["TESSERA_SUBTENSOR_URL"], !url.isEmpty else {
            throw CLIError("give --url URL or set TESSERA_SUBTENSOR_URL (e.g. https://entrypoint-finney.opentensor.ai)")
        }
        let transport = try SubtensorClient.transport(for: url, timeout: .seconds(max(timeout, 1)))
        return try runChainAsync { try await SubtensorClient.connect(transport: transport) }
    }
}

struct ChainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chain",
        abstract: "Read a Bittensor (subtensor) node: head, metagraph; decode recorded subnet state.",
        subcommands: [Head.self, MetagraphCommand.self, DecodeState.self])

    struct Head: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the finalized head: number, hash, timestamp.")
        @OptionGroup var node: NodeOptions

        func run() throws {
            let client = try node.makeClient()
            let head = try runChainAsync { try await client.headDetailed() }
            print("{\"number\": \(head.number), \"hash\": \"\(Hex.encode(head.hash.bytes))\", \"timestamp\": \(head.timestamp)}")
        }
    }

    struct MetagraphCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "metagraph", abstract: "Print a subnet's neurons as JSON.")
        @OptionGroup var node: NodeOptions
        @Option(help: "The subnet.") var netuid: UInt16

        func run() throws {
            let client = try node.makeClient()
            let netuid = self.netuid
            let metagraph = try runChainAsync { try await client.metagraphDetailed(netuid: netuid) }
            print("{\"netuid\": \(metagraph.netuid), \"block\": \(metagraph.block), \"neurons\": [")
            printNeurons(metagraph.neurons, permits: true)
            print("]}")
        }
    }

    struct DecodeState: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decode-state",
            abstract: "Decode the hex result of SubnetInfoRuntimeApi_get_subnet_state.",
            discussion: "FILE holds the hex string (or a JSON object with it under \"result_hex\" or \"result\"). Prints a JSON array with one entry per uid: uid, hotkey (SS58), stake (TAO), incentive (0…1).")
        @Argument(help: "The file.") var file: String

        func run() throws {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw CLIError("cannot read \(file): \(error.localizedDescription)")
            }
            var hex = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if hex.hasPrefix("{") {
                let object = (try? JSONSerialization.jsonObject(with: Data(hex.utf8))) as? [String: Any]
                guard let inner = (object?["result_hex"] ?? object?["result"]) as? String else {
                    throw CLIError("\(file): JSON without a \"result_hex\" or \"result\" string")
                }
                hex = inner
            }
            do {
                guard let state = try SubnetState.decode(Hex.decode(hex)) else { throw CLIError("the state is None: no such subnet") }
                let metagraph = try state.metagraph(block: 0)
                print("[")
                printNeurons(metagraph.neurons, permits: false)
                print("]")
            } catch let error as SubtensorError {
                throw CLIError("\(file): \(error)")
            }
        }
    }
}

/// Prints neurons as JSON objects, one per line, comma-separated.
private func printNeurons(_ neurons: [Neuron], permits: Bool) {
    for (i, n) in neurons.enumerated() {
        var line = "{\"uid\": \(n.uid.rawValue), \"hotkey\": \"\(n.hotkey.rawValue)\", \"stake\": \(n.stake), \"incentive\": \(n.incentive)"
        if permits { line += ", \"validator_permit\": \(n.validatorPermit)" }
        line += i + 1 < neurons.count ? "}," : "}"
        print(line)
    }
}

/// Runs async work from a synchronous command.
func runChainAsync<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let outcome = Mutex<Result<T, any Error>?>(nil)
    Task.detached {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        outcome.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    switch outcome.withLock({ $0 }) {
    case .success(let value)?: return value
    case .failure(let error as SubtensorError)?: throw CLIError("\(error)")
    case .failure(let error)?: throw error
    case nil: throw CLIError("the operation did not finish")
    }
}
