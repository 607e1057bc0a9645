import ArgumentParser
import Foundation
import LSTMFiles
import LSTMKit
import LSTMRun

/// `lstm train CONFIG.yaml`: a whole training job from one YAML file.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model from a YAML config.",
        discussion: """
            Every key is documented in docs/config.md. The effective config is printed at the start and
            stored in the run directory (checkpoint.dir) and in every checkpoint.

            Under mpirun (the MPI build, see README), every rank trains on its rows of each minibatch and
            the result is bit for bit that of one process with the same parallel.shards.

            Examples:
              lstm train configs/adding.yaml
              mpirun -np 4 lstm train configs/charlm.yaml --set parallel.shards=4
              lstm train configs/charlm.yaml --set model.hidden_size=256 --set training.epochs=20
              lstm train configs/classify.yaml --init runs/pretrained/best.h5

            One run owns its directory: a second `lstm train` or `lstm resume` into it while it trains is
            refused, and so is a new `lstm train` into a directory holding another run's checkpoints
            (`lstm resume` continues that run; --overwrite deletes it). Exit status: 0 when training
            reached its end, 75 when it was stopped by SIGINT/SIGTERM after saving a checkpoint (resume
            it), 1 on any error (README: exit status).
            """)

    @Argument(help: "The YAML config file.") var config: String
    @Option(name: .customLong("set"), help: "Override a key: section.key=value (repeatable).") var overrides: [String] =
        []
    @Option(name: .customLong("init"), help: "Start from these weights (a checkpoint, or a PyTorch/Keras file).")
    var initFrom: String?
    @Flag(help: "Print the effective config and check data and model, then stop without training.") var dryRun = false
    @Flag(help: "Delete another run's checkpoints in checkpoint.dir and start afresh (refused without it).")
    var overwrite = false

    func run() throws {
        var status: Int32 = 0
        try withProcesses { processes in
            let cfg = try RunConfig.load(path: config, overrides: overrides)
            if processes.rank == 0 {
                print(
                    "config \(config):\n"
                        + cfg.sourceText.split(separator: "\n", omittingEmptySubsequences: false)
                        .map { "  " + $0 }.joined(separator: "\n"))
            }
            let run = try TrainingRun(config: cfg, initFrom: initFrom, overwrite: overwrite, reducer: processes)
            if processes.rank == 0 {
                if let f = run.provenance.initFile { print("init: \(f.path) (SHA-256 \(f.sha256))") }
                print(run.memoryPlan.line(available: run.memoryAvailable))
            }
            if dryRun {
                if processes.rank == 0 { print("dry run: data and model check out; nothing trained") }
                return
            }
            status = try trainReporting(run)
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// `lstm resume RUN_DIR`: continue a run from its latest checkpoint.
struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a run from its latest checkpoint, exactly where it stopped.",
        discussion: """
            The losses logged and the final weights are bit for bit those of a run that never stopped.

            Example:
              lstm resume runs/adding
              lstm resume runs/charlm --accumulate 4   # the same minibatch in 4 micro-batches: less memory, same bits
            """)

    @Argument(help: "The run directory (checkpoint.dir of the config).") var directory: String
    @Option(
        help:
            "Go on with this training.accumulate: the run's minibatch (and shards) cut into this many micro-batches (and rounds), same bits (docs/config.md)."
    )
    var accumulate: Int?

    func run() throws {
        var status: Int32 = 0
        try withProcesses { processes in
            let run = try TrainingRun.resume(directory: directory, reducer: processes, accumulate: accumulate)
            if processes.rank == 0 {
                if run.resumedFromCheckpoint {
                    print("resuming \(directory) at step \(run.trainer.step)")
                } else {
                    print(
                        "no checkpoint in \(directory) yet (the run stopped before its first): starting it again from the beginning with \((directory as NSString).appendingPathComponent("config.yaml"))"
                            + (run.provenance.initFile.map {
                                " and --init \($0.path) (unchanged: SHA-256 \($0.sha256))"
                            } ?? ""))
                }
                if run.provenance.lstmVersion != RunProvenance.currentVersion {
                    print(
                        "(the run was started by lstm \(run.provenance.lstmVersion); this is \(RunProvenance.currentVersion))"
                    )
                }
                print(run.memoryPlan.line(available: run.memoryAvailable))
            }
            status = try trainReporting(run)
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// The exit status of a run stopped by SIGINT or SIGTERM after saving a checkpoint: EX_TEMPFAIL
/// (sysexits.h), "a temporary failure: retry later" — the job did not finish, and `lstm resume`
/// finishes it. One status whichever signal stopped it, and distinct from the 128+signal of a
/// process killed outright (also ours on a second signal), so a script or scheduler can tell
/// "resumable" from "killed" (README: exit status).
let interruptedStatus: Int32 = 75

/// Train and resume alike: runs to the end with Ctrl-C saving a checkpoint, then prints the
/// summary. Returns the exit status: 0 when training reached its end, `interruptedStatus` when
/// stopped on request (every process returns the same; none aborts the MPI job).
func trainReporting(_ run: TrainingRun) throws -> Int32 {
    let interrupt = StopOnInterrupt(run)
    let summary = try run.run()
    interrupt.cancel()
    if run.writesFiles { report(summary, run: run) }
    guard summary.interrupted else { return 0 }
    if run.writesFiles {
        print("interrupted: the run did not reach its end (exit status \(interruptedStatus)); continue it with:")
        print("  lstm resume \(run.directory)")
    }
    return interruptedStatus
}

func report(_ s: RunSummary, run: TrainingRun) {
    print(
        "done: \(s.reason) after \(s.steps) steps (\(Epochs.text(s.epochs)) epochs) in \(String(format: "%.1f", s.wallTime)) s"
            + (s.skippedSteps > 0 ? "; \(s.skippedSteps) non-finite steps skipped" : ""))
    if let v = s.lastValidation {
        var line = String(format: "final validation loss %.6f", v.valLoss ?? .nan)
        if let a = v.valAccuracy { line += String(format: ", accuracy %.4f", a) }
        if let m = v.valMSE { line += String(format: ", MSE %.6f", m) }
        if let p = v.valPerplexity { line += String(format: ", perplexity %.3f", p) }
        print(line)
    }
    print("weights: \(s.latestCheckpoint ?? "-")" + (s.bestCheckpoint.map { " (best: \($0))" } ?? ""))
    let metrics = (s.directory as NSString).appendingPathComponent("metrics.jsonl")
    let plot = (s.directory as NSString).appendingPathComponent("loss.svg")
    if let records = try? MetricsRecord.read(metrics),
        (try? AtomicFile.write(LossPlot.svg(records, title: "\(s.directory)"), to: plot, role: .run)) != nil
    {
        print("metrics: \(metrics); plot: \(plot)")
    }
}

/// Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd, Slurm and Kubernetes send) during training:
/// the first one finishes the current step, saves a checkpoint and stops with exit status 75
/// (nothing is lost: `lstm resume` continues exactly); a second one exits at once (130 for SIGINT,
/// 143 for SIGTERM, as if killed by it), removing the temporary file of a checkpoint being written,
/// like every other command (`Interruption`, the one signal mechanism).
final class StopOnInterrupt: Sendable {
    init(_ run: TrainingRun) {
        nonisolated(unsafe) let target = run  // requestStop is thread-safe
        Interruption.onFirstSignal { _, name in
            FileHandle.standardError.write(
                Data("\n\(name): saving a checkpoint after this step (send it again to quit now)\n".utf8))
            target.requestStop(saveCheckpoint: true)
        }
    }

    func cancel() { Interruption.onFirstSignal(nil) }
}
