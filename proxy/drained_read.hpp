#pragma once
// A socket read that asks the kernel whether anything is left to read, so that the socket's
// next read waits for epoll instead of first trying a recv that can only say EAGAIN.
//
// Asio registers every socket with epoll once, edge-triggered, and tries each read at once
// ("speculatively") unless the previous read on that socket found the end of the stream. A
// proxy reads a request, answers, and reads again: that next read comes straight after the
// answer was sent, before the client can have sent anything, and costs a recv that returns
// EAGAIN. The same happens on the upstream side after each request is sent. Measured with
// `perf stat -e syscalls:sys_enter_recvfrom`: 2.49 recvs per proxied request instead of 2
// (HAProxy: 2.00), and on this machine every system call costs about a microsecond. nginx and
// HAProxy take a short read as "drained"; that is wrong when the peer's FIN arrived together
// with the data (the next read must report the end, but no new epoll edge will come), which is
// why nginx also watches EPOLLRDHUP. Asio shows neither to an operation.
//
// Linux says it exactly instead: with TCP_INQ on (enable_input_hint, set on the listening
// sockets, inherited by accepted ones, and on upstream connections), recvmsg returns how much
// is left in the receive queue after the read, and 1 when only a FIN is left. The operation
// below is Asio's own receive operation except that it reads with recvmsg and, when nothing is
// left, reports "done and exhausted" (the status Asio's receive reports only at end of stream).
// The reactor then starts the socket's next read by waiting for the next edge instead of trying
// it. Every arrival after that recvmsg raises a new edge, so nothing is missed. Without the hint
// (the option not set) the operation behaves as Asio's. The rest is Asio's: the reactor, the
// per-descriptor state, cancellation by socket.cancel()/close(), the recycling allocator,
// completion through the handler's executor.
//
// This reaches into asio::detail (reactor_op, epoll_reactor::start_op), which is stable across
// the Boost releases Debian ships; where the reactor is not epoll or TCP_INQ does not exist,
// where the handler has a per-operation cancellation slot, or for an empty buffer, the plain
// async_read_some is used.

#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/net.hpp"

#if defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && \
    !defined(BOOST_ASIO_HAS_IOCP) && defined(TCP_INQ)
#define ANTEROOM_DRAINED_READ 1
#else
#define ANTEROOM_DRAINED_READ 0
#endif

namespace anteroom::proxy::detail {

#if ANTEROOM_DRAINED_READ
namespace ad = boost::asio::detail;

// The socket's implementation (descriptor, state, reactor registration) is a protected member
// of basic_socket; a pointer to it formed in a derived class may be applied to any socket.
struct socket_access : tcp_socket {
    static auto& impl(tcp_socket& s) { return (s.*&socket_access::impl_).get_implementation(); }
};

// TCP_INQ's answer with a read: true when the receive queue is empty after it (no data, no
// FIN). False when the answer is missing (the option is not set on this socket).
inline bool nothing_left(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
            int left = 0;
            std::memcpy(&left, CMSG_DATA(c), sizeof left);
            return left == 0;
        }
    }
    return false;
}

template <class Handler, class IoExecutor>
class drained_read_op : public ad::reactor_op {
public:
    BOOST_ASIO_DEFINE_HANDLER_PTR(drained_read_op);

    drained_read_op(ad::socket_type s, net::mutable_buffer buffer, Handler& handler, const IoExecutor& ex)
        : ad::reactor_op(beast::error_code(), &drained_read_op::do_perform, &drained_read_op::do_complete),
          socket_(s),
          buffer_(buffer),
          handler_(std::move(handler)),
          work_(handler_, ex) {}

    static status do_perform(ad::reactor_op* base) {
        auto* o = static_cast<drained_read_op*>(base);
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        iovec iov{o->buffer_.data(), o->buffer_.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        for (;;) {
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            const ssize_t n = ::recvmsg(o->socket_, &msg, 0);
            if (n > 0) {
                o->bytes_transferred_ = static_cast<std::size_t>(n);
                return nothing_left(msg) ? done_and_exhausted : done;
            }
            if (n == 0) {
                o->ec_ = net::error::eof;
                return done_and_exhausted;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return not_done;  // wait for the socket's next edge
            }
            o->ec_ = beast::error_code(errno, net::error::get_system_category());
            o->bytes_transferred_ = 0;
            return done;
        }
    }

    // As Asio's reactive_socket_recv_op::do_complete.
    static void do_complete(void* owner, ad::operation* base, const beast::error_code& /*ec*/,
                            std::size_t /*bytes_transferred*/) {
        auto* o = static_cast<drained_read_op*>(base);
        ptr p = {ad::addressof(o->handler_), o, o};
        ad::handler_work<Handler, IoExecutor> w(std::move(o->work_));
        // The handler is moved out before the operation's memory is recycled: a part of it may
        // own that memory.
        ad::binder2<Handler, beast::error_code, std::size_t> handler(o->handler_, o->ec_, o->bytes_transferred_);
        p.h = ad::addressof(handler.handler_);
        p.reset();
        if (owner) {
            ad::fenced_block b(ad::fenced_block::half);
            w.complete(handler, handler.handler_);
        }
    }

private:
    ad::socket_type socket_;
    net::mutable_buffer buffer_;
    Handler handler_;
    ad::handler_work<Handler, IoExecutor> work_;
};

struct initiate_drained_read {
    template <class Handler>
    void operator()(Handler&& h, tcp_socket* s, ad::epoll_reactor** reactor, net::mutable_buffer buffer) const {
        using handler_t = std::decay_t<Handler>;
        handler_t handler(std::forward<Handler>(h));
        if (buffer.size() == 0 || net::get_associated_cancellation_slot(handler).is_connected()) {
            s->async_read_some(buffer, std::move(handler));
            return;
        }
        auto& impl = socket_access::impl(*s);
        if (*reactor == nullptr) {
            *reactor = &net::use_service<ad::epoll_reactor>(s->get_executor().context());
        }
        const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
        using op = drained_read_op<handler_t, io_executor>;
        typename op::ptr p = {ad::addressof(handler), op::ptr::allocate(handler), nullptr};
        p.p = new (p.v) op(impl.socket_, buffer, handler, s->get_executor());
        // As reactive_socket_service_base::start_op: the descriptor is made non-blocking once.
        if ((impl.state_ & ad::socket_ops::non_blocking) != 0 ||
            ad::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, p.p->ec_)) {
            (*reactor)->start_op(ad::epoll_reactor::read_op, impl.socket_, impl.reactor_data_, p.p, is_continuation,
                                 true);
        } else {
            (*reactor)->post_immediate_completion(p.p, is_continuation);
        }
        p.v = p.p = nullptr;
    }
};

// `reactor` caches the socket's reactor (looked up on first use: the lookup takes the
// context's service registry lock).
template <class Token>
auto async_read_drained(tcp_socket& s, ad::epoll_reactor*& reactor, net::mutable_buffer buffer, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, std::size_t)>(initiate_drained_read{}, token, &s,
                                                                          &reactor, buffer);
}
#else
template <class Token>
auto async_read_drained(tcp_socket& s, boost::asio::detail::epoll_reactor*& /*reactor*/, net::mutable_buffer buffer,
                        Token&& token) {
    return s.async_read_some(buffer, std::forward<Token>(token));
}
#endif

}  // namespace anteroom::proxy::detail
