#include "client_tcp_proxy.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <future>

namespace parley::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// One relayed connection: bytes are pumped both ways until either side fails or the test cuts.
struct tcp_proxy::relay {
  virtual ~relay() = default;
  /// Abortive close: both ends see a reset, as when a path dies, not an orderly shutdown.
  virtual void reset() = 0;
};

namespace {

using tls_socket = asio::ssl::stream<tcp::socket>;

void reset_socket(tcp::socket& s) {
  error_code ignored;
  s.set_option(asio::socket_base::linger(true, 0), ignored);
  s.close(ignored);
}

// The client side is a plain socket or a TLS stream over one; the server side is always plain.
template <class ClientSide>
class relay_of final : public tcp_proxy::relay,
                       public std::enable_shared_from_this<relay_of<ClientSide>> {
  using buffer = std::array<char, 16384>;

 public:
  template <class... Args>
  explicit relay_of(tcp::socket accepted, Args&... tls)
      : client_(std::move(accepted), tls...), server_(client_.get_executor()) {}

  void start(std::uint16_t server_port) {
    if constexpr (std::is_same_v<ClientSide, tls_socket>) {
      client_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this(), server_port](error_code ec) {
                                if (ec) return self->reset();
                                self->connect(server_port);
                              });
    } else {
      connect(server_port);
    }
  }

  void reset() override {
    reset_socket(server_);
    if constexpr (std::is_same_v<ClientSide, tls_socket>) {
      reset_socket(client_.next_layer());
    } else {
      reset_socket(client_);
    }
  }

 private:
  void connect(std::uint16_t server_port) {
    server_.async_connect({asio::ip::address_v4::loopback(), server_port},
                          [self = this->shared_from_this()](error_code ec) {
                            if (ec) return self->reset();
                            self->pump(self->client_, self->server_, self->upstream_);
                            self->pump(self->server_, self->client_, self->downstream_);
                          });
  }

  template <class From, class To>
  void pump(From& from, To& to, buffer& chunk) {
    from.async_read_some(asio::buffer(chunk), [self = this->shared_from_this(), &from, &to,
                                               &chunk](error_code ec, std::size_t n) {
      if (ec) return self->reset();
      asio::async_write(to, asio::buffer(chunk.data(), n),
                        [self, &from, &to, &chunk](error_code ec, std::size_t) {
                          if (ec) return self->reset();
                          self->pump(from, to, chunk);
                        });
    });
  }

  ClientSide client_;
  tcp::socket server_;
  buffer upstream_{};    // client to server
  buffer downstream_{};  // server to client
};

}  // namespace

tcp_proxy::tcp_proxy(std::uint16_t server_port, asio::ssl::context* tls)
    : server_port_(server_port),
      tls_(tls),
      acceptor_(ioc_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
      thread_([this] {
        accept();
        ioc_.run();
      }) {}

tcp_proxy::~tcp_proxy() {
  asio::post(ioc_, [this] {
    acceptor_.close();
    reset_relays();
  });
  thread_.join();  // run() returns once the closed sockets' handlers have finished
}

std::string tcp_proxy::ws_url() const {
  return "ws://127.0.0.1:" + std::to_string(port()) + "/ws";
}

void tcp_proxy::cut() {
  std::promise<void> done;
  asio::post(ioc_, [this, &done] {
    reset_relays();
    done.set_value();
  });
  done.get_future().wait();
}

void tcp_proxy::reset_relays() {
  for (auto& weak : relays_) {
    if (auto r = weak.lock()) r->reset();
  }
  relays_.clear();
}

void tcp_proxy::accept() {
  acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
    if (ec) return;  // closed by the destructor
    ++accepted_;
    std::erase_if(relays_, [](const auto& weak) { return weak.expired(); });
    if (tls_ != nullptr) {
      auto r = std::make_shared<relay_of<tls_socket>>(std::move(socket), *tls_);
      r->start(server_port_);
      relays_.push_back(r);
    } else {
      auto r = std::make_shared<relay_of<tcp::socket>>(std::move(socket));
      r->start(server_port_);
      relays_.push_back(r);
    }
    accept();
  });
}

}  // namespace parley::test
