// The chat page: one WebSocket to /ws, JSON messages both ways (docs/web.md).
// Everything a user sent is put in the page as text (textContent), never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const log = $("log"), input = $("input"), form = $("form"), statusLine = $("status");
  const roomList = $("rooms"), privateList = $("privates"), memberList = $("members");
  const MAX_LINES = 1000;
  const HELP = [
    ["/join ROOM", "join ROOM (creating it) and show it"],
    ["/part [ROOM]", "leave ROOM, or the room shown"],
    ["/nick NAME", "change your nick"],
    ["/me ACTION", "say that you do something"],
    ["/msg NICK TEXT", "send TEXT to NICK alone, in its own view"],
    ["/topic [TEXT]", "show the room's topic, or set it"],
    ["/away [MESSAGE]", "mark yourself away, saying MESSAGE; without one, back"],
    ["/identify [NICK] PASSWORD", "log in as NICK (or your nick) and take it (or use the form)"],
    ["/register PASSWORD", "register your nick with PASSWORD"],
    ["/who [ROOM]", "list who is in ROOM, or in the room shown"],
    ["/rooms", "list the rooms"],
    ["/kick NICK [REASON]", "put NICK out of the room shown (operators; see /help on a line client for all)"],
    ["/ban MASK [DURATION] [REASON]", "ban NICK, account:NAME or an address from the room shown"],
    ["/ignore NICK", "stop hearing NICK"],
    ["/help", "this list"],
    ["/quit [REASON]", "leave the chat (Enter connects again)"],
  ];

  const state = {
    socket: null,
    nick: null,
    wantNick: storageGet("chat.nick"),
    views: new Map(),     // key -> view; rooms are "#name" folded, private views "@nick" folded
    current: null,
    rooms: [],            // rooms to be in, restored on reconnecting
    defaultRoom: "#lobby",
    show: null,           // the room a /join asked for: shown when it is joined
    askedWho: false,
    askedTopic: false,
    quitting: false,
    everConnected: false,
    reconnected: false,
    delay: 500,
    timer: null,
    sent: [],
    recall: -1,
    draft: "",
    away: new Map(),      // folded nick -> away message, of those known to be away
    // The password of the last login, in this page's memory only (never stored): to log in
    // again after a reconnection.  Dropped when a login fails.
    password: null,
    loggingIn: false,
    account: null,
  };

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: no memory */ }
  }

  const fold = (name) => name.toLowerCase();
  const roomKey = (room) => "#" + fold(room.startsWith("#") ? room.slice(1) : room);
  const privateKey = (nick) => "@" + fold(nick);

  function colour(nick) {
    let hash = 0;
    for (const ch of fold(nick)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    return "c" + (hash % 12);
  }

  // Elements, always built from text

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function nickNode(nick) {
    return el("span", "nick " + colour(nick), nick);
  }

  // Plain http(s) URLs become links; everything else stays text.
  const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function textNode(text) {
    const span = el("span", "text");
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      let url = match[0].replace(/[.,;:!?)\]}]+$/, "");
      let parsed = null;
      try { parsed = new URL(url); } catch (e) { parsed = null; }
      if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) continue;
      span.append(text.slice(last, match.index));
      const link = el("a", null, url);
      link.href = parsed.href;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      span.append(link);
      last = match.index + url.length;
    }
    span.append(text.slice(last));
    return span;
  }

  function timeNode(seconds) {
    const when = new Date((seconds || Date.now() / 1000) * 1000);
    const node = el("time", null, when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }));
    node.dateTime = when.toISOString();
    return node;
  }

  // Views: a room, a private conversation, or the server's own

  function view(key, kind, name) {
    let v = state.views.get(key);
    if (!v) {
      v = { key, kind, name, lines: [], unread: 0, members: new Map(), topic: "", joined: false, button: null };
      state.views.set(key, v);
      renderViewList();
    }
    return v;
  }

  function currentView() {
    return state.current ? state.views.get(state.current) : view("server", "server", "server");
  }

  function add(v, node, counts) {
    v.lines.push(node);
    if (v.lines.length > MAX_LINES) {
      const old = v.lines.shift();
      if (old.parentNode === log) old.remove();
    }
    if (v.key === state.current) {
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      log.append(node);
      if (atBottom) log.scrollTop = log.scrollHeight;
    } else if (counts) {
      v.unread += 1;
      renderViewList();
    }
  }

  function line(v, seconds, className, ...parts) {
    const item = el("li", className);
    item.append(timeNode(seconds), ...parts);
    add(v, item, className === "said" || className === "action" || className.startsWith("private"));
    return item;
  }

  function notice(v, text, seconds) {
    line(v, seconds, "notice", el("span", "text", text));
  }

  function show(key) {
    const v = state.views.get(key);
    if (!v) return;
    state.current = key;
    v.unread = 0;
    log.replaceChildren(...v.lines);
    log.scrollTop = log.scrollHeight;
    renderViewList();
    renderHeader();
    renderMembers();
  }

  function renderHeader() {
    const v = currentView();
    $("title").textContent = v.kind === "private" ? "Private: " + v.name : v.name;
    $("topic").textContent = v.kind === "room" ? v.topic : "";
    document.title = (v.kind === "server" ? "" : v.name + " – ") + "chat";
    $("prompt").textContent = (state.nick || "…") + (v.kind === "server" ? "" : " in " + v.name);
  }

  function viewButton(v) {
    const button = el("button");
    button.type = "button";
    button.append(el("span", v.kind === "private" ? colour(v.name) : null, v.name));
    if (v.unread) {
      const badge = el("span", "unread", String(v.unread));
      badge.setAttribute("aria-label", v.unread + " unread");
      button.append(badge);
    }
    if (v.key === state.current) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => { show(v.key); input.focus(); closeMenu(); });
    const item = el("li");
    item.append(button);
    return item;
  }

  function renderViewList() {
    const rooms = [], privates = [];
    for (const v of state.views.values()) {
      if (v.kind === "room" && v.joined) rooms.push(viewButton(v));
      else if (v.kind === "private") privates.push(viewButton(v));
    }
    roomList.replaceChildren(...rooms);
    privateList.replaceChildren(...privates);
  }

  function renderMembers() {
    const v = currentView();
    const nicks = v.kind === "room" ? [...v.members.values()].sort((a, b) => fold(a).localeCompare(fold(b))) : [];
    $("people-title").textContent = v.kind === "room" ? `Members (${nicks.length})` : "Members";
    memberList.replaceChildren(...nicks.map((nick) => {
      const button = el("button");
      button.type = "button";
      button.append(nickNode(nick));
      const away = state.away.get(fold(nick));
      button.title = "Send " + nick + " a private message" + (away ? " (away: " + away + ")" : "");
      if (away !== undefined) {
        button.classList.add("away");
        button.append(el("span", "away-tag", "away"));
      }
      button.addEventListener("click", () => {
        view(privateKey(nick), "private", nick);
        show(privateKey(nick));
        input.focus();
        closeMenu();
      });
      const item = el("li");
      item.append(button);
      return item;
    }));
  }

  function closeMenu() {
    $("app").classList.remove("open");
    $("menu").setAttribute("aria-expanded", "false");
  }

  function setStatus(text, down) {
    statusLine.textContent = text;
    statusLine.classList.toggle("down", !!down);
  }

  // The server's messages

  const handlers = {
    welcome(m) {
      state.nick = m.nick;
      state.defaultRoom = m.defaultRoom;
      state.delay = 500;
      state.reconnected = state.everConnected;
      setStatus((state.reconnected ? "Reconnected" : "Connected") + " as " + m.nick);
      state.everConnected = true;
      state.account = null;
      renderAccount();
      if (state.password && state.wantNick) login(state.wantNick, state.password);
      else if (state.wantNick && fold(state.wantNick) !== fold(m.nick)) send({ type: "nick", nick: state.wantNick });
      const rooms = state.rooms.length ? state.rooms : [m.defaultRoom];
      if (!state.current || !state.views.has(state.current)) state.show = roomKey(rooms[0]);
      for (const room of rooms) send({ type: "join", room });
      renderHeader();
    },
    joined(m) {
      const v = view(roomKey(m.room), "room", m.room);
      if (state.nick && fold(m.nick) === fold(state.nick)) {
        v.joined = true;
        v.name = m.room;
        v.members.clear();
        if (!state.rooms.some((r) => roomKey(r) === v.key)) state.rooms.push(m.room);
        notice(v, "You joined " + m.room, m.time);
        renderViewList();
        if (state.show === v.key || !state.current || state.current === "server") { state.show = null; show(v.key); }
      } else {
        line(v, m.time, "notice", nickNode(m.nick), el("span", null, " joined " + m.room));
      }
      v.members.set(fold(m.nick), m.nick);
      if (v.key === state.current) renderMembers();
    },
    left(m) {
      const v = view(roomKey(m.room), "room", m.room);
      v.members.delete(fold(m.nick));
      if (state.nick && fold(m.nick) === fold(state.nick)) {
        v.joined = false;
        state.rooms = state.rooms.filter((r) => roomKey(r) !== v.key);
        notice(v, "You left " + m.room, m.time);
        const next = state.rooms.length ? roomKey(state.rooms[0]) : "server";
        if (state.current === v.key) { view("server", "server", "server"); show(next); }
        renderViewList();
      } else {
        if (!m.quiet) line(v, m.time, "notice", nickNode(m.nick), el("span", null, " left " + m.room));
        if (v.key === state.current) renderMembers();
      }
    },
    quit(m) {
      state.away.delete(fold(m.nick));
      for (const v of state.views.values()) {
        const here = v.kind === "room" ? v.members.delete(fold(m.nick)) : v.key === privateKey(m.nick);
        if (here) line(v, m.time, "notice", nickNode(m.nick), el("span", null, ` quit (${m.reason})`));
      }
      renderMembers();
    },
    nick(m) {
      const mine = state.nick && fold(m.old) === fold(state.nick);
      if (mine) {
        state.nick = m.new;
        state.wantNick = m.new;
        storageSet("chat.nick", m.new);
        setStatus((state.reconnected ? "Reconnected" : "Connected") + " as " + m.new);
      }
      if (state.away.has(fold(m.old))) {
        const away = state.away.get(fold(m.old));
        state.away.delete(fold(m.old));
        state.away.set(fold(m.new), away);
      }
      for (const v of state.views.values()) {
        if (v.kind === "room" && v.members.has(fold(m.old))) {
          v.members.delete(fold(m.old));
          v.members.set(fold(m.new), m.new);
          line(v, m.time, "notice", nickNode(m.old), el("span", null, " is now known as "), nickNode(m.new));
        } else if (v.kind === "private" && v.key === privateKey(m.old)) {
          state.views.delete(v.key);
          v.key = privateKey(m.new);
          v.name = m.new;
          state.views.set(v.key, v);
          if (state.current === privateKey(m.old)) state.current = v.key;
          line(v, m.time, "notice", nickNode(m.old), el("span", null, " is now known as "), nickNode(m.new));
        }
      }
      if (mine && !currentView().members.has(fold(m.new))) notice(currentView(), "You are now known as " + m.new, m.time);
      renderViewList();
      renderHeader();
      renderMembers();
    },
    topic(m) {
      const v = view(roomKey(m.room), "room", m.room);
      v.topic = m.topic;
      if (m.nick) line(v, m.time, "notice", nickNode(m.nick), el("span", null, " set the topic: "), textNode(m.topic));
      else if (state.askedTopic) { state.askedTopic = false; notice(v, "Topic of " + m.room + ": " + m.topic, m.time); }
      if (v.key === state.current) renderHeader();
    },
    said(m) { spoken(m, "said"); },
    action(m) { spoken(m, "action"); },
    history(m) { spoken(m, m.action ? "action" : "said", true); },
    private(m) {
      const other = m.echo ? m.to : m.from;
      const v = view(privateKey(other), "private", other);
      line(v, m.time, m.echo ? "private sent" : "private", el("span", null, m.echo ? "→ " : ""),
        nickNode(m.from), el("span", null, ": "), textNode(m.text));
    },
    moderated(m) {
      const v = m.room ? view(roomKey(m.room), "room", m.room) : currentView();
      notice(v, m.text, m.time);
      if (m.action === "kick" && m.room) handlers.left({ room: m.room, nick: m.target, time: m.time, quiet: true });
    },
    notice(m) {
      const identified = /^You are identified as (\S+)$/.exec(m.text) || /^(\S+) is registered; log in/.exec(m.text);
      if (identified) {
        state.loggingIn = false;
        state.account = identified[1];
        renderAccount();
      }
      notice(currentView(), m.text, m.time);
    },
    error(m) {
      if (state.loggingIn) { state.loggingIn = false; state.password = null; }
      line(currentView(), m.time, "error", el("span", "text", m.text));
    },
    away(m) {
      if (m.away) state.away.set(fold(m.nick), m.away);
      else state.away.delete(fold(m.nick));
      if (state.nick && fold(m.nick) === fold(state.nick)) {
        notice(currentView(), m.away ? "You are marked as away: " + m.away : "You are no longer marked as away", m.time);
      } else if (m.away && state.views.has(privateKey(m.nick))) {
        notice(state.views.get(privateKey(m.nick)), m.nick + " is away: " + m.away, m.time);
      }
      renderMembers();
    },
    members(m) {
      const v = view(roomKey(m.room), "room", m.room);
      const away = m.away || {};
      for (const nick of m.nicks) {
        if (Object.hasOwn(away, nick)) state.away.set(fold(nick), away[nick]);
        else state.away.delete(fold(nick));
      }
      if (v.joined) {
        v.members = new Map(m.nicks.map((nick) => [fold(nick), nick]));
        v.topic = m.topic;
        if (v.key === state.current) { renderMembers(); renderHeader(); }
      }
      if (state.askedWho) {
        state.askedWho = false;
        notice(currentView(), `In ${m.room} (${m.nicks.length}): ${m.nicks.join(" ")}`, m.time);
      }
    },
    rooms(m) {
      const v = currentView();
      notice(v, m.rooms.length + (m.rooms.length === 1 ? " room:" : " rooms:"), m.time);
      for (const r of m.rooms) {
        notice(v, `${r.name} (${r.members} member${r.members === 1 ? "" : "s"})${r.topic ? ": " + r.topic : ""}`, m.time);
      }
    },
  };

  function spoken(m, kind, replayed) {
    const v = view(roomKey(m.room), "room", m.room);
    const parts = kind === "action"
      ? [el("span", null, "* "), nickNode(m.nick), el("span", null, " "), textNode(m.text)]
      : [nickNode(m.nick), el("span", null, ": "), textNode(m.text)];
    if (replayed) parts.unshift(el("span", "tag", "history"));
    const item = line(v, m.time, replayed ? kind + " history" : kind, ...parts);
    if (state.nick && fold(m.nick) !== fold(state.nick) && fold(m.text).includes(fold(state.nick))) {
      item.classList.add("mention");
    }
  }

  // The connection

  function connect() {
    clearTimeout(state.timer);
    state.timer = null;
    state.quitting = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/ws`);
    } catch (e) {
      retry();
      return;
    }
    state.socket = socket;
    socket.addEventListener("message", (event) => {
      let m;
      try { m = JSON.parse(event.data); } catch (e) { return; }
      const handler = m && typeof m.type === "string" && Object.hasOwn(handlers, m.type) ? handlers[m.type] : null;
      if (handler) handler(m);
    });
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      state.socket = null;
      if (state.quitting) {
        setStatus("Disconnected: press Enter to connect again", true);
        return;
      }
      retry();
    });
  }

  function retry() {
    const seconds = Math.round(state.delay / 100) / 10;
    setStatus(`Connection lost; reconnecting in ${seconds} s`, true);
    if (state.everConnected) notice(currentView(), `Connection lost; reconnecting in ${seconds} s`);
    state.timer = setTimeout(connect, state.delay);
    state.delay = Math.min(state.delay * 2, 30000) * (0.9 + Math.random() * 0.2);
  }

  function send(command) {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
      line(currentView(), null, "error", el("span", "text", "Not connected; that was not sent"));
      return false;
    }
    state.socket.send(JSON.stringify(command));
    return true;
  }

  // The input line

  function roomOf(argument) {
    if (argument) return argument;
    const v = currentView();
    return v.kind === "room" ? v.name : null;
  }

  function needRoom(what) {
    line(currentView(), null, "error", el("span", "text", what + " works in a room; switch to one or name it"));
  }

  function run(text) {
    const v = currentView();
    if (!text.startsWith("/") || text.startsWith("//")) {
      const body = text.startsWith("//") ? text.slice(1) : text;
      if (v.kind === "room") send({ type: "say", room: v.name, text: body });
      else if (v.kind === "private") send({ type: "msg", to: v.name, text: body });
      else needRoom("Talking");
      return;
    }
    const [word, ...rest] = text.slice(1).split(" ");
    const argument = rest.join(" ").trim();
    switch (word.toLowerCase()) {
      case "nick":
        if (!argument) return usage("/nick NAME");
        state.wantNick = argument;
        send({ type: "nick", nick: argument });
        return;
      case "join": {
        if (!argument) return usage("/join ROOM");
        const room = argument.split(" ")[0];
        state.show = roomKey(room);
        if (state.views.get(state.show)?.joined) { show(state.show); state.show = null; return; }
        send({ type: "join", room });
        return;
      }
      case "part": case "leave": {
        const room = roomOf(argument);
        if (!room) return needRoom("/part");
        send({ type: "part", room });
        return;
      }
      case "me":
        if (!argument) return usage("/me ACTION");
        if (v.kind !== "room") return needRoom("/me");
        send({ type: "me", room: v.name, text: argument });
        return;
      case "msg": case "query": {
        const [nick, ...words] = argument.split(" ");
        const body = words.join(" ").trim();
        if (!nick) return usage("/msg NICK TEXT");
        view(privateKey(nick), "private", nick);
        show(privateKey(nick));
        if (body) send({ type: "msg", to: nick, text: body });
        return;
      }
      case "topic": {
        if (v.kind !== "room") return needRoom("/topic");
        if (argument) send({ type: "topic", room: v.name, topic: argument });
        else { state.askedTopic = true; send({ type: "topic", room: v.name }); }
        return;
      }
      case "who": case "names": {
        const room = roomOf(argument);
        if (!room) return needRoom("/who");
        state.askedWho = true;
        send({ type: "members", room });
        return;
      }
      case "rooms": case "list":
        send({ type: "rooms" });
        return;
      case "away":
        send({ type: "away", text: argument });
        return;
      case "identify": case "login": {
        const words = argument.split(" ").filter((word) => word);
        if (words.length < 1 || words.length > 2) return usage("/identify [NICK] PASSWORD");
        const [nick, password] = words.length === 2 ? words : [state.nick, words[0]];
        login(nick, password);
        return;
      }
      case "register":
        if (!argument) return usage("/register PASSWORD");
        send({ type: "register", password: argument });
        return;
      case "help":
        notice(v, "Commands (a line not starting with / is said in the view shown; //text says /text):");
        for (const [use, what] of HELP) notice(v, `${use} – ${what}`);
        return;
      case "quit": {
        state.quitting = true;
        state.rooms = [];
        send({ type: "quit", reason: argument || "Leaving" });
        return;
      }
      case "claim": case "op": case "deop": case "kick": case "ban": case "unban": case "bans":
      case "mute": case "unmute": case "lock": case "unlock": case "kill": case "gban":
      case "ungban": case "gbans": case "wall": case "stats": case "ignore": case "unignore":
        // Moderation: the server runs it as the line protocol does, in the room shown.
        send({ type: "command", room: v.kind === "room" ? v.name : null, text });
        return;
      default:
        line(v, null, "error", el("span", "text", `Unknown command /${word}; type /help for the list`));
    }
  }

  // Logging in: the form, or /identify; the password goes to the server alone, and stays in
  // this page's memory (state.password) only to log in again after a reconnection.

  function login(nick, password) {
    state.wantNick = nick;
    state.password = password;
    state.loggingIn = true;
    send({ type: "identify", nick, password });
  }

  function renderAccount() {
    const shown = $("account");
    shown.hidden = !state.account;
    shown.textContent = state.account ? "Logged in as " + state.account : "";
    $("login").hidden = !!state.account;
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = $("login-nick").value.trim(), password = $("login-password").value;
    if (!nick || !password) return;
    $("login-password").value = "";
    login(nick, password);
    input.focus();
  });

  function usage(text) {
    line(currentView(), null, "error", el("span", "text", "Usage: " + text));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!state.socket && state.quitting) { connect(); return; }
    if (!text.trim()) return;
    if (!/^\/(identify|login|register)\b/i.test(text)) state.sent.push(text);  // no password recalled
    if (state.sent.length > 100) state.sent.shift();
    state.recall = -1;
    input.value = "";
    log.scrollTop = log.scrollHeight;  // what you send, and its answer, are in view
    run(text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    if (!state.sent.length) return;
    event.preventDefault();
    if (state.recall === -1) {
      if (event.key === "ArrowDown") return;
      state.draft = input.value;
      state.recall = state.sent.length;
    }
    state.recall += event.key === "ArrowUp" ? -1 : 1;
    if (state.recall < 0) state.recall = 0;
    if (state.recall >= state.sent.length) {
      state.recall = -1;
      input.value = state.draft;
    } else {
      input.value = state.sent[state.recall];
    }
    input.setSelectionRange(input.value.length, input.value.length);
  });

  $("menu").addEventListener("click", () => {
    const open = $("app").classList.toggle("open");
    $("menu").setAttribute("aria-expanded", String(open));
  });

  view("server", "server", "server");
  show("server");
  connect();
  input.focus();
})();
