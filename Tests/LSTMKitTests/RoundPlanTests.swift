import XCTest

@testable import LSTMKit

/// `RoundPlan`: a rank's shards in K rounds on reused gradient arenas do the same additions on the
/// same operands as the whole tree at once, checked symbolically for every small S, N and K.
final class RoundPlanTests: XCTestCase {
    /// Each node root's sum as an expression, "(a+b)", after the plan's rounds.
    func planned(_ p: ShardPartition, rounds: Int) -> [String] {
        let plan = RoundPlan(partition: p, rounds: rounds)
        var arena = [String](repeating: "free", count: plan.arenas)
        let local = p.localShards
        for (round, first) in stride(from: 0, to: local.count, by: plan.shardsPerRound).enumerated() {
            for j in first..<min(first + plan.shardsPerRound, local.count) {
                XCTAssertEqual(arena[plan.arenaOfShard[j]], "free", "shard \(j) overwrites a live sum")
                arena[plan.arenaOfShard[j]] = "s\(local.lowerBound + j)"
            }
            let adds = plan.additionsAfterRound[round]
            for a in stride(from: 0, to: adds.count, by: 2) {
                arena[adds[a]] = "(\(arena[adds[a]])+\(arena[adds[a + 1]]))"
                arena[adds[a + 1]] = "free"
            }
        }
        return p.nodes(rank: p.rank).map { arena[plan.arenaOfShard[$0.lowerBound - local.lowerBound]] }
    }

    /// The same with one arena per shard and the tree's additions in tree order.
    func whole(_ p: ShardPartition) -> [String] {
        var arena = (0..<p.shards).map { "s\($0)" }
        return p.nodes(rank: p.rank).map { node in
            ShardPartition.treeAdditions(node) { dst, src in arena[dst] = "(\(arena[dst])+\(arena[src]))" }
            return arena[node.lowerBound]
        }
    }

    func testRoundsOnReusedArenasSumEveryNodeLikeTheWholeTree() {
        for s in 1...24 {
            for n in 1...min(s, 4) {
                for r in 0..<n {
                    let p = ShardPartition(shards: s, rank: r, worldSize: n)
                    for k in 1...max(1, p.localShards.count) {
                        XCTAssertEqual(planned(p, rounds: k), whole(p), "S = \(s), rank \(r) of \(n), K = \(k)")
                    }
                }
            }
        }
    }

    func testOneRoundKeepsAnArenaPerShardAndRoundsNeedOnlyLogarithmicallyMore() {
        XCTAssertEqual(RoundPlan(partition: ShardPartition(shards: 6), rounds: 1).arenas, 6)
        XCTAssertEqual(RoundPlan(partition: ShardPartition(shards: 6), rounds: 1).additionsAfterRound.count, 1)
        // S₁ shards per round, K rounds: S₁ + log₂K arenas instead of K·S₁ (S₁ = 1, 2; K = 2 … 64).
        for s1 in [1, 2] {
            for lk in 1...6 {
                let k = 1 << lk
                let plan = RoundPlan(partition: ShardPartition(shards: k * s1), rounds: k)
                XCTAssertEqual(plan.arenas, s1 + lk, "S₁ = \(s1), K = \(k)")
                XCTAssertEqual(plan.shardsPerRound, s1)
            }
        }
    }
}
