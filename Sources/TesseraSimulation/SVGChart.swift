import Foundation

/// A minimal line chart rendered as a standalone SVG document (opens in any browser).
public struct SVGChart: Sendable {
    /// One line.
    public struct Series: Sendable {
        /// The legend label.
        public var label: String
        /// CSS colour.
        public var color: String
        /// Points (x, y); non-finite y values are skipped.
        public var points: [(x: Double, y: Double)]
        /// Dashed stroke.
        public var dashed: Bool

        /// Creates a series.
        public init(label: String, color: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.label = label
            self.color = color
            self.points = points
            self.dashed = dashed
        }
    }

    /// The title.
    public var title: String
    /// The x-axis label.
    public var xLabel: String
    /// The y-axis label.
    public var yLabel: String
    /// The lines.
    public var series: [Series]
    /// Width and height in pixels.
    public var width = 900.0, height = 500.0

    /// Creates a chart.
    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// Ten distinguishable colours.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// The SVG document.
    public func render() -> String {
        let left = 70.0, right = 220.0, top = 40.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var xMin = all.map(\.x).min() ?? 0, xMax = all.map(\.x).max() ?? 1
        var yMin = all.map(\.y).min() ?? 0, yMax = all.map(\.y).max() ?? 1
        if xMax <= xMin { xMax = xMin + 1 }
        if yMax <= yMin { yMax = yMin + 1; yMin -= 1 }
        let pad = (yMax - yMin) * 0.05
        yMin -= pad
        yMax += pad
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * plotH }
        func f(_ v: Double) -> String { String(Double(Int((v * 100).rounded())) / 100) }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(f(left))\" y=\"24\" font-size=\"16\" font-weight=\"bold\">\(esc(title))</text>\n"
        for i in 0...5 {
            let y = yMin + (yMax - yMin) * Double(i) / 5
            out += "<line x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(py(y)))\" y2=\"\(f(py(y)))\" stroke=\"#e0e0e0\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\">\(String(format: "%.3g", y))</text>\n"
            let x = xMin + (xMax - xMin) * Double(i) / 5
            out += "<text x=\"\(f(px(x)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(String(format: "%.4g", x))</text>\n"
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        out += "<text transform=\"translate(16 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            if points.count == 1 {
                out += "<circle cx=\"\(f(px(points[0].x)))\" cy=\"\(f(py(points[0].y)))\" r=\"4\" fill=\"\(s.color)\"/>\n"
            } else if !points.isEmpty {
                let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(path)\"/>\n"
            }
            let ly = top + 14 + Double(i) * 18
            out += "<line x1=\"\(f(left + plotW + 12))\" x2=\"\(f(left + plotW + 36))\" y1=\"\(f(ly - 4))\" y2=\"\(f(ly - 4))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            out += "<text x=\"\(f(left + plotW + 42))\" y=\"\(f(ly))\">\(esc(s.label))</text>\n"
        }
        out += "</svg>\n"
        return out
    }
}

extension SimulationReport {
    /// Loss per window: the validator's view, each honest miner's view, the entropy floor and
    /// (with a baseline) the baseline's final loss.
    public func lossChart() -> SVGChart {
        var series: [SVGChart.Series] = []
        series.append(.init(label: "validator (global model)", color: "#000000",
                            points: windows.compactMap { w in w.validatorLoss.map { (Double(w.window), $0) } }))
        let uids = Set(windows.flatMap(\.minerLosses.keys)).sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
        for (i, uid) in uids.enumerated() {
            series.append(.init(label: "miner uid \(uid)", color: SVGChart.palette[i % SVGChart.palette.count],
                                points: windows.compactMap { w in w.minerLosses[uid].map { (Double(w.window), $0) } }))
        }
        let xs = windows.map { Double($0.window) }
        if let first = xs.first, let last = xs.last {
            series.append(.init(label: "entropy floor", color: "#888888", points: [(first, entropyFloor), (last, entropyFloor)], dashed: true))
            if let baselineLoss {
                series.append(.init(label: "AdamW baseline (final)", color: "#d62728", points: [(first, baselineLoss), (last, baselineLoss)], dashed: true))
            }
        }
        return SVGChart(title: "Loss: miners' view vs the validator's view", xLabel: "window", yLabel: "loss (nats)", series: series)
    }

    /// Weight of every uid per window.
    public func weightChart() -> SVGChart {
        let uids = finalWeights.keys.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
        var series: [SVGChart.Series] = []
        for (i, uid) in uids.enumerated() {
            let role = finalWeights[uid]?.role ?? "?"
            series.append(.init(label: "uid \(uid) (\(role))", color: SVGChart.palette[i % SVGChart.palette.count],
                                points: windows.map { (Double($0.window), $0.weights[uid] ?? 0) }, dashed: role != "honest"))
        }
        return SVGChart(title: "Weights per uid (adversaries dashed)", xLabel: "window", yLabel: "weight", series: series)
    }
}
