import Foundation
import LSTMKit

/// Progress output: a live bar per epoch on a terminal, a plain line every N steps otherwise.
///
/// The plain lines print the records written to metrics.jsonl, with the same names (`train_loss`
/// is the mean over the steps since the last line, and says over how many; `epoch` is
/// `Epochs.trained`); the bar shows the last step's loss and says so.
public final class ProgressReporter {
    public enum Style: String { case bar, plain, none }

    public let style: Style
    let every: Int
    private var lastDraw = 0.0
    private var barShown = false

    /// `mode` is auto, bar, plain or none; auto picks bar on a terminal, plain otherwise.
    public init(mode: String, every: Int) {
        switch mode {
        case "bar": style = .bar
        case "plain": style = .plain
        case "none": style = .none
        default: style = isatty(STDOUT_FILENO) == 1 ? .bar : .plain
        }
        self.every = every
    }

    /// A training record as logged to metrics.jsonl (every `logging.every` steps): one plain line.
    /// `meanOf` is the number of steps `train_loss` averages (0: every one was skipped).
    public func logged(_ r: MetricsRecord, meanOf steps: Int, eta: Double?) {
        guard style == .plain else { return }
        let loss =
            r.trainLoss.map { String(format: "train_loss %.5f (mean of %d step%@)", $0, steps, steps == 1 ? "" : "s") }
            ?? "train_loss - (every step since the last line was skipped as non-finite)"
        print(
            String(format: "step %d  epoch %@  %@", r.step, Epochs.text(r.epoch), loss)
                + (r.learningRate.map { String(format: "  lr %.6g", $0) } ?? "")
                + (r.tokensPerSecond.map { String(format: "  tokens_per_s %.0f", $0) } ?? "")
                + (eta.map { "  ETA \(duration($0))" } ?? ""))
        fflush(nil)  // show progress as it happens, also when stdout is a pipe
    }

    /// A validation record as logged to metrics.jsonl: one line, whatever the style.
    public func validated(_ r: MetricsRecord) {
        message(
            String(format: "step %d  epoch %@", r.step, Epochs.text(r.epoch))
                + (r.valLoss.map { String(format: "  val_loss %.5f", $0) } ?? "")
                + (r.valAccuracy.map { String(format: "  val_accuracy %.4f", $0) } ?? "")
                + (r.valPerplexity.map { String(format: "  val_perplexity %.3f", $0) } ?? "")
                + (r.valMSE.map { String(format: "  val_mse %.5f", $0) } ?? "")
                + (r.valMAE.map { String(format: "  val_mae %.5f", $0) } ?? ""))
    }

    /// Called after every step; redraws the bar at most ten times a second (the plain lines come
    /// from `logged`).
    public func step(
        epoch: Int, epochs: Int?, stepInEpoch: Int, stepsPerEpoch: Int, loss: Double, tokensPerSecond: Double,
        eta: Double?
    ) {
        switch style {
        case .none, .plain: return
        case .bar:
            let now = Date().timeIntervalSince1970
            guard now - lastDraw > 0.1 || stepInEpoch == stepsPerEpoch else { return }
            lastDraw = now
            let width = 30
            let filled = stepsPerEpoch > 0 ? min(width, width * stepInEpoch / stepsPerEpoch) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let ep = epochs.map { "\(epoch + 1)/\($0)" } ?? "\(epoch + 1)"
            let line = String(
                format: "\r\u{1B}[2Kepoch %@ %@ %d/%d  last step's loss %.5f  %.0f tok/s%@", ep, bar, stepInEpoch,
                stepsPerEpoch, loss, tokensPerSecond, eta.map { "  ETA \(duration($0))" } ?? "")
            FileHandle.standardOutput.write(Data(line.utf8))
            barShown = true
        }
    }

    /// Prints a message on its own line (after a bar, on a fresh line).
    public func message(_ text: String) {
        guard style != .none else { return }
        if barShown {
            FileHandle.standardOutput.write(Data("\n".utf8))
            barShown = false
        }
        print(text)
        fflush(nil)
    }
}

/// 83 → "1:23", 4000 → "1:06:40".
func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600
        ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}
