# The demo app's tac file: `twistd --nodaemon --python my_tacfile.tac` serves it.
# GET / answers JSON naming the app and its version; the port is TACDEMO_PORT (default 58080),
# on 127.0.0.1 only (a test app is no service to the network).
import json
import os

from twisted.application import internet, service
from twisted.web import resource, server

VERSION = "1.0.0"


class Hello(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"app": "tacdemo", "version": VERSION}).encode("utf-8")


application = service.Application("tacdemo")
port = int(os.environ.get("TACDEMO_PORT", "58080"))
internet.TCPServer(port, server.Site(Hello()), interface="127.0.0.1").setServiceParent(
    application
)
