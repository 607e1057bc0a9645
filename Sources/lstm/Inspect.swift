import ArgumentParser
import Foundation
import LSTMData
import LSTMIO

/// `lstm inspect`: describes a checkpoint, a weights file or any HDF5 file.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a checkpoint, a weights file or any HDF5 file (e.g. a dataset).",
        discussion: """
            A checkpoint: model configuration, parameter count, tensor names and shapes, optimizer, \
            step and epoch, metrics. Exported PyTorch/Keras weights: the model, then the tree. Any \
            other HDF5 file: the tree of groups and datasets with shapes, dtypes and attributes.

            Examples:
              lstm inspect runs/ckpt/latest.h5
              lstm inspect data/train.h5
              lstm inspect --tree runs/ckpt/best.h5
              lstm inspect --full runs/ckpt/latest.h5   # long attributes (data cursor, config) in full
            """)

    @Argument(help: "The HDF5 file to describe.") var file: String
    @Flag(help: "Print the raw tree of groups and datasets even for a checkpoint.") var tree = false
    @Flag(help: "Print long attributes (the data cursor, the config text, long lists) in full.") var full = false

    func run() throws {
        print(
            try tree ? Inspection.tree(path: file, full: full) : Inspection.report(path: file, full: full),
            terminator: "")
    }
}
