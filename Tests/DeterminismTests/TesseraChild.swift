import Foundation

/// A run of the `tessera` tool built beside the test binary, in a child process (so that it
/// starts with its own environment: a BLAS core, a preloaded library).
struct TesseraChild {
    var status: Int32
    var output: String
    var errors: String

    /// The last line of the output that starts with `{`.
    func jsonLine() throws -> String {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw ChildError(message: "printed no JSON (status \(status)): \(errors)")
        }
        return String(line)
    }

    /// Runs the tool with `arguments`; `environment` adds variables, and a value of "" removes one.
    static func run(_ arguments: [String], environment extra: [String: String]) throws -> TesseraChild {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var binary = directory.appendingPathComponent("tessera")
        if !FileManager.default.isExecutableFile(atPath: binary.path) {
            // On some layouts the test binary sits inside a bundle directory.
            binary = directory.deletingLastPathComponent().appendingPathComponent("tessera")
        }
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ChildError(message: "no tessera binary beside the tests at \(binary.path): build with `swift build --build-tests`")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value.isEmpty ? nil : value }
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return TesseraChild(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self), errors: errorText)
    }
}

struct ChildError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
