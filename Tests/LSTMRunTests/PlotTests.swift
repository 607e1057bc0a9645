import XCTest

@testable import LSTMRun

final class PlotTests: XCTestCase {
    func records(accuracy: Bool) -> [MetricsRecord] {
        (1...20).map { step in
            var r = MetricsRecord(step: step * 10, epoch: 0, wallTime: Double(step))
            r.trainLoss = 1 / Double(step)
            if step % 5 == 0 {
                r.valLoss = 1.2 / Double(step)
                if accuracy { r.valAccuracy = Double(step) / 20 }
            }
            return r
        }
    }

    func testSVGHasTrainAndValidationCurvesWithALegend() {
        let svg = LossPlot.svg(records(accuracy: false), title: "run")
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertTrue(svg.contains(">train loss<") && svg.contains(">validation loss<"))
        XCTAssertFalse(svg.contains("validation accuracy"))
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 4, "one marker per validation")
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
    }

    func testAccuracyGetsItsOwnPanelWhenDefined() {
        let svg = LossPlot.svg(records(accuracy: true), title: "run")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 3)
        XCTAssertTrue(svg.contains(">validation accuracy<"))
    }

    func testTicksAreRoundNumbersInsideTheRange() {
        XCTAssertEqual(LossPlot.niceTicks(20, 900, log: false), [200, 400, 600, 800])
        let unit = LossPlot.niceTicks(-0.1, 1.05, log: false)
        XCTAssertEqual(unit.count, 6)
        for (got, want) in zip(unit, [0, 0.2, 0.4, 0.6, 0.8, 1]) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        let decades = LossPlot.niceTicks(-3.2, 0.1, log: true).map { (pow(10, $0) * 1e6).rounded() / 1e6 }
        XCTAssertEqual(decades, [0.001, 0.01, 0.1, 1])
    }
}
