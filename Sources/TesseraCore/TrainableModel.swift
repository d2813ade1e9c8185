/// A model whose parameters can be trained by gradient descent on token batches.
///
/// The contract every miner, validator and scorer relies on:
/// - ``parameters`` has a fixed ``ParameterLayout`` for the model's lifetime.
/// - ``loss(_:)`` and ``lossAndGradients(_:)`` are pure functions of the parameters and the
///   batch: same inputs, same loss (up to floating-point reassociation inside BLAS).
/// - The gradients have exactly the layout of ``parameters``; the loss is the mean
///   cross-entropy over every predicted position.
/// - Bad input (a token id out of range, a wrong sequence length) throws; it never traps.
public protocol TrainableModel: Sendable {
    /// The trainable tensors.
    var parameters: ParameterSet { get set }
    /// Mean next-token cross-entropy on `batch`, in nats.
    func loss(_ batch: TokenBatch) throws -> Float
    /// The loss and its gradient with respect to every parameter.
    func lossAndGradients(_ batch: TokenBatch) throws -> (loss: Float, gradients: ParameterSet)
}
