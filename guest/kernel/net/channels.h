#pragma once
/// Network channels (docs/guest-os.md "Networking (phase 2)"): what `net_open` returns to a
/// program, and the hand-off to netd. A channel joins the opener's user (the local identity) to
/// one peer key, or to any key (accept `*`). Programs only write and read whole messages; netd
/// learns of opens, messages to send and closes through `netd_next_request` (scanned from the
/// channel table, so closing never blocks) and hands received messages back with
/// `netd_deliver`. Two messages are buffered each way per channel.
#include <stddef.h>
#include <stdint.h>

#include "popek_os/abi.h"

namespace pos {

struct User;

inline constexpr int kMaxChannels = 16;

/// A new channel for `user` (already authorized); its number, -POS_ENOSPC, or -POS_EIO when
/// no netd runs.
long channel_open(const User* user, const uint8_t* peer, bool any_peer, bool accept);
/// Queues one message (blocks while the channel's two outgoing slots are full).
long channel_write(int channel, const void* kbuf, size_t len);
/// Takes one received message (blocks until one arrives) into `out`.
long channel_read(int channel, PosNetMessage& out);
/// The owner closed it (or exited): netd hears of it, then the slot is reused.
void channel_close(int channel);

/// netd's side: the next open, message or close (false: none now), skipping the messages and
/// closes of the channels set in `held` (bit per channel: netd's queue for them is full). A
/// blocking call also returns false as soon as `also_wake_locked` (if given) is true; it is
/// checked under the scheduler lock each time netd is woken (channel_wake_netd_locked).
bool channel_next_request(PosNetRequest& req, bool block, uint32_t held, bool (*also_wake_locked)() = nullptr);
/// Wakes netd if it waits in channel_next_request (scheduler lock held): a frame arrived.
void channel_wake_netd_locked();
/// How many times netd asked for a request so far (net_stats: an idle netd does not poll).
uint64_t channel_netd_request_calls();
/// The user of an open accept-any channel (its every sender is authorized on delivery), else nullptr.
const User* channel_any_peer_user(int channel);
/// netd's side: a message for `msg.channel`; 0, -POS_EINVAL (no such open channel), -POS_ENOSPC.
long channel_deliver(const PosNetMessage& msg);
/// netd exited: every channel is closed for good (later opens get -POS_EIO).
void channel_netd_running(bool running);

}  // namespace pos
