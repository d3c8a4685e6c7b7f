// The surge report as one self-contained HTML page (--report FILE.html): the summary table
// and four charts drawn here as inline SVG — no script, no external file.

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/http_fields.hpp"
#include "bench/tool/surge_analysis.hpp"

namespace anteroom::bench {

namespace {

struct series {
    std::string name;
    std::string colour;
    std::vector<double> y;
    bool dashed = false;
};

std::string esc(std::string_view s) { return html_escape(s); }

std::string num(double v) {
    char buf[32];
    if (std::abs(v) >= 100 || v == std::floor(v)) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.2g", v);
    }
    return buf;
}

// A "nice" axis top: 1, 2 or 5 times a power of ten, at least `v`.
double nice_top(double v) {
    if (v <= 0) {
        return 1;
    }
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (m * p >= v) {
            return m * p;
        }
    }
    return 10 * p;
}

constexpr int W = 760;
constexpr int H = 260;
constexpr int L = 60;  // left margin (y labels)
constexpr int R = 150;  // right margin (legend)
constexpr int T = 30;
constexpr int B = 40;

std::string line_chart(const std::string& title, const std::string& y_label, double bucket_s, const std::vector<series>& s) {
    std::size_t n = 0;
    double top = 0;
    for (const auto& e : s) {
        n = std::max(n, e.y.size());
        for (double v : e.y) {
            top = std::max(top, v);
        }
    }
    top = nice_top(top);
    const double pw = W - L - R;
    const double ph = H - T - B;
    const double span_s = std::max(1.0, static_cast<double>(n) * bucket_s);
    auto px = [&](double i) { return L + pw * (i * bucket_s) / span_s; };
    auto py = [&](double v) { return T + ph * (1.0 - v / top); };
    std::string out = "<figure><svg viewBox=\"0 0 " + std::to_string(W) + " " + std::to_string(H) +
                      "\" role=\"img\" aria-label=\"" + esc(title) + "\">";
    out += "<text x=\"" + std::to_string(L) + "\" y=\"18\" class=\"t\">" + esc(title) + "</text>";
    for (int k = 0; k <= 4; ++k) {
        const double v = top * k / 4.0;
        const double y = py(v);
        out += "<line x1=\"" + num(L) + "\" x2=\"" + num(L + pw) + "\" y1=\"" + num(y) + "\" y2=\"" + num(y) +
               "\" class=\"g\"/><text x=\"" + num(L - 6) + "\" y=\"" + num(y + 4) + "\" class=\"yl\">" + num(v) + "</text>";
    }
    const double step = nice_top(span_s / 6.0);
    for (double sec = 0; sec <= span_s + 1e-9; sec += step) {
        const double x = L + pw * sec / span_s;
        out += "<text x=\"" + num(x) + "\" y=\"" + num(T + ph + 16) + "\" class=\"xl\">" + num(sec) + "s</text>";
    }
    out += "<text x=\"12\" y=\"" + num(T + ph / 2) + "\" class=\"al\" transform=\"rotate(-90 12 " + num(T + ph / 2) +
           ")\">" + esc(y_label) + "</text>";
    int legend_y = T + 10;
    for (const auto& e : s) {
        std::string pts;
        for (std::size_t i = 0; i < e.y.size(); ++i) {
            pts += num(px(static_cast<double>(i) + 0.5)) + "," + num(py(std::min(e.y[i], top))) + " ";
        }
        out += "<polyline fill=\"none\" stroke=\"" + e.colour + "\" stroke-width=\"1.6\"" +
               (e.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + pts + "\"/>";
        out += "<rect x=\"" + num(L + pw + 12) + "\" y=\"" + std::to_string(legend_y - 9) + "\" width=\"12\" height=\"3\" fill=\"" +
               e.colour + "\"/><text x=\"" + num(L + pw + 30) + "\" y=\"" + std::to_string(legend_y - 4) + "\" class=\"lg\">" +
               esc(e.name) + "</text>";
        legend_y += 18;
    }
    out += "</svg></figure>\n";
    return out;
}

// Stacked horizontal bars: per cohort, the share of its arrived visitors per action.
std::string cohort_chart(const surge_figures& f) {
    const std::vector<std::pair<std::string, std::string>> kinds{
        {"challenged", "#d95f02"}, {"deprioritised", "#e6ab02"}, {"denied", "#a50f15"}, {"admitted", "#1b9e77"}, {"booked", "#2c7fb8"}};
    const int row = 26;
    const int h = T + static_cast<int>(f.cohorts.size()) * row + 50;
    const int lw = 150;
    const double pw = W - lw - 20;
    std::string out = "<figure><svg viewBox=\"0 0 " + std::to_string(W) + " " + std::to_string(h) +
                      "\" role=\"img\" aria-label=\"actions per cohort\"><text x=\"10\" y=\"18\" class=\"t\">Server actions per "
                      "cohort (share of arrived visitors; bars are independent, not stacked)</text>";
    int y = T;
    for (const auto& c : f.cohorts) {
        out += "<text x=\"" + std::to_string(lw - 6) + "\" y=\"" + std::to_string(y + 15) + "\" class=\"yl\">" + esc(c.name) +
               (is_bot(c.kind) ? " (bot)" : "") + "</text>";
        const std::uint64_t v[] = {c.challenged, c.deprioritised, c.denied, c.admitted, c.booked};
        const double bh = static_cast<double>(row - 6) / static_cast<double>(kinds.size());
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            const double share = c.arrived == 0 ? 0.0 : static_cast<double>(v[k]) / static_cast<double>(c.arrived);
            out += "<rect x=\"" + std::to_string(lw) + "\" y=\"" + num(y + bh * static_cast<double>(k)) + "\" width=\"" +
                   num(std::max(0.5, pw * share)) + "\" height=\"" + num(bh - 0.5) + "\" fill=\"" + kinds[k].second +
                   "\"><title>" + esc(c.name) + " " + kinds[k].first + ": " + num(share * 100) + "%</title></rect>";
        }
        y += row;
    }
    int x = lw;
    for (const auto& [name, colour] : kinds) {
        out += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y + 10) + "\" width=\"12\" height=\"12\" fill=\"" +
               colour + "\"/><text x=\"" + std::to_string(x + 16) + "\" y=\"" + std::to_string(y + 20) + "\" class=\"lg\">" +
               name + "</text>";
        x += 110;
    }
    out += "</svg></figure>\n";
    return out;
}

}  // namespace

std::string to_html(const surge_report& r) {
    const auto& sc = *r.sc;
    const auto& f = r.figures;
    const double bucket_s = r.line.bucket_ms() / 1000.0;
    series waiting{"waiting", "#7570b3", {}};
    series admitted{"admitted/s", "#1b9e77", {}};
    series target{"configured/s", "#666", {}, true};
    series p50{"p50", "#1b9e77", {}};
    series p90{"p90", "#e6ab02", {}};
    series p99{"p99", "#d95f02", {}};
    series arrived{"arrivals/s", "#999", {}};
    for (const auto& b : r.line.buckets()) {
        waiting.y.push_back(b.waiting);
        admitted.y.push_back(b.admitted / bucket_s);
        arrived.y.push_back(b.arrived / bucket_s);
        target.y.push_back(sc.target.new_users_per_minute / 60.0);
        p50.y.push_back(static_cast<double>(b.latency_us.percentile(0.5)) / 1e3);
        p90.y.push_back(static_cast<double>(b.latency_us.percentile(0.9)) / 1e3);
        p99.y.push_back(static_cast<double>(b.latency_us.percentile(0.99)) / 1e3);
    }
    std::vector<series> rate{admitted};
    if (sc.target.new_users_per_minute > 0) {
        rate.push_back(target);
    }

    std::string out =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>anteroom-bench surge: " + esc(sc.name) +
        "</title>\n<style>body{font:14px/1.4 system-ui,sans-serif;max-width:820px;margin:2em auto;color:#222}"
        ".wide{overflow-x:auto}table{border-collapse:collapse;margin:1em 0;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
        "td:first-child,th:first-child{text-align:left}svg{width:100%;height:auto}figure{margin:1.5em 0}"
        ".t{font-weight:600;font-size:13px}.g{stroke:#eee}.yl{font-size:11px;text-anchor:end;fill:#555}"
        ".xl{font-size:11px;text-anchor:middle;fill:#555}.al{font-size:11px;text-anchor:middle;fill:#555}"
        ".lg{font-size:11px;fill:#333}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}"
        ".warn{color:#a50f15;font-weight:600}</style></head><body>\n";
    out += "<h1>Surge: " + esc(sc.name) + "</h1>\n";
    if (r.interrupted) {
        out += "<p class=\"warn\">Interrupted: the figures cover what ran until Ctrl-C.</p>\n";
    }
    out += "<p>Scenario <code>" + esc(sc.file) + "</code>, seed " + std::to_string(sc.seed) + ", " +
           std::to_string(f.visitors) + " visitors, " + num(r.elapsed_seconds) + " s.</p>\n";
    out += line_chart("Queue length over time (visitors holding a ticket, not yet admitted)", "visitors", bucket_s,
                      {waiting, arrived});
    out += line_chart("Admissions per second against the room's configured rate", "per second", bucket_s, rate);
    out += line_chart("Latency percentiles over time (from the intended send time)", "ms", bucket_s, {p50, p90, p99});
    out += cohort_chart(f);

    out += "<h2>Cohorts</h2><div class=\"wide\"><table><tr><th>cohort</th><th>kind</th><th>visitors</th><th>arrived</th><th>challenged</th>"
           "<th>deprioritised</th><th>denied</th><th>admitted</th><th>booked</th><th>wait p50 s</th></tr>\n";
    for (const auto& c : f.cohorts) {
        out += "<tr><td>" + esc(c.name) + "</td><td>" + to_string(c.kind) + "</td><td>" + std::to_string(c.visitors) +
               "</td><td>" + std::to_string(c.arrived) + "</td><td>" + std::to_string(c.challenged) + "</td><td>" +
               std::to_string(c.deprioritised) + "</td><td>" + std::to_string(c.denied) + "</td><td>" +
               std::to_string(c.admitted) + "</td><td>" + std::to_string(c.booked) + "</td><td>" +
               (c.wait_ms.count() ? num(static_cast<double>(c.wait_ms.percentile(0.5)) / 1000.0) : "–") + "</td></tr>\n";
    }
    out += "</table></div>\n<h2>Summary</h2><pre>" + esc(format_text(r)) + "</pre>\n</body></html>\n";
    return out;
}

}  // namespace anteroom::bench
