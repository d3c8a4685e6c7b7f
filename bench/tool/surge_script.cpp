// What each cohort does next after an answer, and what it sends: the visitors' scripts of the
// surge engine (see surge_engine.hpp; the scheduler and the pool are in surge_run.cpp).

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/tool/surge_engine.hpp"

namespace anteroom::bench::surge_detail {


void engine::build(std::uint32_t i, std::string& out) {
    const auto& v = vis_[i];
    const auto& c = cohort_of(v);
    const auto& to = endpoint_of(i);
    const std::string_view cookies = jar_.cookies(v.jar);
    const auto extra = split_extra(jar_.extra(v.jar));
    const auto& api = sc_.booking.api_prefix;
    request_spec r;
    r.cookies = cookies;
    r.variant = rnd(i, 0x5eed);
    std::string path;
    std::string body;
    switch (v.step) {
        case s_visit:
        case s_landing:
            r.kind = request_kind::page;
            r.path = to.path;
            break;
        case s_poll:
            r.kind = request_kind::status;
            r.path = status_target_;
            break;
        case s_register: {
            r.kind = request_kind::api_post;
            path = api + "/registrations";
            const auto y = 1940 + rnd(i, 1) % 60;
            const auto m = 1 + rnd(i, 2) % 12;
            const auto d = 1 + rnd(i, 3) % 28;
            char date[16];
            std::snprintf(date, sizeof date, "%04u-%02u-%02u", static_cast<unsigned>(y), static_cast<unsigned>(m),
                          static_cast<unsigned>(d));
            const std::string number = std::to_string(id(i));
            std::string contact = "v";
            contact.append(number).append("@example.test");
            body = nlohmann::json{{"name", std::string("Visitor ").append(number)},
                                  {"birth_date", date},
                                  {"contact", contact},
                                  {"priority_group", c.priority_group}}
                       .dump();
            break;
        }
        case s_login:
            r.kind = request_kind::api_post;
            path = api + "/sessions";
            body = nlohmann::json{{"booking_code", extra[0]}, {"pin", extra[1]}}.dump();
            break;
        case s_centres:
            r.kind = request_kind::api_get;
            path = api + "/centres";
            break;
        case s_appointments:
            r.kind = request_kind::api_get;
            path = api + "/appointments?centre=" + std::string(extra[2]) + "&date=" + sc_.booking.first_date +
                   "&days=" + std::to_string(sc_.booking.days);
            break;
        case s_book:
            r.kind = request_kind::api_post;
            path = api + "/bookings";
            body = "{\"centre\":" + std::string(extra[2]) + ",\"date\":\"" + std::string(extra[3]) + "\"}";
            break;
        case s_challenge:
            r.kind = request_kind::form_submit;
            if (const auto it = challenges_.find(i); it != challenges_.end()) {
                path = it->second.target;
            }
            break;
        default:
            r.kind = request_kind::page;
            r.path = to.path;
            break;
    }
    if (!path.empty()) {
        r.path = path;
    }
    r.body = body;
    build_request(out, c.kind, to, r);
}

std::array<std::string_view, 4> engine::split_extra(std::string_view s) {
    std::array<std::string_view, 4> out{};
    for (std::size_t k = 0; k < out.size() && !s.empty(); ++k) {
        const auto tab = s.find('\t');
        out[k] = s.substr(0, tab);
        s = tab == std::string_view::npos ? std::string_view{} : s.substr(tab + 1);
    }
    return out;
}

void engine::set_extra(std::uint32_t i, const std::string& extra) {
    auto& v = vis_[i];
    bool overflow = false;
    v.jar = jar_.store(v.jar, std::string(jar_.cookies(v.jar)), extra, overflow);
    traffic_.cookie_overflow += overflow ? 1 : 0;
}

void engine::admit(std::uint32_t i) {
    auto& v = vis_[i];
    if ((v.actions & action::admitted) != 0) {
        return;
    }
    if ((v.actions & action::ticket) != 0) {
        --waiting_;
    }
    v.actions |= action::admitted;
    v.admitted_ms = now_ms();
    ++admitted_;
    ++line_.at(v.admitted_ms).admitted;
}

void engine::first_answer(std::uint32_t i) {
    auto& v = vis_[i];
    if (v.first_answer_ms == no_time) {
        v.first_answer_ms = now_ms();
    }
}

void engine::took_ticket(std::uint32_t i) {
    auto& v = vis_[i];
    first_answer(i);
    if ((v.actions & (action::ticket | action::admitted)) == 0) {
        ++waiting_;
    }
    v.actions |= action::ticket;
}

void engine::retry_or_fail(std::uint32_t i, outcome final) {
    auto& v = vis_[i];
    if (++v.errors > sc_.run.retries) {
        finish(i, final);
        return;
    }
    schedule(i, v.step, 1000u * v.errors + static_cast<std::uint32_t>(rnd(i, v.requests) % 500), true);
}

// After a pass: humans follow the page to the portal, bots go straight for the API.
void engine::after_admission(std::uint32_t i) {
    const auto& c = cohort_of(vis_[i]);
    if (visits_only(c.kind)) {
        next_visit(i);
    } else if (c.kind == cohort_kind::human) {
        schedule(i, s_landing, static_cast<std::uint32_t>(rnd(i, 0x1a) % 300));
    } else if (c.book) {
        schedule(i, s_register, think(i));
    } else {
        finish(i, outcome::admitted);
    }
}

void engine::next_visit(std::uint32_t i) {
    auto& v = vis_[i];
    if (v.counter > 1) {
        --v.counter;
        schedule(i, s_visit, static_cast<std::uint32_t>(cohort_of(v).interval.count()));
    } else {
        finish(i, (v.actions & action::admitted) != 0 ? outcome::admitted : outcome::finished);
    }
}

std::uint32_t engine::poll_delay(std::uint32_t i, unsigned refresh_s) {
    const auto& c = cohort_of(vis_[i]);
    if (c.kind == cohort_kind::status_hammerer) {
        return static_cast<std::uint32_t>(c.interval.count());
    }
    const double base = 1000.0 * std::clamp(refresh_s, 1u, 300u);
    const double j = c.poll_jitter * (2.0 * unit(i, 0x9011 + vis_[i].requests) - 1.0);
    return static_cast<std::uint32_t>(base * (1.0 + j));
}

bool engine::gives_up(std::uint32_t i) {
    const auto& v = vis_[i];
    const auto& c = cohort_of(v);
    if (c.abandon <= 0 || unit(i, 0xab) >= c.abandon || v.first_answer_ms == no_time) {
        return false;
    }
    const double patience = -static_cast<double>(c.patience.count()) * std::log1p(-unit(i, 0xac) * 0.999999);
    return static_cast<double>(now_ms() - v.first_answer_ms) > patience;
}

void engine::on_answer(std::uint32_t i, const answer& a) {
    auto& v = vis_[i];
    const auto& c = cohort_of(v);
    bool got_pass = false;
    bool got_ticket = false;
    std::string cookies;
    if (!a.set_cookies.empty()) {
        cookies = std::string(jar_.cookies(v.jar));
        for (auto sc : a.set_cookies) {
            got_pass = got_pass || sc.starts_with(room_prefix_pass_);
            got_ticket = got_ticket || sc.starts_with(room_prefix_ticket_);
            apply_set_cookie(cookies, sc);
        }
        if (keeps_cookies(c.kind)) {
            bool overflow = false;
            v.jar = jar_.store(v.jar, cookies, std::string(jar_.extra(v.jar)), overflow);
            traffic_.cookie_overflow += overflow ? 1 : 0;
        }
    }
    if (v.step == s_challenge) {
        return on_challenge_answer(i, a);
    }
    const nlohmann::json j = v.step == s_visit || v.step == s_landing
                                 ? nlohmann::json()
                                 : nlohmann::json::parse(a.body, nullptr, false);
    const auto state = json_string(j, "state");
    const bool waiting_answer = got_ticket || (v.step == s_poll && state.has_value()) ||
                                (v.step == s_visit && page_refresh_seconds(a.body).has_value());
    const std::uint8_t act = classify_action(a.status, a.action, waiting_answer, sc_.target.queued_status_code);
    if (act != 0) {
        v.actions |= act;
        ++line_.at(now_ms()).machine_actions;
    }
    if ((act & action::denied) != 0) {
        finish(i, outcome::denied);
        return;
    }
    if (a.status >= 500) {
        v.actions |= action::server_error;
        retry_or_fail(i, (v.actions & action::admitted) != 0 ? outcome::admitted : outcome::failed);
        return;
    }
    if ((act & action::challenged) != 0) {
        if (c.solves_challenges && take_challenge(i, a.body, v.step)) {
            return;
        }
        // Not solved (a bot, or the visitor's solves are used up): try again later, and count
        // it as kept out in the end.
        retry_or_fail(i, (v.actions & action::admitted) != 0 ? outcome::admitted : outcome::denied);
        return;
    }
    switch (v.step) {
        case s_visit: return on_visit(i, a, got_pass, waiting_answer);
        case s_poll: return on_poll(i, a, j, state, got_pass);
        case s_landing:
            return c.book ? schedule(i, s_register, think(i)) : finish(i, outcome::admitted);
        default: return on_booking(i, a, j);
    }
}

void engine::on_visit(std::uint32_t i, const answer& a, bool got_pass, bool waiting_answer) {
    const auto& c = cohort_of(vis_[i]);
    if (got_pass) {
        first_answer(i);
        admit(i);
        after_admission(i);
        return;
    }
    if (!waiting_answer) {
        // Neither a place nor a pass: not the room we were told about (or a 404).
        vis_[i].actions |= action::server_error;
        retry_or_fail(i, outcome::failed);
        return;
    }
    took_ticket(i);
    if (visits_only(c.kind)) {
        next_visit(i);
    } else if (c.kind == cohort_kind::status_hammerer) {
        schedule(i, s_poll, static_cast<std::uint32_t>(c.interval.count()));
    } else {
        schedule(i, s_poll, poll_delay(i, page_refresh_seconds(a.body).value_or(5)));
    }
}

void engine::on_poll(std::uint32_t i, const answer& a, const nlohmann::json& j, const std::optional<std::string>& state, bool got_pass) {
    auto& v = vis_[i];
    if (a.status == 404) {
        // The place lapsed: the page reloads and takes a new one (bounded by the retries).
        ++v.errors;
        if (v.errors > sc_.run.retries) {
            finish(i, outcome::failed);
        } else {
            schedule(i, s_visit, 1000, true);
        }
        return;
    }
    if (got_pass || state == "admitted") {
        admit(i);
        after_admission(i);
        return;
    }
    if (!state) {
        vis_[i].actions |= action::server_error;
        retry_or_fail(i, outcome::failed);
        return;
    }
    if (*state == "prequeue") {
        v.actions |= action::prequeue;
    }
    if (const auto pos = json_int(j, "position"); pos && *pos > 0 && v.position == 0) {
        v.position = static_cast<std::uint32_t>(std::min<std::int64_t>(*pos, 0xffffffff));
    }
    if (const auto eta = json_int(j, "eta_high_seconds"); eta && *eta >= 0 && v.eta_deadline_ms == no_time) {
        v.eta_deadline_ms = static_cast<std::uint32_t>(std::min<std::int64_t>(now_ms() + *eta * 1000, no_time - 1));
    }
    if (gives_up(i)) {
        finish(i, outcome::abandoned);
        return;
    }
    const auto refresh = json_int(j, "refresh_after_seconds").value_or(*state == "closed" ? 10 : 5);
    schedule(i, s_poll, poll_delay(i, static_cast<unsigned>(std::clamp<std::int64_t>(refresh, 1, 300))));
}

void engine::on_booking(std::uint32_t i, const answer& a, const nlohmann::json& j) {
    auto& v = vis_[i];
    if (a.status == 404) {
        ++traffic_.booking_unavailable;
        finish(i, outcome::admitted);
        return;
    }
    const auto extra = split_extra(jar_.extra(v.jar));
    switch (v.step) {
        case s_register: {
            const auto code = json_string(j, "booking_code");
            const auto pin = json_string(j, "pin");
            if (a.status != 201 || !code || !pin) {
                return retry_or_fail(i, outcome::admitted);
            }
            set_extra(i, *code + "\t" + *pin);
            return schedule(i, s_login, think(i));
        }
        case s_login:
            if (a.status != 201) {
                return retry_or_fail(i, outcome::admitted);
            }
            return schedule(i, s_centres, think(i) / 4);
        case s_centres: {
            const auto it = j.is_object() ? j.find("centres") : j.end();
            if (a.status != 200 || it == j.end() || !it->is_array() || it->empty()) {
                return retry_or_fail(i, outcome::admitted);
            }
            const auto& pick = (*it)[rnd(i, 0xce) % it->size()];
            const auto id = json_int(pick, "id");
            if (!id) {
                return retry_or_fail(i, outcome::admitted);
            }
            set_extra(i, std::string(extra[0]) + "\t" + std::string(extra[1]) + "\t" + std::to_string(*id));
            return schedule(i, s_appointments, think(i) / 4);
        }
        case s_appointments: {
            const auto it = j.is_object() ? j.find("days") : j.end();
            if (a.status != 200 || it == j.end() || !it->is_array()) {
                return retry_or_fail(i, outcome::admitted);
            }
            std::vector<std::string> free;
            for (const auto& d : *it) {
                if (json_int(d, "free").value_or(0) > 0) {
                    if (auto date = json_string(d, "date")) {
                        free.push_back(*date);
                    }
                }
            }
            if (free.empty()) {
                return finish(i, outcome::admitted);  // nothing left to book
            }
            // Most take the first free day, some a later one.
            const auto k = unit(i, 0xda + v.counter) < 0.6 ? 0 : rnd(i, 0xdb + v.counter) % free.size();
            set_extra(i, std::string(extra[0]) + "\t" + std::string(extra[1]) + "\t" + std::string(extra[2]) + "\t" +
                             free[k]);
            return schedule(i, s_book, think(i));
        }
        case s_book:
            if (a.status == 201) {
                v.actions |= action::booked;
                ++line_.at(now_ms()).booked;
                return finish(i, outcome::booked);
            }
            if (a.status == 409) {
                ++traffic_.booking_conflicts;
                if (json_string(j, "code") == "no_capacity" && v.counter > 1) {
                    --v.counter;
                    return schedule(i, s_appointments, think(i) / 4);
                }
                if (json_string(j, "code") == "already_booked") {
                    // An earlier attempt got through but its answer was lost (a retry): the
                    // appointment exists.
                    v.actions |= action::booked;
                    ++line_.at(now_ms()).booked;
                    return finish(i, outcome::booked);
                }
                return finish(i, outcome::admitted);
            }
            return retry_or_fail(i, outcome::admitted);
        default:
            return finish(i, outcome::failed);
    }
}

// ---- challenges -------------------------------------------------------------------------------

namespace {

std::uint64_t thread_cpu_us() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(t.tv_nsec) / 1000u;
}

}  // namespace

bool engine::take_challenge(std::uint32_t i, std::string_view body, std::uint8_t back) {
    auto& v = vis_[i];
    if (v.solves >= max_challenge_solves) {
        return false;
    }
    auto ch = parse_challenge(body);
    if (!ch || ch->difficulty > max_solvable_difficulty) {
        return false;
    }
    ++v.solves;
    // The form goes when a browser would be done, or when the solver is, whichever is later.
    const std::uint32_t due = now_ms() + browser_solve_ms(ch->difficulty, unit(i, 0xc4a1 + v.solves));
    challenges_[i] = pending_challenge{back, {}};
    v.step = s_challenge;
    net::post(solver_, [this, i, due, job = std::move(*ch)] {
        const auto cpu0 = thread_cpu_us();
        std::uint64_t hashes = 0;
        const auto sol =
            solve_challenge(job.token, job.difficulty, challenge_max_tries(job.difficulty), hashes, &solver_stop_);
        std::optional<std::string> form;
        if (sol) {
            form = challenge_submit_target(job, sol->counter);
        }
        const auto cpu_us = thread_cpu_us() - cpu0;
        net::post(ioc_, [this, i, due, form = std::move(form), hashes, cpu_us] { on_solved(i, due, form, hashes, cpu_us); });
    });
    return true;
}

void engine::on_solved(std::uint32_t i, std::uint32_t due_ms, const std::optional<std::string>& form,
                       std::uint64_t hashes, std::uint64_t cpu_us) {
    traffic_.challenge_hashes += hashes;
    traffic_.challenge_cpu_us += cpu_us;
    const auto it = challenges_.find(i);
    if (stopping_ || it == challenges_.end()) {
        return;
    }
    if (!form) {
        finish(i, (vis_[i].actions & action::admitted) != 0 ? outcome::admitted : outcome::denied);
        return;
    }
    ++traffic_.challenge_solves;
    it->second.target = *form;
    const auto now = now_ms();
    schedule(i, s_challenge, due_ms > now ? due_ms - now : 0);
}

void engine::on_challenge_answer(std::uint32_t i, const answer& a) {
    auto& v = vis_[i];
    const auto it = challenges_.find(i);
    const std::uint8_t back = it != challenges_.end() ? it->second.back : std::uint8_t{s_visit};
    if (a.action == "deny") {
        v.actions |= action::denied;
        ++line_.at(now_ms()).machine_actions;
        finish(i, outcome::denied);
        return;
    }
    if (a.status >= 500) {
        v.actions |= action::server_error;
        retry_or_fail(i, (v.actions & action::admitted) != 0 ? outcome::admitted : outcome::failed);  // the same form again
        return;
    }
    if (a.status < 400) {
        // 303 to the return path (or 200 for JSON) with anteroom_clear, now in the jar: the
        // challenged step again, after the browser's redirect.
        ++traffic_.challenge_cleared;
        challenges_.erase(i);
        schedule(i, back, static_cast<std::uint32_t>(rnd(i, 0xc1ea + v.requests) % 200));
        return;
    }
    // Refused (bad, expired, replayed): the answer is a fresh challenge page.
    ++traffic_.challenge_refused;
    if (take_challenge(i, a.body, back)) {
        return;
    }
    challenges_.erase(i);
    v.step = back;
    retry_or_fail(i, (v.actions & action::admitted) != 0 ? outcome::admitted : outcome::denied);
}

}  // namespace anteroom::bench::surge_detail
