import Foundation

/// Progress output: a live bar per epoch on a terminal, a plain line every N steps otherwise.
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

    /// Called after every step; draws at most ten times a second (bar) or every N steps (plain).
    public func step(
        epoch: Int, epochs: Int?, stepInEpoch: Int, stepsPerEpoch: Int, globalStep: Int,
        loss: Double, tokensPerSecond: Double, eta: Double?
    ) {
        switch style {
        case .none: return
        case .plain:
            guard globalStep % every == 0 else { return }
            print(
                String(
                    format: "step %d  epoch %d  loss %.5f  %.0f tokens/s%@", globalStep, epoch + 1, loss,
                    tokensPerSecond, eta.map { "  ETA \(duration($0))" } ?? ""))
            fflush(nil)  // show progress as it happens, also when stdout is a pipe
        case .bar:
            let now = Date().timeIntervalSince1970
            guard now - lastDraw > 0.1 || stepInEpoch == stepsPerEpoch else { return }
            lastDraw = now
            let width = 30
            let filled = stepsPerEpoch > 0 ? min(width, width * stepInEpoch / stepsPerEpoch) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let ep = epochs.map { "\(epoch + 1)/\($0)" } ?? "\(epoch + 1)"
            let line = String(
                format: "\r\u{1B}[2Kepoch %@ %@ %d/%d  loss %.5f  %.0f tok/s%@", ep, bar, stepInEpoch,
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
