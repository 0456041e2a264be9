"""What every stand-in offers tests beside its API: a request log, recorded violations, faults, a lifecycle."""
import os
import threading


class StandIn:
    """Base of the stand-ins. Subclasses set `self.faults` and define `start` (returning self) and `stop`."""

    def __init__(self, state_dir, host, port):
        self.state_dir = os.path.abspath(state_dir)
        self.bind_host, self.port = host, port
        self.lock = threading.RLock()
        self._log, self._violations = [], []
        self._servers = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def serve(self, server):
        """Answer requests on a background thread until `stop_serving`; returns the port the server listens on."""
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return server.server_address[1]

    def stop_serving(self):
        for server in self._servers:
            server.close_all()
        self._servers = []

    # --- test helpers --------------------------------------------------------------------------------------

    def clear_faults(self):
        self.faults.clear()

    def requests(self):
        with self.lock:
            return [dict(entry) for entry in self._log]

    def reset_log(self):
        with self.lock:
            self._log.clear()

    def violations(self):
        with self.lock:
            return [dict(entry) for entry in self._violations]

    # --- used by the request handlers ----------------------------------------------------------------------

    def log_request(self, method, path, status):
        with self.lock:
            self._log.append({"method": method, "path": path, "status": status})

    def record_violation(self, kind, method, path, message, status=None):
        with self.lock:
            self._violations.append({"kind": kind, "method": method, "path": path, "status": status,
                                     "message": message})
