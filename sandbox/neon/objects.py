"""The stand-in's state (projects, branches, endpoints, roles, databases, operations) and its JSON in Neon's shapes."""
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

ADJECTIVES = ("autumn", "bold", "calm", "damp", "eager", "fancy", "gentle", "hidden", "icy", "jolly", "late",
              "misty", "noisy", "odd", "polished", "quiet", "rapid", "shy", "tiny", "wild")
NOUNS = ("bird", "cloud", "dawn", "dust", "feather", "field", "frost", "grass", "haze", "lake", "leaf", "moon",
         "night", "pine", "rain", "river", "sea", "snow", "star", "wave")
PASSWORD_CHARS = string.ascii_letters + string.digits


def now_iso(ts=None):
    return datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def words():
    return "%s-%s" % (secrets.choice(ADJECTIVES), secrets.choice(NOUNS))


def project_id():
    return "%s-%08d" % (words(), secrets.randbelow(10 ** 8))


def branch_id():
    return "br-%s-%s" % (words(), secrets.token_hex(4))


def endpoint_id():
    return "ep-%s-%s" % (words(), secrets.token_hex(4))


def password():
    return "npg_" + "".join(secrets.choice(PASSWORD_CHARS) for _ in range(12))


@dataclass
class Operation:
    project_id: str
    action: str
    branch_id: Optional[str] = None
    endpoint_id: Optional[str] = None
    duration: float = 0.0
    error: Optional[str] = None  # the operation ends "failed" with this error
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)

    @property
    def running(self):
        return time.monotonic() - self.started < self.duration

    @property
    def status(self):
        if self.running:
            return "running"
        return "failed" if self.error else "finished"

    def json(self):
        elapsed = min(time.monotonic() - self.started, self.duration)
        data = {"id": self.id, "project_id": self.project_id, "action": self.action, "status": self.status,
                "failures_count": 1 if self.error and not self.running else 0,
                "created_at": now_iso(self.created), "updated_at": now_iso(self.created + elapsed),
                "total_duration_ms": int(elapsed * 1000)}
        if self.branch_id:
            data["branch_id"] = self.branch_id
        if self.endpoint_id:
            data["endpoint_id"] = self.endpoint_id
        if self.error and not self.running:
            data["error"] = self.error
        return data


@dataclass
class Role:
    branch_id: str
    name: str
    password: Optional[str]
    no_login: bool = False
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def json(self, with_password=False):
        data = {"branch_id": self.branch_id, "name": self.name, "protected": False,
                "authentication_method": "no_login" if self.no_login else "password",
                "created_at": now_iso(self.created), "updated_at": now_iso(self.updated)}
        if with_password and self.password:
            data["password"] = self.password
        return data


@dataclass
class Database:
    id: int
    branch_id: str
    name: str
    owner_name: str
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def json(self):
        return {"id": self.id, "branch_id": self.branch_id, "name": self.name, "owner_name": self.owner_name,
                "created_at": now_iso(self.created), "updated_at": now_iso(self.updated)}


@dataclass
class Endpoint:
    id: str
    project_id: str
    branch_id: str
    type: str
    region_id: str
    port: int
    min_cu: float = 0.25
    max_cu: float = 0.25
    suspend_timeout_seconds: int = 0
    settings: dict = field(default_factory=dict)
    disabled: bool = False
    passwordless_access: bool = False
    name: Optional[str] = None
    cluster: object = None  # a read_only endpoint's own standby cluster (None for read_write)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    started: Optional[float] = None

    def json(self, host):
        data = {"host": host, "id": self.id, "project_id": self.project_id, "branch_id": self.branch_id,
                "region_id": self.region_id, "autoscaling_limit_min_cu": self.min_cu,
                "autoscaling_limit_max_cu": self.max_cu, "type": self.type,
                "current_state": "idle" if self.disabled else "active",
                "pooler_enabled": False, "pooler_mode": "transaction", "disabled": self.disabled,
                "passwordless_access": self.passwordless_access, "creation_source": "console",
                "created_at": now_iso(self.created), "updated_at": now_iso(self.updated),
                "settings": dict(self.settings) or {"pg_settings": {}}, "proxy_host": host,
                "suspend_timeout_seconds": self.suspend_timeout_seconds, "provisioner": "k8s-neonvm"}
        if self.name:
            data["name"] = self.name
        if self.started and not self.disabled:
            data["started_at"] = now_iso(self.started)
            data["last_active"] = now_iso(self.started)
        return data


@dataclass
class Branch:
    id: str
    project_id: str
    name: str
    parent_id: Optional[str]
    default: bool
    cluster: object
    protected: bool = False
    expires_epoch: Optional[int] = None  # when Neon deletes it (whole seconds), and the interval it was set with
    ttl_interval_seconds: Optional[int] = None
    annotation: dict = field(default_factory=dict)
    roles: dict = field(default_factory=dict)       # name -> Role
    databases: dict = field(default_factory=dict)   # name -> Database
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    ready_at: float = 0.0  # monotonic time its create_branch operation ends

    def json(self):
        ready = time.monotonic() >= self.ready_at
        data = {"id": self.id, "project_id": self.project_id, "name": self.name,
                "current_state": "ready" if ready else "init", "state_changed_at": now_iso(self.updated),
                "creation_source": "console", "created_at": now_iso(self.created), "updated_at": now_iso(self.updated),
                "default": self.default, "primary": self.default, "protected": self.protected,
                "cpu_used_sec": 0, "active_time_seconds": 0, "compute_time_seconds": 0, "written_data_bytes": 0,
                "data_transfer_bytes": 0, "logical_size": 0, "init_source": "parent-data"}
        if not ready:
            data["pending_state"] = "ready"
        if self.parent_id:
            data["parent_id"] = self.parent_id
            data["parent_timestamp"] = now_iso(self.created)
        if self.expires_at:
            data["expires_at"] = self.expires_at
            data["ttl_interval_seconds"] = self.ttl_interval_seconds
        return data

    @property
    def expires_at(self):
        """The expiry as Neon shows it: UTC, whole seconds (2025-06-09T18:02:16Z); None without one."""
        return None if self.expires_epoch is None else now_iso(self.expires_epoch)


@dataclass
class Project:
    id: str
    name: str
    region_id: str
    pg_version: int
    store_passwords: bool = True
    history_retention_seconds: int = 86400
    settings: dict = field(default_factory=dict)
    default_endpoint_settings: dict = field(default_factory=dict)
    org_id: Optional[str] = None
    branches: dict = field(default_factory=dict)    # id -> Branch (insertion order = creation order)
    endpoints: dict = field(default_factory=dict)   # id -> Endpoint
    operations: list = field(default_factory=list)  # Operation, oldest first
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def busy(self):
        return [op for op in self.operations if op.running]

    def default_branch(self):
        return next(b for b in self.branches.values() if b.default)

    def branch_endpoints(self, branch_id):
        return [e for e in self.endpoints.values() if e.branch_id == branch_id]

    def _common(self, proxy_host):
        data = {"id": self.id, "platform_id": "aws", "region_id": self.region_id, "name": self.name,
                "pg_version": self.pg_version, "proxy_host": proxy_host, "branch_logical_size_limit": 3072,
                "branch_logical_size_limit_bytes": 3072 * 1024 * 1024, "store_passwords": self.store_passwords,
                "cpu_used_sec": 0, "provisioner": "k8s-neonvm", "creation_source": "console",
                "history_retention_seconds": self.history_retention_seconds,
                "created_at": now_iso(self.created), "updated_at": now_iso(self.updated), "owner_id": "sandbox-user",
                "settings": dict(self.settings), "default_endpoint_settings": dict(self.default_endpoint_settings)}
        if self.org_id:
            data["org_id"] = self.org_id
        return data

    def json(self, proxy_host):
        data = self._common(proxy_host)
        period_start = datetime.fromtimestamp(self.created, timezone.utc).replace(day=1, hour=0, minute=0, second=0)
        data.update({"consumption_period_start": period_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "consumption_period_end": "0001-01-01T00:00:00Z", "active_time_seconds": 0,
                     "compute_time_seconds": 0, "written_data_bytes": 0, "data_transfer_bytes": 0,
                     "data_storage_bytes_hour": 0, "synthetic_storage_size": 0})
        return data

    def list_json(self, proxy_host):
        data = self._common(proxy_host)
        data["active_time"] = 0
        return data
