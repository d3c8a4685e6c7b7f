#pragma once
// The admin page's views (pages_admin_view.cpp), rendered by the handlers in pages_admin.cpp
// from plain values.

#include "booking/pages_kit.hpp"

namespace anteroom::booking::pages {

// The keys of the opening-day checkboxes, Monday first (bit 0 of centre::open_days).
inline constexpr std::string_view day_keys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

struct admin_view {
    std::string notice;
    form_errors errors;
    form_values posted;
    std::optional<capacity_summary> capacity;
    std::vector<centre> centres;
    std::vector<std::pair<std::int64_t, bool>> groups;
    std::vector<letter> letters;
    std::int64_t doses_per_vial = 6;
};

std::string render_admin_login(ui_language l, const form_errors& errors);
std::string render_admin(ui_language l, const admin_view& v);

}  // namespace anteroom::booking::pages
