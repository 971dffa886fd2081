"""
Several servers, one chat: the hub's L{chat.relay.Relay} over Redis.

Every server (a node) publishes what its own members do on one Redis channel and plays what
the others publish back into its hub as L{RemoteMember}s, so that rooms, C{/who}, C{/rooms},
private messages and nick uniqueness span the cluster.  In Redis, under C{chat:DB:}:

- channel C{events}: one message a reactor turn from each node that had events in it, with
  all of them in order (L{messages}: a JSON array of the format's name, the node and the
  events, each a short array); one command connection a node keeps each node's events in
  order.  Besides what members do, two events are about nodes: C{synced} (L{messages.NodeSynced}), which a node sends
  whenever it (re)joins, with all its members and their rooms, so that the others make their
  copies of them exactly that, announcing only what differs; and C{gone}
  (L{messages.NodeGone}), which the node that reaps a dead node sends;
- C{nick:NICK} (the folded nick): the node holding it, taken with C{SET NX}, so that of two
  members claiming one nick on two nodes at once exactly one wins;
- C{guests}: a counter (C{INCR}) that numbers every guest nick of the cluster, so that no two
  nodes hand out one guest nick, even one after the other, while news of it is on its way;
- C{nodes}: the set of node ids; C{alive:ID}: a key with a TTL that its node refreshes
  every third of it, and sets before it joins C{nodes}; C{members:ID}: the node's member
  directory, a hash of each member's nick to the JSON list of the rooms it is in, kept up to
  date on every join, part, nick change and quit, and written whole (never emptied first)
  when the node (re)joins.  A node whose C{alive} key has expired is dead: the first node to
  notice removes it from Redis (frees its nicks, deletes its directory) and publishes
  C{gone}; every node, on that or on seeing the key gone itself, drops its members (their
  rooms hear them quit);
- C{state:ID}: the away message and account of each of the node's members that has either,
  a hash of its nick to C{{"away": TEXT, "account": NAME or null}}, kept up to date as they
  change (the channel's C{away} and C{account} events tell them at once), rewritten when
  the node (re)joins, and read by a node that joins, and when another sends C{synced};
- C{history:ROOM}: the room's last lines (each a message of one event, with the time it was
  said on its node), which a node loads when it (re)joins the cluster; each node trims it to
  the history's size once it pushed that many lines, so that it holds at most that size
  times one more than the nodes; C{topic:ROOM}: its topic.  Both go when the room empties.
  Nodes whose state store is Redis too (L{chat.store.redis}, the default with C{--redis})
  keep no C{history:ROOM}: they load a room's lines from the store, which keeps them when
  the room empties;
- C{rules}: the standing moderation rules (bans, mutes...), for the nodes that join later.

When Redis goes away, each node goes on serving its own members, says so once, reconnects
with backoff (txredisapi's, at most a third of the TTL apart), and when it is back subscribes
again, settles the others' members to their directories, then writes its own and sends
C{synced}.  A node that Redis does not know at all (as when Redis restarted empty) keeps its
members on the others until it is back and sends C{synced}, or for a TTL after they are back
themselves, after which it counts as dead.  So after an outage nobody who stayed is
announced as quitting or joining: only those who really left, came or changed rooms.

A node's writes of one turn (the message, the rooms' new lines, directory entries, topics)
go out together when the turn ends, as commands Redis is told not to answer (C{CLIENT REPLY
SKIP}, Redis 3.2 or later): under load that is one C{PUBLISH} and one C{LPUSH} a room a turn,
not three commands a line.

L{ClusterLink} reaches Redis through L{connections.Connections}: txredisapi's connections in
the daemon, an in-memory Redis in C{tests/fakeredis.py}.
"""

from chat.cluster.link import ClusterLink
from chat.cluster.messages import MalformedEvent, decodeEvent, encodeEvent

__all__ = ["ClusterLink", "MalformedEvent", "decodeEvent", "encodeEvent"]
