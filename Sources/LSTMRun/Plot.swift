import Foundation

/// Draws train and validation loss curves (and validation accuracy where defined) as a
/// standalone SVG that any browser shows.
public enum LossPlot {
    public static func svg(_ records: [MetricsRecord], title: String) -> String {
        let train = records.compactMap { r in r.trainLoss.map { (Double(r.step), $0) } }.filter { $0.1.isFinite }
        let val = records.compactMap { r in r.valLoss.map { (Double(r.step), $0) } }.filter { $0.1.isFinite }
        let acc = records.compactMap { r in r.valAccuracy.map { (Double(r.step), $0) } }
        let width = 900.0
        let panelH = 360.0
        let height = acc.isEmpty ? panelH + 50 : 2 * panelH + 90
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="24" text-anchor="middle" font-size="16">\(escape(title))</text>

            """
        let xs = (train + val + acc).map(\.0)
        let xRange = (xs.min() ?? 0, max((xs.max() ?? 1), (xs.min() ?? 0) + 1))
        out += panel(
            series: [("train loss", "#1f77b4", train, false), ("validation loss", "#ff7f0e", val, true)],
            top: 40, height: panelH, width: width, xRange: xRange, yLabel: "loss", logScale: true)
        if !acc.isEmpty {
            out += panel(
                series: [("validation accuracy", "#2ca02c", acc, true)], top: 40 + panelH + 40,
                height: panelH, width: width, xRange: xRange, yLabel: "accuracy", logScale: false)
        }
        return out + "</svg>\n"
    }

    private static func panel(
        series: [(String, String, [(Double, Double)], Bool)], top: Double, height: Double, width: Double,
        xRange: (Double, Double), yLabel: String, logScale: Bool
    ) -> String {
        let left = 80.0
        let right = width - 30
        let bottom = top + height - 40
        let ys = series.flatMap { $0.2.map(\.1) }
        let positive = ys.filter { $0 > 0 }
        let useLog =
            logScale && !positive.isEmpty && positive.count == ys.count
            && (positive.max()! / positive.min()! > 20)
        func ty(_ v: Double) -> Double { useLog ? log10(v) : v }
        var lo = ys.map(ty).min() ?? 0
        var hi = ys.map(ty).max() ?? 1
        if hi - lo < 1e-12 {
            lo -= 0.5
            hi += 0.5
        }
        let pad = (hi - lo) * 0.05
        lo -= pad
        hi += pad
        func px(_ x: Double) -> Double { left + (x - xRange.0) / (xRange.1 - xRange.0) * (right - left) }
        func py(_ y: Double) -> Double { bottom - (ty(y) - lo) / (hi - lo) * (bottom - top) }
        var s = "<g>\n"
        s +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(right - left)\" height=\"\(bottom - top)\" fill=\"none\" stroke=\"#444\"/>\n"
        // y ticks at round values: 1-2-5 steps, or 1, 2, 5 × 10^k on a log axis
        for v in niceTicks(lo, hi, log: useLog) {
            let y = bottom - (v - lo) / (hi - lo) * (bottom - top)
            let label = useLog ? format(pow(10, v)) : format(v)
            s += "<line x1=\"\(left)\" x2=\"\(right)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(label)</text>\n"
        }
        for v in niceTicks(xRange.0, xRange.1, log: false) {
            let x = px(v)
            s += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(bottom)\" y2=\"\(bottom + 5)\" stroke=\"#444\"/>"
            s += "<text x=\"\(x)\" y=\"\(bottom + 18)\" text-anchor=\"middle\">\(Int(v.rounded()))</text>\n"
        }
        s += "<text x=\"\((left + right) / 2)\" y=\"\(bottom + 34)\" text-anchor=\"middle\">step</text>\n"
        s +=
            "<text x=\"20\" y=\"\((top + bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 20 \((top + bottom) / 2))\">\(yLabel)\(useLog ? " (log scale)" : "")</text>\n"
        for (i, (name, color, points, markers)) in series.enumerated() where !points.isEmpty {
            let path = points.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            if markers {
                for p in points { s += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"3\" fill=\"\(color)\"/>" }
                s += "\n"
            }
            let ly = top + 16 + Double(i) * 18
            s +=
                "<line x1=\"\(right - 170)\" x2=\"\(right - 145)\" y1=\"\(ly - 4)\" y2=\"\(ly - 4)\" stroke=\"\(color)\" stroke-width=\"3\"/>"
            s += "<text x=\"\(right - 140)\" y=\"\(ly)\">\(escape(name))</text>\n"
        }
        return s + "</g>\n"
    }

    /// Round tick positions inside [lo, hi]: multiples of 1, 2 or 5 × 10^k (about 4–8 of them);
    /// on a log axis (values are log10), the decades and their 2× and 5× where they fit.
    static func niceTicks(_ lo: Double, _ hi: Double, log: Bool) -> [Double] {
        guard hi > lo else { return [lo] }
        if log {
            var ticks: [Double] = []
            let multipliers: [Double] = hi - lo > 3 ? [1] : (hi - lo > 1.2 ? [1, 2, 5] : [1, 1.5, 2, 3, 5, 7])
            for d in Int(floor(lo))...Int(ceil(hi)) {
                for m in multipliers {
                    let v = Double(d) + log10(m)
                    if v >= lo && v <= hi { ticks.append(v) }
                }
            }
            return ticks
        }
        let raw = (hi - lo) / 6
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        let first = Int(ceil(lo / step - 1e-9))
        let last = Int(floor(hi / step + 1e-9))
        return first <= last ? (first...last).map { Double($0) * step } : [lo]
    }

    private static func format(_ v: Double) -> String {
        let a = abs(v)
        if a != 0 && (a < 1e-3 || a >= 1e5) { return String(format: "%.1e", v) }
        return String(format: "%g", v)
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
