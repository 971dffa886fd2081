"""
Several servers, one chat: the hub's L{chat.relay.Relay} over Redis.

Every server (a node) publishes what its own members do on one Redis channel and plays what
the others publish back into its hub as L{RemoteMember}s, so that rooms, C{/who}, C{/rooms},
private messages and nick uniqueness span the cluster.  In Redis, under C{chat:DB:}:

- channel C{events}: one JSON object a message, C{{"node": ID, "event": KIND, ...fields}};
  one publishing connection a node keeps each node's events in order;
- C{nick:NICK} (the folded nick): the node holding it, taken with C{SET NX}, so that of two
  members claiming one nick on two nodes at once exactly one wins;
- C{nodes}: the set of node ids; C{alive:ID}: a key with a TTL that its node refreshes
  every third of it; C{members:ID}: a hash of its members' nicks and rooms.  A node whose
  C{alive} key has expired is dead: the first node to notice removes its members (their rooms
  hear them quit) and frees their nicks;
- C{history:ROOM}: the room's last lines, capped, which a node loads when it (re)joins the
  cluster; C{topic:ROOM}: its topic.  Both go when the room empties.

When Redis goes away, each node goes on serving its own members, says so once, reconnects
with backoff (txredisapi's), and when it is back subscribes again, republishes its members
and reloads the others'.
"""

from chat.cluster.link import ClusterLink
from chat.cluster.messages import MalformedEvent, decodeEvent, encodeEvent

__all__ = ["ClusterLink", "MalformedEvent", "decodeEvent", "encodeEvent"]
