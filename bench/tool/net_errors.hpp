#pragma once
// Which error_kind a failed exchange counts as: shared by the raw and the surge engines.

#include "bench/tool/report.hpp"
#include "common/net.hpp"

namespace anteroom::bench {

// `timed_out`: the engine's deadline sweep closed the socket (the operation then fails with
// whatever the close caused, so the flag decides).
inline error_kind classify(const beast::error_code& ec, bool timed_out) {
    if (timed_out) {
        return error_kind::timeout;
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == http::error::partial_message) {
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
