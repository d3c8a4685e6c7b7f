#include "bench/tool/scenario.hpp"

// See common/config_reader.hpp: a typo in a table header must not abort a debug build.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "bench/tool/raw_options.hpp"

namespace anteroom::bench {

namespace {

const char* const kind_names[cohort_kind_count] = {"human",           "naive_flood",   "header_spoofer", "botnet",
                                                   "status_hammerer", "ticket_farmer", "cookie_dropper"};

// Reads one document, collecting every problem with its line; never throws.
class reader {
public:
    explicit reader(std::string file) : file_(std::move(file)) {}

    void error(const toml::node& at, const std::string& message) { error_at(at.source().begin.line, message); }
    void error_at(std::uint32_t line, const std::string& message) {
        errors_.push_back(file_ + ":" + std::to_string(line) + ": " + message);
    }
    std::vector<std::string> take_errors() { return std::move(errors_); }
    bool ok() const { return errors_.empty(); }

    // Every key of `t` must be in `allowed`; `where` names the table in the message.
    void only_keys(const toml::table& t, std::string_view where, std::initializer_list<std::string_view> allowed) {
        for (const auto& [key, node] : t) {
            if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
                std::string list;
                for (auto a : allowed) {
                    list += (list.empty() ? "" : ", ") + std::string(a);
                }
                error(node, "unknown key '" + std::string(key.str()) + "' in " + std::string(where) +
                                " (allowed: " + list + ")");
            }
        }
    }

    void string(const toml::table& t, std::string_view key, std::string& out) {
        if (const auto* n = t.get(key)) {
            if (const auto* s = n->as_string()) {
                out = s->get();
            } else {
                error(*n, std::string(key) + ": expected a string");
            }
        }
    }

    void number(const toml::table& t, std::string_view key, double& out, double low, double high) {
        const auto* n = t.get(key);
        if (n == nullptr) {
            return;
        }
        double v = 0;
        if (const auto* i = n->as_integer()) {
            v = static_cast<double>(i->get());
        } else if (const auto* f = n->as_floating_point()) {
            v = f->get();
        } else {
            error(*n, std::string(key) + ": expected a number");
            return;
        }
        if (!(v >= low && v <= high)) {
            error(*n, std::string(key) + ": " + format(v) + " is outside " + format(low) + ".." + format(high));
            return;
        }
        out = v;
    }

    template <class Int>
    void integer(const toml::table& t, std::string_view key, Int& out, std::int64_t low, std::int64_t high) {
        const auto* n = t.get(key);
        if (n == nullptr) {
            return;
        }
        const auto* i = n->as_integer();
        if (i == nullptr) {
            error(*n, std::string(key) + ": expected an integer");
            return;
        }
        if (i->get() < low || i->get() > high) {
            error(*n, std::string(key) + ": " + std::to_string(i->get()) + " is outside " + std::to_string(low) +
                          ".." + std::to_string(high));
            return;
        }
        out = static_cast<Int>(i->get());
    }

    void boolean(const toml::table& t, std::string_view key, bool& out) {
        if (const auto* n = t.get(key)) {
            if (const auto* b = n->as_boolean()) {
                out = b->get();
            } else {
                error(*n, std::string(key) + ": expected true or false");
            }
        }
    }

    // "10s", "500ms", "2m"; `allow_zero` lets "0s" through (a start time).
    void duration(const toml::table& t, std::string_view key, millis& out, millis high, bool allow_zero = false) {
        const auto* n = t.get(key);
        if (n == nullptr) {
            return;
        }
        const auto* s = n->as_string();
        if (s == nullptr) {
            error(*n, std::string(key) + ": expected a duration in quotes, like \"10s\" or \"500ms\"");
            return;
        }
        if (allow_zero && (s->get() == "0" || s->get() == "0s" || s->get() == "0ms")) {
            out = millis(0);
            return;
        }
        const auto d = parse_duration(s->get());
        if (!d || *d < millis(1)) {
            error(*n, std::string(key) + ": '" + s->get() + "' is not a duration like \"10s\", \"500ms\" or \"2m\"");
            return;
        }
        if (*d > high) {
            error(*n, std::string(key) + ": '" + s->get() + "' is longer than the limit of " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(high).count()) + "s");
            return;
        }
        out = std::chrono::duration_cast<millis>(*d);
    }

    // "2s-8s" or one duration ("3s" = exactly 3 s).
    void duration_range(const toml::table& t, std::string_view key, millis_range& out) {
        const auto* n = t.get(key);
        if (n == nullptr) {
            return;
        }
        const auto* s = n->as_string();
        const std::string text = s != nullptr ? s->get() : "";
        const auto dash = text.find('-');
        const auto lo = parse_duration(text.substr(0, dash));
        const auto hi = dash == std::string::npos ? lo : parse_duration(text.substr(dash + 1));
        if (s == nullptr || !lo || !hi) {
            error(*n, std::string(key) + ": expected a duration or a range like \"2s-8s\"");
            return;
        }
        if (*lo > *hi || *hi > std::chrono::hours(1)) {
            error(*n, std::string(key) + ": '" + text + "' must run from low to high, at most 1h");
            return;
        }
        out = {std::chrono::duration_cast<millis>(*lo), std::chrono::duration_cast<millis>(*hi)};
    }

    const toml::table* table(const toml::table& t, std::string_view key) {
        const auto* n = t.get(key);
        if (n == nullptr) {
            return nullptr;
        }
        if (const auto* tt = n->as_table()) {
            return tt;
        }
        error(*n, std::string(key) + ": expected a table");
        return nullptr;
    }

    static std::string format(double v) {
        std::ostringstream s;
        s << v;
        return s.str();
    }

private:
    std::string file_;
    std::vector<std::string> errors_;
};

void read_arrivals(reader& r, const toml::table& t, std::string_view where, arrival_spec& a) {
    r.only_keys(t, where, {"total", "shape", "start", "duration", "early", "spread"});
    if (const auto* n = t.get("shape")) {
        const auto* s = n->as_string();
        const std::string v = s != nullptr ? s->get() : "";
        if (v == "spike") {
            a.shape = arrival_shape::spike;
        } else if (v == "ramp") {
            a.shape = arrival_shape::ramp;
        } else if (v == "poisson") {
            a.shape = arrival_shape::poisson;
        } else {
            r.error(*n, "shape: expected \"spike\", \"ramp\" or \"poisson\"");
        }
    }
    r.duration(t, "start", a.start, std::chrono::hours(24), true);
    r.duration(t, "duration", a.duration, std::chrono::hours(24));
    r.number(t, "early", a.early, 0.0, 1.0);
    r.duration(t, "spread", a.spread, std::chrono::hours(24));
    if (t.get("early") != nullptr && a.shape != arrival_shape::spike) {
        r.error(*t.get("early"), "early: only a \"spike\" has early arrivals");
    }
    if (t.get("early") != nullptr && a.shape == arrival_shape::spike && a.early > 0 && a.start.count() == 0) {
        r.error(*t.get("early"), "early: arrivals before the start need a start later than \"0s\"");
    }
}

void kind_defaults(cohort_spec& c) {
    c.solves_challenges = c.kind == cohort_kind::human;
    switch (c.kind) {
        case cohort_kind::human:
            c.abandon = 0.1;
            break;
        case cohort_kind::naive_flood:
            c.book = false;
            c.visits = 20;
            c.interval = millis(200);
            c.think = {millis(0), millis(0)};
            break;
        case cohort_kind::header_spoofer:
        case cohort_kind::botnet:
        case cohort_kind::ticket_farmer:
            c.poll_jitter = 0;
            c.think = {millis(200), millis(500)};
            break;
        case cohort_kind::status_hammerer:
            c.poll_jitter = 0;
            c.interval = millis(500);
            c.think = {millis(200), millis(500)};
            break;
        case cohort_kind::cookie_dropper:
            c.book = false;
            c.visits = 10;
            c.interval = millis(5000);
            break;
    }
}

void read_cohort(reader& r, const toml::table& t, const arrival_spec& global, cohort_spec& c, double& share,
                 bool& has_share, bool& has_count) {
    r.only_keys(t, "[[cohort]]",
                {"name", "kind", "share", "count", "source", "arrivals", "think_time", "poll_jitter", "abandon",
                 "patience", "book", "priority_group", "visits", "interval", "solves_challenges"});
    r.string(t, "name", c.name);
    if (t.get("name") == nullptr) {
        r.error(t, "[[cohort]] needs a name");
    } else if (c.name.empty() || c.name.size() > 32 ||
               !std::all_of(c.name.begin(), c.name.end(), [](char ch) {
                   return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '-';
               })) {
        r.error(*t.get("name"), "name: 1 to 32 characters from a-z A-Z 0-9 _ -");
    }
    if (const auto* n = t.get("kind")) {
        const auto* s = n->as_string();
        const auto k = s != nullptr ? cohort_kind_from(s->get()) : std::nullopt;
        if (!k) {
            std::string list;
            for (const char* name : kind_names) {
                list += (list.empty() ? "" : ", ") + std::string(name);
            }
            r.error(*n, "kind: expected one of " + list);
        } else {
            c.kind = *k;
        }
    } else {
        r.error(t, "[[cohort]] '" + c.name + "' needs a kind");
    }
    kind_defaults(c);
    has_share = t.get("share") != nullptr;
    has_count = t.get("count") != nullptr;
    if (has_share && has_count) {
        r.error(*t.get("count"), "count: give either share or count, not both");
        has_count = false;  // one message for this mistake
    } else if (!has_share && !has_count) {
        r.error(t, "[[cohort]] '" + c.name + "' needs a share (0..1 of [arrivals] total) or a count");
    }
    r.number(t, "share", share, 0.0, 1.0);
    r.integer(t, "count", c.count, 0, static_cast<std::int64_t>(max_visitors));
    if (const auto* n = t.get("source")) {
        const auto* s = n->as_string();
        const std::string err = s != nullptr ? parse_source_range(s->get(), c.source_first, c.source_last)
                                             : std::string("--source: expected a string");
        if (!err.empty()) {
            r.error(*n, "source" + err.substr(8));  // "--source: ..." → "source: ..."
        }
    } else {
        c.source_first = c.source_last = 0x7f000001;  // 127.0.0.1
    }
    c.arrivals = global;
    if (const auto* a = r.table(t, "arrivals")) {
        read_arrivals(r, *a, "[cohort.arrivals]", c.arrivals);
        if (a->get("total") != nullptr) {
            r.error(*a->get("total"), "total: a cohort's size is its share or count");
        }
    }
    r.duration_range(t, "think_time", c.think);
    r.number(t, "poll_jitter", c.poll_jitter, 0.0, 0.9);
    r.number(t, "abandon", c.abandon, 0.0, 1.0);
    r.duration(t, "patience", c.patience, std::chrono::hours(24));
    r.boolean(t, "book", c.book);
    r.boolean(t, "solves_challenges", c.solves_challenges);
    r.integer(t, "priority_group", c.priority_group, 1, 9);
    r.integer(t, "visits", c.visits, 1, 255);
    r.duration(t, "interval", c.interval, std::chrono::hours(1));
}

// Largest remainder: the shares' counts add up to `total` exactly.
void counts_from_shares(std::vector<cohort_spec>& cohorts, const std::vector<double>& shares, std::uint64_t total) {
    std::uint64_t given = 0;
    std::vector<std::pair<double, std::size_t>> rest;
    for (std::size_t i = 0; i < cohorts.size(); ++i) {
        const double exact = shares[i] * static_cast<double>(total);
        cohorts[i].count = static_cast<std::uint64_t>(std::floor(exact));
        given += cohorts[i].count;
        rest.emplace_back(exact - std::floor(exact), i);
    }
    std::stable_sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t k = 0; given < total && k < rest.size(); ++k, ++given) {
        ++cohorts[rest[k].second].count;
    }
}

void read_target(reader& r, const toml::table& t, target_spec& target) {
    r.only_keys(t, "[target]", {"url", "urls", "room", "status_path", "new_users_per_minute", "queued_status_code"});
    std::vector<std::pair<std::string, const toml::node*>> urls;
    if (const auto* n = t.get("url")) {
        if (const auto* s = n->as_string()) {
            urls.emplace_back(s->get(), n);
        } else {
            r.error(*n, "url: expected a string like \"http://127.0.0.1:8080/\"");
        }
    }
    if (const auto* n = t.get("urls")) {
        const auto* a = n->as_array();
        if (a == nullptr || a->empty() || a->size() > 64) {
            r.error(*n, "urls: expected a list of 1 to 64 URLs");
        } else {
            for (const auto& e : *a) {
                if (const auto* s = e.as_string()) {
                    urls.emplace_back(s->get(), &e);
                } else {
                    r.error(e, "urls: expected strings");
                }
            }
        }
    }
    if (t.get("url") != nullptr && t.get("urls") != nullptr) {
        r.error(*t.get("urls"), "urls: give either url or urls, not both");
    }
    if (urls.empty() && t.get("url") == nullptr && t.get("urls") == nullptr) {
        r.error(t, "[target] needs a url (or urls)");
    }
    for (const auto& [url, node] : urls) {
        raw_options o;
        std::string path;
        if (auto err = parse_target_url(url, o, path); !err.empty()) {
            r.error(*node, "url: " + err);
            continue;
        }
        if (o.tls.enabled) {
            r.error(*node, "url: the surge speaks plain HTTP only (https:// is for anteroom-bench raw)");
            continue;
        }
        if (o.target_ip.find(':') != std::string::npos) {
            r.error(*node, "url: the surge binds source addresses in 127.0.0.0/8, so the target must be IPv4");
            continue;
        }
        target.endpoints.push_back({o.target_ip, o.target_port, o.host_header, path});
    }
    r.string(t, "room", target.room);
    if (target.room.empty() || target.room.size() > 32) {
        r.error(t.get("room") != nullptr ? *t.get("room") : static_cast<const toml::node&>(t),
                "room: the room id, 1 to 32 characters");
    }
    r.string(t, "status_path", target.status_path);
    if (!target.status_path.starts_with("/")) {
        r.error(*t.get("status_path"), "status_path: must start with '/'");
    }
    r.number(t, "new_users_per_minute", target.new_users_per_minute, 0, 1e6);
    r.integer(t, "queued_status_code", target.queued_status_code, 200, 429);
    if (target.queued_status_code != 200 && target.queued_status_code != 202 && target.queued_status_code != 429) {
        r.error(*t.get("queued_status_code"), "queued_status_code: 200, 202 or 429 (as the room is configured)");
    }
}

bool is_date(const std::string& s) {
    return s.size() == 10 && s[4] == '-' && s[7] == '-' &&
           std::all_of(s.begin(), s.end(), [](char c) { return c == '-' || std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

const char* to_string(cohort_kind k) { return kind_names[static_cast<std::size_t>(k)]; }

std::optional<cohort_kind> cohort_kind_from(std::string_view name) {
    for (std::size_t i = 0; i < cohort_kind_count; ++i) {
        if (name == kind_names[i]) {
            return static_cast<cohort_kind>(i);
        }
    }
    return std::nullopt;
}

const char* to_string(arrival_shape s) {
    switch (s) {
        case arrival_shape::spike: return "spike";
        case arrival_shape::ramp: return "ramp";
        case arrival_shape::poisson: return "poisson";
    }
    return "poisson";
}

scenario_result parse_scenario(std::string_view text, const std::string& file) {
    scenario_result result;
#if TOML_EXCEPTIONS
    toml::table doc;
    try {
        doc = toml::parse(text, std::string_view{file});
    } catch (const toml::parse_error& e) {
        result.errors.push_back(file + ":" + std::to_string(e.source().begin.line) +
                                ": invalid TOML: " + std::string(e.description()));
        return result;
    }
#else
    const toml::parse_result parsed = toml::parse(text, std::string_view{file});
    if (!parsed) {
        result.errors.push_back(file + ":" + std::to_string(parsed.error().source().begin.line) +
                                ": invalid TOML: " + std::string(parsed.error().description()));
        return result;
    }
    const toml::table& doc = parsed.table();
#endif
    reader r(file);
    scenario sc;
    sc.file = file;
    r.only_keys(doc, "the top level", {"name", "seed", "target", "run", "arrivals", "booking", "cohort"});
    r.string(doc, "name", sc.name);
    r.integer(doc, "seed", sc.seed, 0, INT64_MAX);

    if (const auto* t = r.table(doc, "target")) {
        read_target(r, *t, sc.target);
    } else if (doc.get("target") == nullptr) {
        r.error_at(1, "a [target] table with the url is required");
    }
    if (const auto* t = r.table(doc, "run")) {
        r.only_keys(*t, "[run]", {"stop_after", "threads", "connections", "timeout", "retries", "bucket"});
        r.duration(*t, "stop_after", sc.run.stop_after, std::chrono::hours(24));
        r.integer(*t, "threads", sc.run.threads, 1, max_threads);
        r.integer(*t, "connections", sc.run.connections, 1, max_connections);
        r.duration(*t, "timeout", sc.run.timeout, std::chrono::minutes(10));
        r.integer(*t, "retries", sc.run.retries, 0, 100);
        r.duration(*t, "bucket", sc.run.bucket, std::chrono::minutes(10));
        if (sc.run.bucket < millis(100) && t->get("bucket") != nullptr) {
            r.error(*t->get("bucket"), "bucket: at least 100ms");
        }
    }
    bool has_total = false;
    if (const auto* t = r.table(doc, "arrivals")) {
        read_arrivals(r, *t, "[arrivals]", sc.arrivals);
        has_total = t->get("total") != nullptr;
        r.integer(*t, "total", sc.total, 1, static_cast<std::int64_t>(max_visitors));
    }
    if (const auto* t = r.table(doc, "booking")) {
        r.only_keys(*t, "[booking]", {"api_prefix", "first_date", "days", "attempts"});
        r.string(*t, "api_prefix", sc.booking.api_prefix);
        r.string(*t, "first_date", sc.booking.first_date);
        if (t->get("first_date") != nullptr && !is_date(sc.booking.first_date)) {
            r.error(*t->get("first_date"), "first_date: expected \"YYYY-MM-DD\"");
        }
        r.integer(*t, "days", sc.booking.days, 1, 366);
        r.integer(*t, "attempts", sc.booking.attempts, 1, 20);
    }

    const auto* cohorts = doc.get("cohort");
    const toml::array* list = cohorts != nullptr ? cohorts->as_array() : nullptr;
    if (cohorts == nullptr) {
        r.error_at(1, "at least one [[cohort]] is required");
    } else if (list == nullptr || !list->is_array_of_tables()) {
        r.error(*cohorts, "cohort: write each cohort as a [[cohort]] table");
    } else if (list->size() > max_cohorts) {
        r.error(*cohorts, "cohort: at most " + std::to_string(max_cohorts) + " cohorts");
    } else {
        std::vector<double> shares;
        std::size_t with_share = 0;
        std::size_t with_count = 0;
        for (const auto& e : *list) {
            const auto& t = *e.as_table();
            cohort_spec c;
            double share = 0;
            bool has_share = false;
            bool has_count = false;
            read_cohort(r, t, sc.arrivals, c, share, has_share, has_count);
            for (const auto& other : sc.cohorts) {
                if (!c.name.empty() && other.name == c.name) {
                    r.error(t, "[[cohort]] name '" + c.name + "' is used twice");
                }
            }
            with_share += has_share ? 1 : 0;
            with_count += has_count ? 1 : 0;
            shares.push_back(share);
            sc.cohorts.push_back(std::move(c));
        }
        if (with_share > 0 && with_count > 0) {
            r.error(*cohorts, "cohort: give every cohort a share or every cohort a count, not a mix");
        } else if (with_share > 0 && with_share == sc.cohorts.size()) {
            double sum = 0;
            for (double s : shares) {
                sum += s;
            }
            if (!has_total) {
                r.error(*cohorts, "cohort: shares need [arrivals] total");
            } else if (std::abs(sum - 1.0) > 1e-6) {
                r.error(*cohorts, "cohort: the shares add up to " + reader::format(sum) + ", not 1");
            } else {
                counts_from_shares(sc.cohorts, shares, sc.total);
            }
        } else if (with_count == sc.cohorts.size()) {
            std::uint64_t sum = 0;
            for (const auto& c : sc.cohorts) {
                sum += c.count;
            }
            if (has_total && sum != sc.total) {
                r.error(*cohorts, "cohort: the counts add up to " + std::to_string(sum) + ", but [arrivals] total is " +
                                      std::to_string(sc.total));
            }
            sc.total = sum;
        }
        if (sc.total > max_visitors) {
            r.error(*cohorts, "cohort: at most " + std::to_string(max_visitors) + " visitors in one run");
        }
    }
    if (r.ok() && sc.total == 0) {
        r.error_at(1, "the scenario has no visitors");
    }
    if (!r.ok()) {
        result.errors = r.take_errors();
        return result;
    }
    result.sc = std::move(sc);
    return result;
}

scenario_result load_scenario(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return {std::nullopt, {path + ": cannot read the file"}};
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().size() > 1024 * 1024) {
        return {std::nullopt, {path + ": larger than 1 MiB; a scenario is a short file"}};
    }
    return parse_scenario(text.str(), path);
}

void scale_scenario(scenario& sc, double factor) {
    std::uint64_t total = 0;
    for (auto& c : sc.cohorts) {
        if (c.count > 0) {
            c.count = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(static_cast<double>(c.count) * factor)));
            c.count = std::min(c.count, max_visitors);
        }
        total += c.count;
    }
    sc.total = std::min(total, max_visitors);
}

}  // namespace anteroom::bench
