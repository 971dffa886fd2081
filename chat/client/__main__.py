import sys

from twisted.internet import task

from chat.client.app import main

task.react(main, sys.argv[1:])
