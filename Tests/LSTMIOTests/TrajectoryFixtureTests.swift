import Foundation
import HDF5Kit
import LSTMKit
import XCTest

@testable import LSTMIO

/// `model.bias: pytorch` trains as nn.LSTM does: PyTorch's own initial weights (Interop/Fixtures,
/// written by Interop/pytorch_trajectory.py) are imported, trained here for K full-batch steps
/// with SGD and with Adam through `Trainer`, and every tensor is compared with the weights
/// PyTorch itself reached after the same K steps. The single-bias form, the same function with
/// one bias, does not follow that trajectory (its bias moves half as far).
final class TrajectoryFixtureTests: XCTestCase {
    /// Per tensor: max|ours − PyTorch's| / max|PyTorch's| (max-abs relative error).
    static let tolerance = 1e-5

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Interop/Fixtures")

    static func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// Every dataset of an HDF5 file as Double, with the file's `steps` and `lr` attributes.
    static func read(_ name: String) throws -> (tensors: [String: [Double]], steps: Int?, lr: Double?) {
        let file = try HDF5File.open(path(name))
        defer { try? file.close() }
        let tensors = try HDF5Tree.datasets(in: file.root).mapValues { d -> [Double] in
            d.elementType == .float64 ? try d.read(as: Double.self) : try d.read(as: Float.self).map(Double.init)
        }
        let steps = file.root.hasAttribute("steps") ? try file.root.attribute("steps", as: Int.self) : nil
        let lr = file.root.hasAttribute("lr") ? try file.root.attribute("lr", as: Double.self) : nil
        return (tensors, steps, lr)
    }

    /// Imports the initial weights in `bias` form and trains `steps` full-batch steps here.
    func trainHere(bias: BiasForm, steps: Int, optimizer: (ParameterLayout) -> any Optimizer<Float>) throws
        -> ParameterSet<Float>
    {
        let imported = try WeightsImporter.read(
            Self.path("trajectory.initial.pt.h5"), format: .pytorch,
            options: WeightsImportOptions(head: .sequence, loss: .mse, bias: bias))
        XCTAssertEqual(imported.config.bias, bias)
        XCTAssertEqual(imported.config.hiddenSizes, [4, 4])
        let params = InteropFixtureTests.parameters(imported)
        let data = try HDF5File.open(Self.path("trajectory.data.h5"))
        defer { try? data.close() }
        let inputs = try data.root.openDataset("inputs")
        let (b, t) = (inputs.shape[0], inputs.shape[1])
        let batch = Minibatch<Float>(
            batchSize: b, steps: t, inputs: .features(try inputs.read(as: Float.self)),
            targets: .values(try data.root.openDataset("targets").read(as: Float.self)))
        let trainer = Trainer(
            network: try LSTMNetwork<Float>(config: imported.config), parameters: params,
            optimizer: optimizer(params.layout), maxBatch: b, maxSteps: t, shards: 1, workers: 1)
        for _ in 0..<steps { try trainer.train(batch) }
        return params
    }

    /// Trains the two-bias form and compares every tensor with PyTorch's after K steps.
    func checkTrajectory(_ reference: String, optimizer: @escaping (Double, ParameterLayout) -> any Optimizer<Float>)
        throws
    {
        let torch = try Self.read(reference)
        let k = try XCTUnwrap(torch.steps)
        let lr = try XCTUnwrap(torch.lr)
        XCTAssertGreaterThanOrEqual(k, 5)
        let initial = try Self.read("trajectory.initial.pt.h5").tensors
        let ours = try trainHere(bias: .pytorch, steps: k) { optimizer(lr, $0) }
        XCTAssertEqual(Set(ours.layout.entries.map(\.name)), Set(torch.tensors.keys))
        var worst = 0.0
        for entry in ours.layout.entries {
            let theirs = try XCTUnwrap(torch.tensors[entry.name], entry.name)
            let got = ours.tensor(entry.name)!.map(Double.init)
            let err = relativeError(got, theirs, scale: .reference)
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, Self.tolerance, "\(reference) \(entry.name)")
            // The weights did move (a trajectory test where nothing trains would prove nothing).
            XCTAssertGreaterThan(
                relativeError(initial[entry.name]!, theirs, scale: .reference), 10 * Self.tolerance, entry.name)
        }
        print("trajectory \(reference): \(k) steps, worst max-abs relative error \(worst)")

        // The single form on the same start and data: its one bias b = b_ih + b_hh gets the
        // gradient once, where PyTorch's sum gets it twice, so it ends elsewhere.
        let single = try trainHere(bias: .single, steps: k) { optimizer(lr, $0) }
        for sfx in ["l0", "l1"] {
            let b0 = zip(initial["lstm.bias_ih_\(sfx)"]!, initial["lstm.bias_hh_\(sfx)"]!).map(+)
            let theirs = zip(torch.tensors["lstm.bias_ih_\(sfx)"]!, torch.tensors["lstm.bias_hh_\(sfx)"]!).map(+)
            let got = single.tensor("lstm.bias_\(sfx)")!.map(Double.init)
            let err = relativeError(got, theirs, scale: .reference)
            XCTAssertGreaterThan(err, 100 * Self.tolerance, "single form \(sfx) should not match PyTorch")
            func moved(_ x: [Double]) -> Double { zip(x, b0).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() }
            let ratio = moved(got) / moved(theirs)
            print("trajectory \(reference) single bias \(sfx): relative error \(err), moved \(ratio) × PyTorch's")
            XCTAssertEqual(ratio, 0.5, accuracy: 0.15, "single-bias \(sfx) moves about half as far")
        }
    }

    func testSGDTrajectoryMatchesPyTorch() throws {
        try checkTrajectory("trajectory.sgd.pt.h5") { lr, _ in SGD<Float>(learningRate: lr) }
    }

    func testAdamTrajectoryMatchesPyTorch() throws {
        try checkTrajectory("trajectory.adam.pt.h5") { lr, layout in Adam<Float>(layout: layout, learningRate: lr) }
    }
}
