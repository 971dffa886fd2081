# No __init__.py beside this file: twisted/plugins is Twisted's namespace for plugin files.
from twisted.application.service import ServiceMaker

chat = ServiceMaker("chat", "chat.tap", "A line-based chat server", "chat")
