# twistd -ny chat.tac: the chat service with its default options (see twistd chat --help).
from twisted.application import service

from chat.tap import Options, makeService

options = Options()
options.parseOptions([])
application = service.Application("chat")
makeService(options).setServiceParent(application)
