"""
The web front end: a chat page for the browser, served by C{twisted.web}, and the WebSocket
at C{/ws} that it talks JSON over (C{docs/web.md}), on the same hub and gate as every other
front end.
"""
