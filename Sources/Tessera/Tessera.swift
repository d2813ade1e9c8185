// The umbrella module: `import Tessera` gives the whole SDK's public API.
@_exported public import TesseraCore
@_exported public import TesseraTensor
@_exported public import TesseraOptimizer
@_exported public import TesseraCodec
@_exported public import TesseraData
@_exported public import TesseraStorage
@_exported public import TesseraScoring
@_exported public import TesseraChain
@_exported public import TesseraNode
