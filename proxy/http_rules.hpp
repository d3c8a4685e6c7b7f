#pragma once
// RFC 9112 framing rules applied to the raw request head before Beast parses it. Beast is
// lenient in places where a proxy must not be (a lenient proxy in front of a strict or
// differently-lenient upstream is how requests get smuggled). Pure: bytes in, verdict out.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom::proxy {

enum class head_defect {
    none,
    bad_request_line,     // method/target/version syntax, unsupported version
    bare_cr_or_lf,        // CR not followed by LF, or LF not preceded by CR
    obs_fold,             // header line starting with SP/HTAB (line folding)
    bad_header_name,      // empty, non-tchar, or whitespace before ':'
    bad_header_value,     // NUL or other CTL (except HTAB), or DEL
    cl_and_te,            // both Content-Length and Transfer-Encoding
    bad_content_length,   // not 1*DIGIT, overflow, or differing duplicates
    bad_transfer_encoding,  // anything but a final "chunked" (or TE on HTTP/1.0)
    missing_host,         // HTTP/1.1 without exactly one Host
    too_many_headers,     // more than max_fields header lines
};

struct head_check {
    head_defect defect = head_defect::none;
    std::string_view detail;  // static text for logs, never request bytes
    bool ok() const { return defect == head_defect::none; }
};

// `head` is the request line and header lines including the terminating empty line
// ("...\r\n\r\n"). The caller has already enforced the overall size limit.
head_check check_request_head(std::string_view head, std::size_t max_fields = 100);

// Where the head ends: index one past "\r\n\r\n", or 0 when not complete yet. A bare "\n\n"
// also ends the head (so the check above can reject it instead of waiting for more bytes).
std::size_t find_head_end(std::string_view bytes);

std::string_view to_string(head_defect d);

// Where a redirect listener sends a request: "https://" + the Host without its port + ":port"
// (left out for 443 and 0) + the target (an absolute-form target keeps only its path and
// query). nullopt when the Host is missing or not a plain host name or IP literal.
std::optional<std::string> https_location(std::string_view host, std::uint16_t port, std::string_view target);

}  // namespace anteroom::proxy
