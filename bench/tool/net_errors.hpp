#pragma once
// Which error_kind a failed exchange counts as: shared by the raw and the surge engines.

#include <boost/asio/ssl/error.hpp>

#include "bench/tool/report.hpp"
#include "common/net.hpp"

namespace anteroom::bench {

// `timed_out`: the engine's deadline sweep closed the socket (the operation then fails with
// whatever the close caused, so the flag decides).
inline error_kind classify(const beast::error_code& ec, bool timed_out) {
    if (timed_out) {
        return error_kind::timeout;
    }
    // stream_truncated: over TLS, the server closed the TCP connection without a close_notify.
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == http::error::partial_message ||
        ec == net::ssl::error::stream_truncated) {
        return error_kind::closed;
    }
    if (ec == net::error::connection_reset || ec == net::error::broken_pipe) {
        return error_kind::reset;
    }
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
        return error_kind::parse;
    }
    return error_kind::other;
}

}  // namespace anteroom::bench
