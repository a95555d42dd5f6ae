"""The one local HTTP stand-in of the tests: a server on 127.0.0.1 (a free port, never the
internet) whose subclasses say how a GET is answered (``answer``); it records every
request's raw path, starts and stops as a context manager, and ignores a client that gave
up mid-answer (a deadline the test provoked)."""

import http.server
import threading


class LocalServer:
    """Subclasses implement ``answer(handler)``: write the response with ``send`` (or by
    hand, for injected faults) from the request in ``handler.path``."""

    def __init__(self):
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.paths.append(self.path)
                try:
                    server.answer(self)
                except OSError:  # the client gave up (deadline): fine
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def start(self):
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def send(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str | None = None,
    announce_extra: int = 0,
) -> None:
    """One answer: the status, a Content-Type when given, Content-Length (``announce_extra``
    bytes more than sent: a truncated body), the body."""
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body) + announce_extra))
    handler.end_headers()
    handler.wfile.write(body)
