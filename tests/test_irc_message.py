"""
The IRC message parser and serializer, by example and by property: what is written reads back
the same, however a stream of messages is cut into chunks, and nothing in any field can break
a line.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.testing import MemoryReactorClock, StringTransport

from chat import events
from chat.irc.message import (
    Message,
    MessageError,
    escapeTag,
    parse,
    serialize,
    splitTags,
    unescapeTag,
)
from chat.irc.render import encoder
from chat.limits import Limits
from chat.reader import LineReader

_TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n")
text = st.text(_TEXT, max_size=40)
word = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n "), min_size=1, max_size=12)
middle = word.filter(lambda w: not w.startswith(":"))
tagKey = st.from_regex(r"\A\+?[A-Za-z0-9][A-Za-z0-9./-]{0,10}\Z")
command = st.one_of(st.from_regex(r"\A[A-Z]{1,10}\Z"), st.from_regex(r"\A[0-9]{3}\Z"))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    params = draw(st.lists(middle, max_size=5))
    if draw(st.booleans()):
        params.append(draw(text))
    return Message(
        draw(command),
        tuple(params),
        draw(st.none() | word),
        draw(st.dictionaries(tagKey, text, max_size=4)),
    )


@settings(deadline=None)
@given(messages())
def test_roundTrip(message: Message) -> None:
    data = serialize(message)
    assert data.endswith(b"\r\n")
    assert parse(data[:-2]) == message


@settings(deadline=None)
@given(st.lists(messages(), max_size=8), st.data())
def test_anyChunkingGivesTheSameMessages(sent: list[Message], data: st.DataObject) -> None:
    stream = b"".join(serialize(message) for message in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    received: list[Message] = []

    class Handler:
        transport = StringTransport()
        closing = False

        def touch(self, lines: int = 0) -> None:
            pass

        def floodHeld(self, seconds: float) -> None:
            pass

        def refusedLine(self, reason: str, why: str) -> None:
            raise AssertionError(why)

        def lineReceived(self, line: bytes) -> None:
            received.append(parse(line))

        def lineTooLong(self) -> None:
            raise AssertionError("too long")

        def drop(self, reason: str) -> None:
            raise AssertionError(reason)

    reader = LineReader(Handler(), MemoryReactorClock(), Limits(floodRate=0), 1 << 20)
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        reader.dataReceived(stream[start:end])
    assert received == sent


anything = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@given(anything, st.lists(anything, max_size=4), st.none() | anything, st.dictionaries(anything, anything, max_size=3))
def test_nothingBreaksALine(command: str, params: list[str], source: str | None, tags: dict[str, str]) -> None:
    try:
        data = serialize(Message(command, tuple(params), source, tags))
    except MessageError:
        return
    body = data[:-2]
    assert data.endswith(b"\r\n")
    assert b"\r" not in body and b"\n" not in body and b"\x00" not in body


@given(text)
def test_tagEscapesRoundTrip(value: str) -> None:
    assert unescapeTag(escapeTag(value)) == value


@pytest.mark.parametrize(
    "line, expected",
    [
        (b"PING", Message("PING")),
        (b"privmsg #a :hello there", Message("PRIVMSG", ("#a", "hello there"))),
        (b":n!u@h PRIVMSG #a ::-)", Message("PRIVMSG", ("#a", ":-)"), "n!u@h")),
        (b"PRIVMSG  #a   b  :", Message("PRIVMSG", ("#a", "b", ""))),
        (b"@a=b\\sc;d;e=\\:\\ :s CMD x", Message("CMD", ("x",), "s", {"a": "b c", "d": "", "e": ";"})),
        (b"@a=x\\q\\ CMD", Message("CMD", (), None, {"a": "xq"})),
        (b"USER u 0 * :Real Name", Message("USER", ("u", "0", "*", "Real Name"))),
    ],
)
def test_parseExamples(line: bytes, expected: Message) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize("line", [b"", b"   ", b":source", b"@tags", b"@=x CMD", b"CMD a\x00b"])
def test_notMessages(line: bytes) -> None:
    with pytest.raises(MessageError):
        parse(line)


def test_invalidUTF8() -> None:
    with pytest.raises(UnicodeDecodeError):
        parse(b"PRIVMSG #a :\xff")


def test_serializeDropsLineBreaks() -> None:
    assert serialize(Message("PRIVMSG", ("#a", "one\r\nQUIT :two\x00"), "n!u@h", {"t": "a\r\nb\x00"})) == (
        b"@t=a\\r\\nb :n!u@h PRIVMSG #a :oneQUIT :two\r\n"
    )


@pytest.mark.parametrize("params", [("", "x"), ("a b", "x"), (":a", "x")])
def test_serializeRefusesBadMiddleParameters(params: tuple[str, ...]) -> None:
    with pytest.raises(MessageError):
        serialize(Message("CMD", params))


@settings(deadline=None)
@given(
    st.text(_TEXT, min_size=0, max_size=700),
    st.booleans(),
    st.from_regex(r"\A[a-z]{1,32}\Z"),
    st.booleans(),
)
def test_longLinesAreCutToFit(said: str, action: bool, nick: str, serverTime: bool) -> None:
    """
    A line user may say 2 KB at once; an IRC client gets it as lines of at most 512 bytes
    (without tags) that put together say the same, as an action if it was one.
    """
    encode = encoder(MemoryReactorClock(), serverTime, "chat")
    data = encode(events.Said("#lobby", nick, said, 0.0, action))
    lines = data.split(b"\r\n")[:-1]
    pieces = []
    for line in lines:
        message = parse(line)
        _, body = splitTags(line)
        assert len(body) + 2 <= 512
        assert message.command == "PRIVMSG" and message.params[0] == "#lobby"
        assert message.source == f"{nick}!{nick}@chat"
        assert ("time" in message.tags) is serverTime
        text = message.params[1]
        if action:
            assert text.startswith("\x01ACTION ") and text.endswith("\x01")
            text = text[len("\x01ACTION ") : -1]
        pieces.append(text)
    assert "".join(pieces) == said
    assert len(lines) == 1 or len(said.encode("utf-8")) > 400


def test_aShortLineIsNotCut() -> None:
    encode = encoder(MemoryReactorClock(), False, "chat")
    assert encode(events.Said("#a", "n", "x" * 400, 0.0)) == b":n!n@chat PRIVMSG #a :" + b"x" * 400 + b"\r\n"


def test_aLongQuitReasonIsCut() -> None:
    encode = encoder(MemoryReactorClock(), False, "chat")
    data = encode(events.Quit("n", "é" * 600))
    assert data.startswith(b":n!n@chat QUIT :\xc3\xa9") and data.endswith(b"\xc3\xa9\r\n")
    assert len(data) in (511, 512) and data.count(b"\r\n") == 1


@settings(deadline=None)
@given(
    st.text(_TEXT, min_size=0, max_size=600),
    st.booleans(),
    st.from_regex(r"\A[a-z][a-z0-9]{0,31}\Z"),
    st.from_regex(r"\A#[a-z]{1,49}\Z"),
    st.booleans(),
    st.floats(min_value=0, max_value=4e9),
)
def test_saidShortcutMatchesSerialize(
    said: str, action: bool, nick: str, room: str, serverTime: bool, when: float
) -> None:
    """
    A line said in a room takes the encoder's shortcut (a prefix kept per speaker and room);
    what it renders is byte for byte what the general path, L{fitted} then L{serialize},
    renders.
    """
    from chat.irc.render import fitted, timeTag, toMessage

    event = events.Said(room, nick, said, when, action)
    message = toMessage(event)
    if serverTime:
        message = Message(message.command, message.params, message.source, {"time": timeTag(when)})
    expected = b"".join(serialize(piece) for piece in fitted(message))
    encode = encoder(MemoryReactorClock(), serverTime, "chat")
    assert encode(event) == expected
    assert encode(event) == expected  # the kept prefix renders the same


def test_timeTagKeepsEachSecond() -> None:
    """
    L{timeTag} keeps the second it formatted last; another second is formatted afresh.
    """
    from chat.irc.render import timeTag

    assert timeTag(0.5) == "1970-01-01T00:00:00.500Z"
    assert timeTag(0.9996) == "1970-01-01T00:00:01.000Z"
    assert timeTag(86400.25) == "1970-01-02T00:00:00.250Z"
    assert timeTag(0.001) == "1970-01-01T00:00:00.001Z"
