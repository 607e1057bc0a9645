import LSTMData
import LSTMKit
import XCTest

@testable import LSTMRun

/// Bounded parsing (size, depth, alias expansion), YAML messages, size bounds and the memory plan.
final class ConfigLimitsTests: XCTestCase {
    func error(_ text: String, overrides: [String] = []) -> ConfigError? {
        do {
            _ = try RunConfig.parse(text, path: "job.yaml", overrides: overrides)
            return nil
        } catch let e as ConfigError {
            return e
        } catch {
            XCTFail("not a ConfigError: \(error)")
            return nil
        }
    }

    /// `levels` anchors, each a list of nine aliases of the one before: 9^levels scalars.
    func aliasBomb(levels: Int) -> String {
        var s = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for i in 1...levels {
            s += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        return s
    }

    // MARK: - Alias expansion, depth, size

    func testAliasesAreCountedAsTheNodesTheyExpandTo() throws {
        // root mapping 1; a0: key 1 + list 1 + 9 scalars = 11; a1: key 1 + list 1 + 9 × 10 = 92;
        // a2: key 1 + list 1 + 9 × 91 = 821.
        XCTAssertEqual(try ConfigText.check(aliasBomb(levels: 2), path: "job.yaml"), 1 + 11 + 92 + 821)
    }

    func testAnAliasBombIsRefusedAtTheNodeBudget() throws {
        for text in [aliasBomb(levels: 9), aliasBomb(levels: 9) + "? *a9\n: 1\n", aliasBomb(levels: 9) + "b: *a9\n"] {
            let e = try XCTUnwrap(error(text))
            XCTAssertTrue(e.description.contains("past \(ConfigLimits.maxNodes) nodes (aliases expanded)"), "\(e)")
            // a4 (66 430 nodes) is the alias that crosses the budget: the walk stops there, at its mark.
            XCTAssertTrue(e.description.hasPrefix("job.yaml:6:"), "\(e)")
            XCTAssertTrue(e.description.contains("alias *a4 expands to 66430 node(s)"), "\(e)")
        }
    }

    func testAnAliasAsAKeyIsRefusedEvenWhenSmall() throws {
        let e = try XCTUnwrap(error("a: &a [x]\n? *a\n: 1\n"))
        XCTAssertEqual(e.description, "job.yaml:2:3: a key must be a plain name, found an alias (*a)")
    }

    func testDeepNestingIsRefused() throws {
        let d = ConfigLimits.maxDepth
        let e = try XCTUnwrap(error("model: " + String(repeating: "[", count: d + 5) + "\n"))
        XCTAssertTrue(e.description.contains("nested more than \(d) levels deep"), "\(e)")
        XCTAssertEqual(e.line, 1)
        XCTAssertEqual(e.column, 8 + d - 1)  // the list that goes one level too deep
        let huge = try XCTUnwrap(error("model: " + String(repeating: "[", count: 100_000) + "\n"))
        XCTAssertTrue(huge.description.contains("nested more than \(d) levels deep"), "\(huge)")
        XCTAssertLessThan(huge.description.utf8.count, 200)
        // Just within the limit parses as YAML (and is then a wrong type).
        let ok = try XCTUnwrap(
            error(
                "model:\n  hidden_size: " + String(repeating: "[", count: d - 2) + String(repeating: "]", count: d - 2)
                    + "\n"))
        XCTAssertTrue(ok.description.contains("expected an integer, found a list"), "\(ok)")
    }

    func testADocumentLargerThanTheLimitIsRefused() throws {
        let text = "# " + String(repeating: "x", count: ConfigLimits.maxBytes) + "\n"
        let e = try XCTUnwrap(error(text))
        XCTAssertTrue(e.description.contains("larger than \(ConfigLimits.maxBytes) bytes"), "\(e)")
    }

    // MARK: - YAML messages

    func testDuplicateKeysNameBothLines() throws {
        let e = try XCTUnwrap(error("model:\n  hidden_size: 4\n  num_layers: 1\n  hidden_size: 5\n"))
        XCTAssertEqual(e.description, "job.yaml:4:3: model.hidden_size: duplicate key (first given at line 2)")
        let top = try XCTUnwrap(error("model: {}\ndata: {}\nmodel: {}\n"))
        XCTAssertEqual(top.description, "job.yaml:3:1: model: duplicate key (first given at line 1)")
    }

    func testSyntaxErrorsCarryTheRealColumn() throws {
        let e = try XCTUnwrap(error("model:\n  hidden_size: 4: 5\n"))
        XCTAssertEqual(e.description, "job.yaml:2:17: not valid YAML: mapping values are not allowed in this context")
    }

    func testTabsNULAndControlCharactersAreLocated() throws {
        let tab = try XCTUnwrap(error("model:\n\thidden_size: 4\n"))
        XCTAssertTrue(tab.description.hasPrefix("job.yaml:2:1: a tab character: YAML indents with spaces"), "\(tab)")
        let nul = try XCTUnwrap(error("model:\n  hidden_size: 4\u{0}\n"))
        XCTAssertEqual(
            nul.description, "job.yaml:2:17: a NUL byte (U+0000): a config is text without control characters")
        let esc = try XCTUnwrap(error("model:\n  hidden\u{1B}[31m_size: 4\n"))
        XCTAssertTrue(esc.description.hasPrefix("job.yaml:2:9: not valid YAML: control characters"), "\(esc)")
        XCTAssertFalse(esc.description.contains("\u{1B}"))
        // A quoted value keeps its control characters: the message shows them escaped.
        let quoted = try XCTUnwrap(error("model:\n  hidden_size: \"4\\e[2J\\r\"\n"))
        XCTAssertTrue(quoted.description.contains("found '4\\u{1B}[2J\\r'"), "\(quoted)")
        XCTAssertFalse(quoted.description.contains("\u{1B}"))
    }

    func testInvalidUTF8NamesTheByte() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-utf8-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("model:\n  hidden_size: 4\n  num_layers: ".utf8 + [0xC3, 0x28] + Data("\n".utf8)).write(to: url)
        XCTAssertThrowsError(try RunConfig.load(path: url.path)) { error in
            XCTAssertEqual(
                "\(error)", "\(url.path):3:15: not UTF-8 at byte 38 (0xC3): a config is UTF-8 text")
        }
    }

    func testLongTextIsCappedInMessages() throws {
        let key = String(repeating: "k", count: 100_000)
        let e = try XCTUnwrap(error("model:\n  \"\(key)\": 4\n"))
        XCTAssertLessThan(e.description.utf8.count, 300, "\(e.description.prefix(400))")
        let value = try XCTUnwrap(error("model:\n  head: \"\(key)\"\n"))
        XCTAssertLessThan(value.description.utf8.count, 300)
        XCTAssertTrue(value.description.contains("'" + String(repeating: "k", count: ConfigLimits.maxQuoted) + "…'"))
    }

    func testALookAlikeLetterIsShownWithItsCodePoint() throws {
        let e = try XCTUnwrap(error("model:\n  hidden_siz\u{0435}: 4\n"))
        XCTAssertEqual(
            e.description,
            "job.yaml:2:3: model.hidden_sizе: unknown key (contains U+0435 CYRILLIC SMALL LETTER IE at "
                + "position 11; keys are ASCII) (did you mean hidden_size?)\n"
                + "job.yaml: data.file: missing: the HDF5 dataset to train on (see docs/datasets.md)")
    }

    func testABadOverrideValueIsNotParsedAsABomb() throws {
        let bomb = aliasBomb(levels: 9).replacingOccurrences(of: "\n", with: " ")
        let e = try XCTUnwrap(error("model: {}\n", overrides: ["model.hidden_size={\(bomb)}"]))
        XCTAssertTrue(e.description.contains("model.hidden_size: expected an integer"), "\(e)")
        XCTAssertLessThan(e.description.utf8.count, 400)
    }

    // MARK: - Size bounds

    func testSizesAreBoundedBeforeTheyReachAnInitializer() throws {
        let cases: [(String, String)] = [
            ("model:\n  hidden_size: 1000000000000\n", "model.hidden_size: must be ≤ \(SizeBounds.hiddenSize)"),
            ("model:\n  num_layers: 1000000000\n", "model.num_layers: must be ≤ \(SizeBounds.numLayers)"),
            (
                "data:\n  file: x.h5\n  generate: {task: adding}\n  batch_size: 1099511627776\n",
                "data.batch_size: must be ≤ \(SizeBounds.batchSize)"
            ),
            ("model:\n  hidden_size: 99999999999999999999999\n", "more than an integer holds"),
            (
                "data:\n  file: x.h5\n  generate: {task: adding}\n  seq_length: 2000000\n",
                "data.seq_length: must be ≤ \(SizeBounds.seqLength)"
            ),
            (
                "data: {file: x.h5, generate: {task: adding}}\nparallel:\n  shards: 100000\n",
                "parallel.shards: must be ≤ \(SizeBounds.shards)"
            ),
            (
                "data:\n  file: x.h5\n  generate: {task: adding, steps: 1000, train: 10000000}\n",
                "data.generate.train: 10000000 sequences of 1000 steps"
            )
        ]
        for (text, expected) in cases {
            let e = try XCTUnwrap(error(text), text)
            XCTAssertTrue(e.description.contains(expected), "\(e)")
        }
        let m = ModelConfig(input: .features(size: 2), hiddenSize: SizeBounds.hiddenSize + 1, outputSize: 1, loss: .mse)
        XCTAssertThrowsError(try m.validate()) {
            XCTAssertTrue("\($0)".contains("hidden_size must be ≤ 65536"), "\($0)")
        }
    }

    // MARK: - The memory plan against the real objects

    let models: [ModelConfig] = [
        ModelConfig(input: .features(size: 3), hiddenSize: 5, outputSize: 2, head: .last, loss: .mse),
        ModelConfig(
            input: .tokens(vocabulary: 11, embedding: 4), hiddenSize: 6, numLayers: 3, outputSize: 11,
            loss: .crossEntropy, dropout: 0.2),
        ModelConfig(
            input: .features(size: 7), hiddenSize: 3, numLayers: 2, outputSize: 4, head: .last,
            loss: .crossEntropy, bidirectional: true, dropout: 0.5),
        ModelConfig(
            input: .features(size: 9), hiddenSize: 4, numLayers: 2, outputSize: 1, loss: .bce, bidirectional: true),
        ModelConfig(
            input: .tokens(vocabulary: 7, embedding: 3), hiddenSizes: [5, 2, 4], outputSize: 7, loss: .crossEntropy,
            bidirectional: true, dropout: 0.1, bias: .pytorch),
        ModelConfig(input: .features(size: 2), hiddenSizes: [3, 8], outputSize: 1, head: .last, loss: .mse)
    ]

    func testPlanCountsMatchTheArenasTheCodeAllocates() throws {
        for m in models {
            XCTAssertEqual(try MemoryPlan.parameterCount(m), ParameterLayout(m).count, "\(m.summary)")
            XCTAssertEqual(try MemoryPlan.parameterCount(m), ParameterSet<Float>(config: m).count)
            for (b, t) in [(1, 1), (3, 7), (8, 2)] {
                XCTAssertEqual(
                    try MemoryPlan.workspaceCount(m, batch: b, steps: t) * 4,
                    Workspace<Float>(config: m, maxBatch: b, maxSteps: t).byteCount, "\(m.summary) B=\(b) T=\(t)")
            }
        }
    }

    func testThePlansArenaAndWorkspaceFiguresAreTheBytesTheObjectsAllocate() throws {
        for m in models {
            let params = Allocation.counting { ParameterSet<Float>(config: m) }
            XCTAssertEqual(try MemoryPlan.parameterCount(m) * 4, params.bytes, "\(m.summary)")
            for (b, t) in [(1, 1), (3, 7), (8, 2)] {
                let ws = Allocation.counting { Workspace<Float>(config: m, maxBatch: b, maxSteps: t) }
                XCTAssertEqual(
                    try MemoryPlan.workspaceCount(m, batch: b, steps: t) * 4, ws.bytes, "\(m.summary) B=\(b) T=\(t)")
            }
        }
    }

    func testTheTrainingPlansShardItemsAreWhatTheSchedulerAllocates() throws {
        for m in models {
            let plan = try MemoryPlan.training(
                model: m, schema: try XCTUnwrap(tokenSchema()), batch: 7, steps: 3, shards: 3,
                optimizer: OptimizerConfig(name: "sgd", values: [:]), validates: false, stateful: false)
            let item = Dictionary(uniqueKeysWithValues: plan.items.map { ($0.name, $0.bytes) })
            let network = try LSTMNetwork<Float>(config: m)
            let scheduler = Allocation.counting {
                ShardWorkers(network: network, maxBatch: 7, maxSteps: 3, shards: 3, workers: 1)
            }
            XCTAssertEqual(
                try XCTUnwrap(item["gradients (3 shard arena(s))"]) + XCTUnwrap(item["workspaces (3 shard(s))"]),
                scheduler.bytes, "\(m.summary)")
        }
    }

    func testOptimizerStateArenasMatchTheOptimizers() throws {
        let layout = ParameterLayout(models[0])
        let configs: [OptimizerConfig] = [
            OptimizerConfig(name: "adam", values: [:]), OptimizerConfig(name: "adam", values: ["amsgrad": [1]]),
            OptimizerConfig(name: "adamw", values: [:]), OptimizerConfig(name: "sgd", values: [:]),
            OptimizerConfig(name: "sgd", values: ["momentum": [0.9]]), OptimizerConfig(name: "rmsprop", values: [:]),
            OptimizerConfig(name: "rmsprop", values: ["momentum": [0.5], "centered": [1]]),
            OptimizerConfig(name: "adagrad", values: [:])
        ]
        XCTAssertEqual(Set(configs.map(\.name)), Set(OptimizerConfig.hyperparameters.keys))
        for c in configs {
            let opt: any Optimizer<Float> = try c.makeOptimizer(layout: layout)
            XCTAssertEqual(MemoryPlan.optimizerStateArenas(c), opt.stateBuffers.count, "\(c)")
            XCTAssertTrue(opt.stateBuffers.allSatisfy { $0.buffer.count == layout.count })
        }
    }

    func testTheTrainingPlanAddsUpThePerShardArenas() throws {
        let m = models[1]
        let schema = try XCTUnwrap(tokenSchema())
        let plan = try MemoryPlan.training(
            model: m, schema: schema, batch: 8, steps: 5, shards: 2,
            optimizer: OptimizerConfig(name: "adam", values: [:]),
            validates: true, stateful: true)
        let p = ParameterLayout(m).count * 4
        let item = Dictionary(uniqueKeysWithValues: plan.items.map { ($0.name, $0.bytes) })
        XCTAssertEqual(item["parameters"], p)
        XCTAssertEqual(item["gradients (2 shard arena(s))"], 2 * p)
        XCTAssertEqual(item["optimizer state (2×)"], 2 * p)
        XCTAssertEqual(
            item["workspaces (2 shard(s))"], 2 * Workspace<Float>(config: m, maxBatch: 4, maxSteps: 5).byteCount)
        XCTAssertEqual(item["validation workspace"], Workspace<Float>(config: m, maxBatch: 8, maxSteps: 5).byteCount)
        XCTAssertEqual(item["carried state"], 3 * 2 * 8 * 6 * 4)
        XCTAssertEqual(plan.total, plan.items.reduce(0) { $0 + $1.bytes })
        XCTAssertTrue(plan.line(available: 1 << 30).hasPrefix("memory plan: "), plan.line(available: 1 << 30))
        XCTAssertTrue(plan.line(available: 1 << 30).hasSuffix(", 1.0 GiB available"))
    }

    func testEachOfFourProcessesPlansAtMostThirtyPercentOfOneProcesssOptimizerState() throws {
        let m = ModelConfig(
            input: .features(size: 64), hiddenSize: 512, numLayers: 2, outputSize: 10, head: .last, loss: .crossEntropy)
        func state(_ n: Int) throws -> (state: Int, copy: Int) {
            let plan = try MemoryPlan.training(
                model: m, schema: try XCTUnwrap(tokenSchema()), batch: 64, steps: 10, shards: 4,
                optimizer: OptimizerConfig(name: "adam", values: [:]), validates: false, stateful: false, worldSize: n)
            let item = Dictionary(uniqueKeysWithValues: plan.items.map { ($0.name, $0.bytes) })
            let name = n == 1 ? "optimizer state (2×)" : "optimizer state (2× of a 1/\(n) slice)"
            return (try XCTUnwrap(item[name], "\(plan.items)"), try XCTUnwrap(item["pre-update copy"]))
        }
        let one = try state(1)
        let four = try state(4)
        let p = ParameterLayout(m).count
        XCTAssertEqual(one.state, 2 * p * 4)
        XCTAssertEqual(four.state, 2 * ArenaSlices(count: p, worldSize: 4).largestSlice * 4)
        XCTAssertLessThanOrEqual(
            Double(four.state), 0.30 * Double(one.state), "N = 4: \(four.state) of \(one.state) bytes")
        XCTAssertLessThanOrEqual(Double(four.copy), 0.30 * Double(one.copy))
        print(
            "optimizer state per rank, H = 512, 2 layers, Adam: N = 1 \(MemoryPlan.human(one.state)), N = 4 \(MemoryPlan.human(four.state)) (\(String(format: "%.1f", 100 * Double(four.state) / Double(one.state))) %)"
        )
    }

    func testAPlanThatDoesNotFitIsRefusedNamingTheLargestItem() throws {
        let m = ModelConfig(input: .features(size: 2), hiddenSize: 50_000, outputSize: 1, head: .last, loss: .mse)
        let plan = try MemoryPlan.training(
            model: m, schema: try XCTUnwrap(tokenSchema()), batch: 16, steps: 10, shards: 1,
            optimizer: OptimizerConfig(name: "adam", values: [:]), validates: false, stateful: false)
        XCTAssertThrowsError(try plan.check(available: 16 << 30)) { error in
            XCTAssertTrue("\(error)".contains("(largest: checkpoint file image 223.5 GiB)"), "\(error)")
            XCTAssertTrue("\(error)".contains("90% of the 16.0 GiB available"), "\(error)")
        }
        XCTAssertNoThrow(try plan.check(available: Int.max))
        XCTAssertNoThrow(try plan.check(available: nil))
    }

    func testPlanArithmeticReportsOverflow() throws {
        XCTAssertThrowsError(try MemoryPlan.product([1 << 40, 1 << 30], "the workspaces")) {
            XCTAssertTrue("\($0)".contains("the workspaces is more than"), "\($0)")
        }
        // The sizes the code allocates from are themselves checked: past Int, they throw, not wrap.
        let wide = ModelConfig(input: .features(size: 2), hiddenSize: 1 << 30, outputSize: 1, loss: .mse)
        XCTAssertThrowsError(try MemoryPlan.workspaceCount(wide, batch: 1 << 20, steps: 1 << 20)) {
            XCTAssertTrue("\($0)".contains("memory plan: the workspaces is more than"), "\($0)")
        }
        let tokens = ModelConfig(
            input: .tokens(vocabulary: 1 << 40, embedding: 1 << 30), hiddenSize: 1, outputSize: 1, loss: .mse)
        XCTAssertThrowsError(try MemoryPlan.parameterCount(tokens)) {
            XCTAssertTrue("\($0)".contains("memory plan: the parameters is more than"), "\($0)")
        }
        XCTAssertEqual(MemoryPlan.human(1536), "1.5 KiB")
        XCTAssertEqual(MemoryPlan.human(12), "12 bytes")
    }

    func testAvailableMemoryIsRead() throws {
        let a = try XCTUnwrap(MemoryPlan.availableBytes(), "no MemAvailable in /proc/meminfo")
        XCTAssertGreaterThan(a, 1 << 20)
    }

    /// A token-stream schema (the plan's loader item needs one), from a tiny generated file.
    func tokenSchema() throws -> DatasetSchema? {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lstm-plan-\(UUID().uuidString).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        var g = RunConfig.Generate.defaults
        g.task = "copy"
        g.train = 4
        g.val = 2
        g.test = 2
        try g.write(to: url.path)
        return try DatasetFile(path: url.path).schema("train")
    }
}
