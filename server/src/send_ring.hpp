// Batches the sends of one cork release into io_uring submissions. A fan-out to 1,000 members
// is 1,000 sends; each send(2) is a kernel entry and exit, and on this project's machines (x86
// with page-table isolation) that round trip alone costs about 1 µs, a sixth of the whole send.
// Staged here, the sends of a release go to the kernel in batches of up to `depth`, one
// io_uring_enter(2) each.
//
// Every staged send carries MSG_DONTWAIT, so the kernel completes it during the submission
// exactly as send(2) would (bytes written, or -EAGAIN when the socket is full, or the error):
// nothing stays in flight once submit() returns, so the bytes can be copied into one arena
// that is reused by the next batch, and the sender learns its result before the release ends.
//
// Where the kernel refuses io_uring (older than 5.6, a container's seccomp profile,
// kernel.io_uring_disabled) or the operator turns it off (`io_uring` option), the ring is not
// available and the wire sends with send(2) itself, as before: same bytes, same order.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct io_uring;

namespace parley::server {

class send_ring {
 public:
  /// A connection whose send was staged: told what became of it.
  class sender {
   public:
    /// `staged` is the frame as it was copied (valid only during the call); `result` is what
    /// send(2) would have returned: bytes written, or -errno.
    virtual void ring_sent(std::span<const char> staged, long result) = 0;

   protected:
    ~sender() = default;
  };

  /// Sends staged per io_uring_enter at most.
  static constexpr unsigned depth = 256;
  /// Bytes of one staged send at most (larger frames are gathered by the wire itself).
  static constexpr std::size_t max_send = 512;

  /// Sets a ring up when `enabled`; available() says whether the kernel allowed it.
  explicit send_ring(bool enabled);
  ~send_ring();
  send_ring(const send_ring&) = delete;
  send_ring& operator=(const send_ring&) = delete;

  bool available() const { return ring_ != nullptr; }
  /// Why the ring is not available ("" when it is): for the startup log.
  const std::string& refusal() const { return refusal_; }

  /// From here until finish(), stage() takes sends (when available).
  void begin() { open_ = ring_ != nullptr; }
  /// Submits what is staged, tells every sender its result and closes the batch.
  void finish();
  /// Inside a batch: copies `header` then `body` (at most max_send bytes together) and stages
  /// their send on `fd`; `owner` hears the result before finish() returns. False outside a
  /// batch or when the ring is not available: the caller sends itself.
  bool stage(int fd, std::span<const unsigned char> header, std::string_view body,
             sender& owner);

 private:
  struct staged {
    sender* owner;
    int fd;
    std::size_t offset;  // into arena_
    std::size_t size;
    long result;  // -ECANCELED until its completion is in
  };

  /// Sends everything staged so far and reports each result; the batch stays open.
  void submit();

  std::unique_ptr<io_uring> ring_;
  std::string refusal_;
  bool open_ = false;
  std::vector<staged> staged_;
  std::vector<char> arena_;  // depth * max_send bytes: a full batch always fits
  std::size_t used_ = 0;     // arena bytes staged so far
};

}  // namespace parley::server
