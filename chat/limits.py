"""
The per-connection and per-server limits that keep one client from hurting the others.
C{docs/security.md} says what a client sees when it reaches each one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limits:
    """
    @ivar maxLine: the longest line accepted, in bytes of UTF-8 without its line ending.
    @ivar maxRecvQ: the most unprocessed input held for one connection: a connection whose
        unfinished line grows past this is closed.
    @ivar maxSendQ: the most output queued for one connection that does not read; past it the
        connection is aborted (InspIRCd's C{SendQ exceeded}).
    @ivar floodBurst: lines a connection may send at once before the flood limit applies.
    @ivar floodRate: lines per second after the burst; 0 turns flood control off.
    @ivar idleTimeout: seconds without a complete line before a connection is closed; 0: never.
    @ivar maxClients: connections the server accepts at once.
    @ivar maxPerIP: connections from one address at once; 0: no limit.
    @ivar perIPExempt: networks the per-address limit does not apply to.
    @ivar closeTimeout: seconds a connection the server closes has to take what it is owed
        and go before it is aborted: a client that stops reading cannot hold its place.
    """

    maxLine: int = 2048
    maxRecvQ: int = 64 * 1024
    maxSendQ: int = 1024 * 1024
    floodBurst: int = 10
    floodRate: float = 5.0
    idleTimeout: float = 3600.0
    maxClients: int = 10000
    maxPerIP: int = 16
    perIPExempt: tuple[Network, ...] = field(
        default=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    )
    closeTimeout: float = 5.0

    @property
    def idleCheckInterval(self) -> float:
        """
        How often idle connections are looked for: a connection is closed between
        L{idleTimeout} and L{idleTimeout} plus this many seconds after its last line.
        """
        return min(self.idleTimeout / 10, 60.0)

    def countsPerIP(self, host: str | None) -> bool:
        """
        Whether connections from C{host} count against L{maxPerIP}.
        """
        if not self.maxPerIP or host is None:
            return False
        return not _isExempt(host, self.perIPExempt)


def _isExempt(host: str, exempt: tuple[Network, ...]) -> bool:
    """
    Whether C{host} is in one of the C{exempt} networks.  The gate remembers the answer per
    host (L{chat.gate.Gate}): in a connect storm the same few addresses come thousands of
    times, and parsing one costs more than the rest of admission.
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in exempt)
