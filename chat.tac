# twistd -ny chat.tac: the chat service (see twistd chat --help), with the options of the TOML
# file named by CHAT_CONFIG (see docs/chat.toml) if it is set, else the defaults.
import os

from twisted.application import service

from chat.tap import Options, makeService

options = Options()
config = os.environ.get("CHAT_CONFIG")
options.parseOptions(["--config", config] if config else [])
application = service.Application("chat")
makeService(options).setServiceParent(application)
