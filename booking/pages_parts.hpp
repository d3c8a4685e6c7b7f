#pragma once
// The page handlers of each area (pages.cpp: start, register, log in; pages_person.cpp: book and
// my appointments; pages_hotline.cpp; pages_admin.cpp), gathered into one route table by
// page_routes(), and the registration form the person's and the hotline's pages share.

#include "booking/pages_kit.hpp"

namespace anteroom::booking::pages {

// Registration: name, birth date, contact, postal address, priority group. The hotline needs the
// postal address (the letter goes there) and takes it as the contact when none is given.
std::optional<new_registration> read_registration(ui_language l, const form_values& v, day_number today,
                                                  bool address_required, form_errors& errors);
std::string render_registration_fields(ui_language l, const form_values& v, bool address_required,
                                       const form_errors& errors);
// The booking code and PIN, shown once, with the note to keep them.
std::string render_login_data(ui_language l, const login_data& d, bool for_caller);
// "ABCD-EFGH-JKLM": easier to read out and copy; login ignores the dashes.
std::string grouped_code(std::string_view code);

simple_response get_appointments(request_ctx& ctx);
simple_response post_book(request_ctx& ctx);
simple_response get_my(request_ctx& ctx);
simple_response post_cancel(request_ctx& ctx);
simple_response post_rebook(request_ctx& ctx);

simple_response get_hotline(request_ctx& ctx);
simple_response post_hotline_login(request_ctx& ctx);
simple_response post_hotline_logout(request_ctx& ctx);
simple_response post_hotline_register(request_ctx& ctx);
simple_response post_hotline_book(request_ctx& ctx);
simple_response post_hotline_cancel(request_ctx& ctx);

simple_response get_admin(request_ctx& ctx);
simple_response post_admin_login(request_ctx& ctx);
simple_response post_admin_logout(request_ctx& ctx);
simple_response post_admin_centre(request_ctx& ctx);
simple_response post_admin_delivery(request_ctx& ctx);
simple_response post_admin_group(request_ctx& ctx);
simple_response post_admin_reserve(request_ctx& ctx);
simple_response post_admin_release(request_ctx& ctx);
simple_response post_admin_printed(request_ctx& ctx);
simple_response post_admin_agent(request_ctx& ctx);
simple_response post_admin_retention(request_ctx& ctx);

}  // namespace anteroom::booking::pages
