# A minimal .tac file for loader tests (never run).
from twisted.application import service
application = service.Application("tacdemo")
