import ArgumentParser
import Foundation
import LSTMFiles
import LSTMRun

/// `lstm sample CKPT`: text from a character-level language model (torch-rnn's sample.lua).
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a token (character-level) language model.",
        discussion: """
            The primer runs through the model one character at a time, carrying h and c; then \
            each next character is drawn from softmax(z / temperature), optionally among the \
            --top-k most likely only, or taken greedily with --argmax (which ignores --seed), and \
            fed back. The same seed gives the same text. Without a primer the first character is \
            drawn uniformly. The vocabulary is the model's own `vocabulary` attribute (training \
            copies it from the data into checkpoints, and exported PyTorch/Keras files carry it), \
            so sampling works from any directory; a --data whose vocabulary differs is refused. \
            Older checkpoints without it read the `vocabulary` attribute of --data, else of the \
            dataset named in the run config. Prints the primer and the generated text, or writes \
            them to --out.

            Examples:
              lstm sample runs/charlm/best.h5 --primer "ROMEO:" --temperature 0.8
              lstm sample runs/charlm/best.h5 --data text.h5 --top-k 5 --seed 7
            """)

    @Argument(help: "The weights of a token model: a checkpoint or an exported weights file.") var checkpoint: String
    @Option(help: "Text to start from (every character must be in the vocabulary).") var primer = ""
    @Option(help: "Characters to generate after the primer.") var length = 200
    @Option(help: "Softmax temperature (> 0): lower is more conservative.") var temperature = 1.0
    @Option(help: "Draw only among the k most likely characters.") var topK: Int?
    @Flag(help: "Always take the most likely character (ignores --seed).") var argmax = false
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "For models without a vocabulary: the dataset whose `vocabulary` attribute to use.")
    var data: String?
    @Option(help: "Write the text to this file (atomically) instead of printing it.") var out: String?
    @Flag(help: "Accept weights that are not finite (NaN, ±inf), e.g. to inspect them; refused by default.")
    var allowNonFinite = false

    func run() throws {
        let options = SamplingOptions(temperature: temperature, topK: topK, argmax: argmax, seed: seed)
        try options.validate()
        if length < 0 { throw ValidationError("--length must be ≥ 0 (got \(length))") }
        let model = try InferenceModel.load(checkpoint, allowNonFinite: allowNonFinite)
        try TextSampler.check(model)
        let sampler = try TextSampler(model: model, vocabulary: try TextSampler.vocabulary(for: model, data: data))
        let text = try sampler.generate(primer: primer, length: length, options: options)
        if let out {
            try AtomicFile.checkOutput(
                out, isNotAnyOf: [("checkpoint", checkpoint)] + (data.map { [("dataset", $0)] } ?? []), role: .run)
            try AtomicFile.write(text, to: out, role: .run)
            print("wrote \(text.count) characters to \(out)")
        } else {
            print(text)
        }
    }
}
