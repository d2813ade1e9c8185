import ArgumentParser

@main
struct TesseraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Tessera: incentivized, permissionless, decentralized training of language models.",
        subcommands: [SimulateCommand.self, MinerCommand.self, ValidatorCommand.self, ModelCommand.self, CodecCommand.self, InspectCommand.self, DataCommand.self, BenchCommand.self, StorageCommand.self, ChainCommand.self, KeysCommand.self]
    )
}
