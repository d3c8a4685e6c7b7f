// The surge report as a table (stdout) and as JSON (--json): every figure of surge_analysis.hpp.

#include <cstdio>
#include <ostream>

#include "bench/tool/surge_analysis.hpp"

namespace anteroom::bench {

namespace {

using json = nlohmann::json;

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::string pct(const std::optional<double>& v) {
    if (!v) {
        return "n/a";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", *v * 100.0);
    return buf;
}

std::string pct_of(std::uint64_t n, std::uint64_t of) {
    return pct(of == 0 ? std::nullopt : std::optional<double>(static_cast<double>(n) / static_cast<double>(of)));
}

std::string seconds(std::uint64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

json wait_json(const histogram& h) {
    return {{"count", h.count()},
            {"p50", static_cast<double>(h.percentile(0.5)) / 1000.0},
            {"p90", static_cast<double>(h.percentile(0.9)) / 1000.0},
            {"p99", static_cast<double>(h.percentile(0.99)) / 1000.0},
            {"max", static_cast<double>(h.max()) / 1000.0},
            {"mean", h.mean() / 1000.0}};
}

}  // namespace

std::string format_text(const surge_report& r) {
    const auto& f = r.figures;
    const auto& t = r.traffic;
    const auto& sc = *r.sc;
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "anteroom-bench surge '%s' (%s)%s\n", sc.name.c_str(), sc.file.c_str(),
                  r.interrupted ? "  INTERRUPTED: figures of what ran so far" : "");
    out += line;
    std::snprintf(line, sizeof line,
                  "  %llu visitors, %llu arrived in %.1fs; %llu requests (%.0f/s), %llu answered, %llu failed, %llu cut off "
                  "at the end\n",
                  static_cast<unsigned long long>(f.visitors), static_cast<unsigned long long>(f.arrived), r.elapsed_seconds,
                  static_cast<unsigned long long>(t.requests),
                  r.elapsed_seconds > 0 ? static_cast<double>(t.requests) / r.elapsed_seconds : 0.0,
                  static_cast<unsigned long long>(t.http.responses), static_cast<unsigned long long>(t.http.error_total()),
                  static_cast<unsigned long long>(t.cut_off));
    out += line;
    std::snprintf(line, sizeof line, "  latency p50 %.1fms p99 %.1fms max %.1fms (from the intended send time); peak waiting %llu\n",
                  static_cast<double>(t.http.latency_us.percentile(0.5)) / 1e3,
                  static_cast<double>(t.http.latency_us.percentile(0.99)) / 1e3,
                  static_cast<double>(t.http.latency_us.max()) / 1e3, static_cast<unsigned long long>(r.peak_waiting));
    out += line;
    out += "  outcomes:";
    for (std::size_t k = 0; k < outcome_count; ++k) {
        out += std::string(" ") + to_string(static_cast<outcome>(k)) + " " + std::to_string(f.outcomes[k]);
    }
    out += "\n";
    std::snprintf(line, sizeof line, "  server errors: 5xx %llu; transport: connect %llu timeout %llu reset %llu closed %llu other %llu\n",
                  static_cast<unsigned long long>(t.http.status_class[4]),
                  static_cast<unsigned long long>(t.http.errors[0]), static_cast<unsigned long long>(t.http.errors[1]),
                  static_cast<unsigned long long>(t.http.errors[2]), static_cast<unsigned long long>(t.http.errors[3]),
                  static_cast<unsigned long long>(t.http.errors[4] + t.http.errors[5]));
    out += line;

    out += "\n  cohort           kind             visitors  arrived  challgd  deprio  denied  admitted  booked  wait p50   wait p90\n";
    for (const auto& c : f.cohorts) {
        std::snprintf(line, sizeof line, "  %-16s %-16s %8llu %8llu %8s %7s %7s %9s %7s %9s %9s\n", c.name.c_str(),
                      to_string(c.kind), static_cast<unsigned long long>(c.visitors),
                      static_cast<unsigned long long>(c.arrived), pct_of(c.challenged, c.arrived).c_str(),
                      pct_of(c.deprioritised, c.arrived).c_str(), pct_of(c.denied, c.arrived).c_str(),
                      pct_of(c.admitted, c.arrived).c_str(), pct_of(c.booked, c.arrived).c_str(),
                      c.wait_ms.count() ? seconds(c.wait_ms.percentile(0.5)).c_str() : "-",
                      c.wait_ms.count() ? seconds(c.wait_ms.percentile(0.9)).c_str() : "-");
        out += line;
    }
    out += "\n";
    std::snprintf(line, sizeof line, "  admitted %llu (bots %s), appointments %llu (bots %s)\n",
                  static_cast<unsigned long long>(f.admitted), pct(f.bot_share_of_admissions()).c_str(),
                  static_cast<unsigned long long>(f.booked), pct(f.bot_share_of_appointments()).c_str());
    out += line;
    std::snprintf(line, sizeof line,
                  "  machine actions: precision %s recall %s (tp %llu fp %llu fn %llu tn %llu)\n",
                  pct(f.machine.precision()).c_str(), pct(f.machine.recall()).c_str(),
                  static_cast<unsigned long long>(f.machine.tp), static_cast<unsigned long long>(f.machine.fp),
                  static_cast<unsigned long long>(f.machine.fn), static_cast<unsigned long long>(f.machine.tn));
    out += line;
    std::snprintf(line, sizeof line,
                  "  order fairness: %s of %llu admitted pairs in arrival order (%s within %.0fs); pre-queue left out\n",
                  pct(f.fairness.share_in_order()).c_str(), static_cast<unsigned long long>(f.fairness.pairs),
                  pct(f.fairness_within.share_in_order()).c_str(), f.fairness_tolerance_ms / 1000.0);
    out += line;
    std::snprintf(line, sizeof line, "  ETA: %s admitted before the high bound they were shown (%llu kept, %llu broken, %llu open)\n",
                  pct(f.eta.share_kept()).c_str(), static_cast<unsigned long long>(f.eta.kept),
                  static_cast<unsigned long long>(f.eta.broken), static_cast<unsigned long long>(f.eta.open));
    out += line;
    std::snprintf(line, sizeof line, "  wait (first answer to pass): p50 %s p90 %s p99 %s max %s\n",
                  seconds(f.wait_ms.percentile(0.5)).c_str(), seconds(f.wait_ms.percentile(0.9)).c_str(),
                  seconds(f.wait_ms.percentile(0.99)).c_str(), seconds(f.wait_ms.max()).c_str());
    out += line;
    if (!f.per_minute.empty()) {
        out += "  admitted per minute";
        if (sc.target.new_users_per_minute > 0) {
            std::snprintf(line, sizeof line, " (room configured for %.0f)", sc.target.new_users_per_minute);
            out += line;
        }
        out += ":";
        for (const auto& m : f.per_minute) {
            out.append(" ").append(std::to_string(m.admitted));
        }
        out += "\n";
    }
    if (t.challenge_solves > 0 || t.challenge_refused > 0) {
        std::snprintf(line, sizeof line,
                      "  challenges solved: %llu (%llu cleared, %llu refused), %llu hashes, solver CPU %.2f s\n",
                      static_cast<unsigned long long>(t.challenge_solves), static_cast<unsigned long long>(t.challenge_cleared),
                      static_cast<unsigned long long>(t.challenge_refused), static_cast<unsigned long long>(t.challenge_hashes),
                      static_cast<double>(t.challenge_cpu_us) / 1e6);
        out += line;
    }
    if (t.booking_unavailable > 0) {
        out += "  booking API answered 404 for " + std::to_string(t.booking_unavailable) +
               " walks (no booking backend behind the room?)\n";
    }
    return out;
}

nlohmann::json to_json(const surge_report& r) {
    const auto& f = r.figures;
    const auto& t = r.traffic;
    const auto& sc = *r.sc;
    json j;
    j["mode"] = "surge";
    j["scenario"] = {{"name", sc.name}, {"file", sc.file}, {"seed", sc.seed}, {"total", sc.total}};
    json targets = json::array();
    for (const auto& e : sc.target.endpoints) {
        targets.push_back("http://" + e.host_header + e.path);
    }
    j["targets"] = targets;
    j["interrupted"] = r.interrupted;
    j["elapsed_seconds"] = r.elapsed_seconds;

    json outcomes;
    for (std::size_t k = 0; k < outcome_count; ++k) {
        outcomes[to_string(static_cast<outcome>(k))] = f.outcomes[k];
    }
    j["visitors"] = {{"total", f.visitors}, {"arrived", f.arrived}, {"outcomes", outcomes}, {"peak_waiting", r.peak_waiting}};

    json status;
    for (std::size_t k = 0; k < t.http.status_class.size(); ++k) {
        status[std::to_string(k + 1) + "xx"] = t.http.status_class[k];
    }
    json errors;
    for (std::size_t k = 0; k < error_kind_count; ++k) {
        errors[to_string(static_cast<error_kind>(k))] = t.http.errors[k];
    }
    errors["total"] = t.http.error_total();
    j["requests"] = {{"sent", t.requests},
                     {"responses", t.http.responses},
                     {"cut_off", t.cut_off},
                     {"per_second", r.elapsed_seconds > 0 ? static_cast<double>(t.requests) / r.elapsed_seconds : 0.0},
                     {"status", status},
                     {"errors", errors},
                     {"connections_opened", t.connections_opened},
                     {"connections_reused", t.connections_reused},
                     {"latency_us",
                      {{"p50", t.http.latency_us.percentile(0.5)},
                       {"p90", t.http.latency_us.percentile(0.9)},
                       {"p99", t.http.latency_us.percentile(0.99)},
                       {"p99.9", t.http.latency_us.percentile(0.999)},
                       {"max", t.http.latency_us.max()}}}};
    j["server_errors"] = {{"5xx", t.http.status_class[4]}, {"transport", t.http.error_total()}};

    json minutes = json::array();
    for (const auto& m : f.per_minute) {
        json e = {{"minute", m.minute}, {"admitted", m.admitted}};
        if (sc.target.new_users_per_minute > 0) {
            e["configured"] = sc.target.new_users_per_minute;
            e["ratio"] = static_cast<double>(m.admitted) / sc.target.new_users_per_minute;
        }
        minutes.push_back(e);
    }
    j["admission"] = {{"configured_per_minute", sc.target.new_users_per_minute > 0 ? json(sc.target.new_users_per_minute) : json(nullptr)},
                      {"admitted", f.admitted},
                      {"per_minute", minutes}};
    j["fairness"] = {{"admitted_visitors", f.fairness.visitors},
                     {"pairs", f.fairness.pairs},
                     {"out_of_order", f.fairness.out_of_order},
                     {"share_in_order", opt(f.fairness.share_in_order())},
                     {"tolerance_seconds", f.fairness_tolerance_ms / 1000.0},
                     {"out_of_order_beyond_tolerance", f.fairness_within.out_of_order},
                     {"share_in_order_within_tolerance", opt(f.fairness_within.share_in_order())}};
    j["wait_seconds"] = wait_json(f.wait_ms);
    j["eta"] = {{"shown", f.eta.shown}, {"kept", f.eta.kept}, {"broken", f.eta.broken}, {"open", f.eta.open},
                {"share_kept", opt(f.eta.share_kept())}};
    j["machine_actions"] = {{"tp", f.machine.tp}, {"fp", f.machine.fp}, {"fn", f.machine.fn}, {"tn", f.machine.tn},
                            {"precision", opt(f.machine.precision())}, {"recall", opt(f.machine.recall())}};
    j["bots"] = {{"admitted", f.admitted_bots},
                 {"share_of_admissions", opt(f.bot_share_of_admissions())},
                 {"booked", f.booked_bots},
                 {"share_of_appointments", opt(f.bot_share_of_appointments())}};
    j["booking"] = {{"booked", f.booked}, {"unavailable", t.booking_unavailable}, {"conflicts", t.booking_conflicts}};
    j["challenges"] = {{"solves", t.challenge_solves},
                       {"cleared", t.challenge_cleared},
                       {"refused", t.challenge_refused},
                       {"hashes", t.challenge_hashes},
                       {"solve_cpu_seconds", static_cast<double>(t.challenge_cpu_us) / 1e6}};

    json cohorts = json::array();
    for (const auto& c : f.cohorts) {
        json oc;
        for (std::size_t k = 0; k < outcome_count; ++k) {
            oc[to_string(static_cast<outcome>(k))] = c.outcomes[k];
        }
        const auto share = [&](std::uint64_t n) {
            return c.arrived == 0 ? json(nullptr) : json(static_cast<double>(n) / static_cast<double>(c.arrived));
        };
        cohorts.push_back({{"name", c.name},
                           {"kind", to_string(c.kind)},
                           {"bot", is_bot(c.kind)},
                           {"visitors", c.visitors},
                           {"arrived", c.arrived},
                           {"requests", c.requests},
                           {"outcomes", oc},
                           {"ticketed", c.ticketed},
                           {"challenged", c.challenged},
                           {"deprioritised", c.deprioritised},
                           {"denied", c.denied},
                           {"admitted", c.admitted},
                           {"booked", c.booked},
                           {"saw_server_error", c.saw_server_error},
                           {"shares",
                            {{"challenged", share(c.challenged)},
                             {"deprioritised", share(c.deprioritised)},
                             {"denied", share(c.denied)},
                             {"admitted", share(c.admitted)},
                             {"booked", share(c.booked)}}},
                           {"wait_seconds", wait_json(c.wait_ms)}});
    }
    j["cohorts"] = cohorts;

    json tl;
    tl["bucket_seconds"] = r.line.bucket_ms() / 1000.0;
    for (const char* k : {"arrived", "waiting", "admitted", "booked", "responses", "errors", "machine_actions", "p50_ms",
                          "p90_ms", "p99_ms"}) {
        tl[k] = json::array();
    }
    for (const auto& b : r.line.buckets()) {
        tl["arrived"].push_back(b.arrived);
        tl["waiting"].push_back(b.waiting);
        tl["admitted"].push_back(b.admitted);
        tl["booked"].push_back(b.booked);
        tl["responses"].push_back(b.responses);
        tl["errors"].push_back(b.errors);
        tl["machine_actions"].push_back(b.machine_actions);
        tl["p50_ms"].push_back(static_cast<double>(b.latency_us.percentile(0.5)) / 1e3);
        tl["p90_ms"].push_back(static_cast<double>(b.latency_us.percentile(0.9)) / 1e3);
        tl["p99_ms"].push_back(static_cast<double>(b.latency_us.percentile(0.99)) / 1e3);
    }
    j["timeline"] = tl;
    return j;
}

void write_visitors_csv(std::ostream& out, const surge_report& r) {
    out << "cohort,kind,arrival_ms,first_answer_ms,position,eta_deadline_ms,admitted_ms,done_ms,outcome,"
           "challenged,deprioritised,denied,admitted,booked,prequeue,server_error,requests\n";
    const auto t = [&](std::uint32_t v) {
        if (v != no_time) {
            out << v;
        }
        out << ',';
    };
    for (const auto& v : r.visitors) {
        const auto& c = r.sc->cohorts[v.cohort];
        out << c.name << ',' << to_string(c.kind) << ',';
        t(v.arrival_ms);
        t(v.first_answer_ms);
        out << v.position << ',';
        t(v.eta_deadline_ms);
        t(v.admitted_ms);
        t(v.done_ms);
        out << to_string(v.result);
        for (std::uint8_t bit : {action::challenged, action::deprioritised, action::denied, action::admitted, action::booked,
                                 action::prequeue, action::server_error}) {
            out << ',' << ((v.actions & bit) != 0 ? 1 : 0);
        }
        out << ',' << v.requests << '\n';
    }
}

}  // namespace anteroom::bench
