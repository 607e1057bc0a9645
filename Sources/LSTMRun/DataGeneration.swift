import Foundation
import LSTMData

extension RunConfig.Generate {
    /// Writes this synthetic dataset (adding, copy or waves) to `path`, creating its folder.
    func write(to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let counts = SplitCounts(train: train, val: val, test: test)
        print("generating the \(task) dataset into \(path)")
        switch task {
        case "adding": _ = try Generators.writeAdding(to: path, steps: steps, counts: counts, seed: seed)
        case "waves":
            _ = try Generators.writeWaves(
                to: path,
                settings: Generators.WaveSettings(
                    classes: classes, minLength: minLength,
                    maxLength: maxLength, noise: noise),
                counts: counts, seed: seed)
        default:
            _ = try Generators.writeCopy(
                to: path, symbols: symbols, alphabet: alphabet, delay: delay,
                counts: counts, seed: seed)
        }
    }
}
