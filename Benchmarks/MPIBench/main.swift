// lstm-mpi-bench: the collectives of multi-process training, timed on their own, for the scaling
// estimate (scripts/mpi-scaling-estimate.py, docs/results/mpi.md). Built with the MPI trait:
//
//   swift build -c release --traits MPI --build-path .build-mpi --product lstm-mpi-bench
//   mpirun --allow-run-as-root -np 2 .build-mpi/release/lstm-mpi-bench [FLOATS ...]
//
// For each gradient size (floats) it prints the median seconds of MPI_Allgatherv of one arena per
// rank (what training exchanges when S = N) and of MPI_Allreduce (sum) of the same arena (what
// Horovod/DDP would do, for comparison), and the bandwidth they imply.
#if MPI
    import ArgumentParser
    import CMPI
    import Foundation
    import LSTMKit
    import LSTMMPI

    struct Options: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lstm-mpi-bench", abstract: "The collectives of multi-process training, timed on their own.")

        @Argument(help: "Gradient sizes in floats (default: those of H = 512 and H = 1024 at I = O = 128).")
        var floats: [Int] = []
    }
    let options = Options.parseOrExit()
    let group = MPIProcessGroup()
    let n = group.worldSize
    // Gradient floats of I = 128, O = 128, one layer: H = 512 and H = 1024 (ParameterLayout counts).
    let floats = options.floats.isEmpty ? [1_378_432, 4_853_888] : options.floats
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    for p in floats {
        let bytes = p * 4
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes * n, alignment: 16)
        defer { buffer.deallocate() }
        memset(buffer, 0, bytes * n)
        let counts = [Int32](repeating: Int32(bytes), count: n)
        let offsets = (0..<n).map { Int32($0 * bytes) }
        var gather: [Double] = []
        var reduce: [Double] = []
        for _ in 0..<12 {
            _ = group.sum(0)
            let t0 = DispatchTime.now().uptimeNanoseconds
            counts.withUnsafeBufferPointer { c in
                offsets.withUnsafeBufferPointer { o in group.allGather(inPlace: buffer, counts: c, offsets: o) }
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            _ = group.sum(0)
            let t2 = DispatchTime.now().uptimeNanoseconds
            MPI_Allreduce(cmpi_in_place(), buffer, Int32(p), cmpi_float(), cmpi_sum(), cmpi_comm_world())
            let t3 = DispatchTime.now().uptimeNanoseconds
            gather.append(Double(t1 - t0) / 1e9)
            reduce.append(Double(t3 - t2) / 1e9)
        }
        if group.rank == 0 {
            let g = median(Array(gather.dropFirst(2)))
            let r = median(Array(reduce.dropFirst(2)))
            print(
                String(
                    format:
                        "np %d  %9d floats (%6.1f MB)  allgatherv %8.4f s (%6.2f GB/s received per rank)  allreduce %8.4f s",
                    n, p, Double(bytes) / 1e6, g, Double(bytes * (n - 1)) / g / 1e9, r))
        }
    }
    group.finalize()
#else
    print("lstm-mpi-bench needs the MPI build: swift build -c release --traits MPI --build-path .build-mpi")
#endif
