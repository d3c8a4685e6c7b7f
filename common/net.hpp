#pragma once
// Alias header (as in Beast's examples): one place that names the namespaces.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// The proxy's sockets name their io_context's executor type instead of the type-erased
// any_io_executor (56 bytes, a virtual call per dispatch): every socket, and every pending
// operation on it (which holds the executor twice), is that much smaller and cheaper.
using io_executor = boost::asio::io_context::executor_type;
using tcp_socket = boost::asio::basic_stream_socket<tcp, io_executor>;
using tcp_acceptor = boost::asio::basic_socket_acceptor<tcp, io_executor>;
