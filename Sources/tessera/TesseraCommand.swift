import ArgumentParser
import TesseraCore

@main
struct TesseraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Tessera: incentivized, permissionless, decentralized training of language models.",
        subcommands: [SimulateCommand.self, DeterminismCommand.self, DoctorCommand.self, MinerCommand.self, ValidatorCommand.self, ModelCommand.self, CodecCommand.self, InspectCommand.self, DataCommand.self, BenchCommand.self, StorageCommand.self, ChainCommand.self, KeysCommand.self]
    )

    /// Recycles model-sized buffers for the whole run (see ``MemoryPolicy``), then runs the
    /// command line.
    static func main() {
        MemoryPolicy.recycleLargeAllocations()
        main(nil)
    }
}
