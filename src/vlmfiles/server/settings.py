"""The one settings object of the server.

Read once, in this order of precedence: command-line flags (passed as keyword arguments by
the CLI), environment variables ``VLMFILES_<NAME>``, an optional TOML file
(``--config`` / ``VLMFILES_CONFIG``), then the defaults below. ``docs/configuration.md``
lists every field; a test keeps that page and this class in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .._protocol import LIST_MAX_LIMIT

GiB = 1024**3
MiB = 1024**2
INLINE_MAX_CEILING = MiB  # inline bytes arrive in one read batch (sink.BATCH)
DATABASE_POOL_SIZE = 20  # see metadata.store.create_engine


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VLMFILES_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, description="Port to listen on.")
    workers: int = Field(1, ge=1, description="Server processes on this machine.")
    max_connections: int | None = Field(
        512,
        ge=1,
        description="Concurrent connections a process serves; past it, new requests get 503 "
        "in the error shape, with Retry-After (uvicorn's limit_concurrency). Bounds memory "
        "(each upload in flight holds up to ~5 MiB) and file descriptors.",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request line and headers together, in bytes; past it, 431 "
        "(counted as the bytes arrive, before parsing ends).",
    )
    max_header_count: int = Field(
        100, ge=10, description="Most header fields a request may have; past it, 431."
    )
    header_timeout_seconds: float = Field(
        20,
        gt=0,
        description="Time a request's headers may take to arrive, from their first byte; "
        "past it, 408 and the connection closed (slow-header clients hold no connection).",
    )
    body_timeout_seconds: float = Field(
        60,
        gt=0,
        description="Time a request's body may go without sending a byte while the server "
        "waits for one; past it, 408 and the connection closed (the upload is discarded).",
    )
    idle_timeout_seconds: int = Field(
        5,
        gt=0,
        description="Time a connection may stay open without a request, new or kept alive "
        "after a response (uvicorn's timeout_keep_alive); then it is closed.",
    )
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="Where the embedded default keeps its SQLite database, blobs and secret. "
        "Default: the user's data directory (~/.local/share/vlmfiles on Linux), whatever the "
        "current directory, so every command finds the same one.",
    )
    database_url: str | None = Field(
        None,
        description="Metadata database: sqlite:///PATH or postgresql://USER@HOST/DB. "
        "Default: SQLite in the data dir.",
    )
    database_pool_size: int = Field(
        DATABASE_POOL_SIZE,
        ge=1,
        description="PostgreSQL connections each server process keeps open (opened as "
        "needed, then kept; a request past them waits for one, first come, first served). "
        "Keep processes × this below PostgreSQL's max_connections. Not used with SQLite.",
    )
    storage_url: str | None = Field(
        None,
        description="Blob store: file:///PATH or s3://BUCKET?endpoint=URL&region=R. "
        "Default: the data dir's blobs/ folder.",
    )
    public_url: str | None = Field(
        None,
        description="Base URL clients reach this server at; signed URLs are built on it, "
        "never on the request's Host header. Default: http://HOST:PORT.",
    )
    secret_key: str | None = Field(
        None,
        description="HMAC key for signed URLs. Every server process of one deployment must "
        "share it. Default: a random key created in the data dir.",
    )
    max_file_size: int = Field(5 * GiB, gt=0, description="Largest file accepted, in bytes.")
    inline_max_bytes: int = Field(
        64 * 1024,
        ge=0,
        le=INLINE_MAX_CEILING,
        description="Files up to this size keep their bytes in the metadata database, "
        "committed with their record, instead of the blob store: no file or object per "
        "small upload. 0 keeps every file in the blob store. At most 1 MiB.",
    )
    max_json_document_size: int = Field(
        64 * MiB,
        gt=0,
        description="Largest single JSON value accepted for purpose fine-tune: a whole JSON "
        "document, or one line of JSONL. Bounds the memory validating an upload takes.",
    )
    url_expiry_seconds: int = Field(
        24 * 3600, gt=0, description="Lifetime of the signed download URL in a FileResponse."
    )
    max_upload_url_expiry_seconds: int = Field(
        7 * 24 * 3600, gt=0, description="Longest lifetime a presigned upload URL may ask for."
    )
    list_max_limit: int = Field(
        LIST_MAX_LIMIT, gt=0, description="Largest page GET /v1/files returns."
    )
    recent_keys_seconds: float = Field(
        10.0,
        ge=0,
        description="How long a process trusts an API key that uploaded without looking it "
        "up again (the upload's commit still checks it). Saves PostgreSQL a round trip per "
        "upload; 0 looks every key up.",
    )
    sweep_interval_seconds: int = Field(
        600,
        gt=0,
        description="How often each process removes what crashed or abandoned uploads left "
        "(staging, unreferenced blobs, expired presigned uploads).",
    )
    log_level: str = Field("info", description="uvicorn log level.")
    # Predictions (server/predictions/, docs/predictions.md) ------------------------------
    queue_url: str | None = Field(
        None,
        description="Job broker: redis://HOST:PORT/DB, with `vlmfiles worker` processes "
        "running the jobs. Default: an in-memory queue whose worker threads run inside "
        "`vlmfiles serve` (no extra service).",
    )
    queue_namespace: str = Field(
        "vlmfiles", description="Prefix of the broker's Redis keys: one per deployment."
    )
    queue_heartbeat_seconds: float = Field(
        60.0,
        gt=0,
        description="A worker silent this long is taken for dead and its unacknowledged jobs "
        "go to another worker (Redis broker).",
    )
    queue_maintenance_chance: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Out of a million broker commands, how many also look for dead workers' "
        "jobs to redeliver (Redis broker). 1000000: every command.",
    )
    worker_threads: int = Field(
        2, ge=1, description="Jobs one process runs at once (`serve` embedded, `worker`)."
    )
    prediction_engines: list[str] = Field(
        ["vlmfiles.server.engines.offline:OfflineEngine"],
        description="Engines, as `module:Class` (in the environment, a JSON list); the first "
        "that serves a domain runs it.",
    )
    vlm_base_url: str | None = Field(
        None,
        description="An OpenAI-compatible endpoint (vLLM, Ollama, LM Studio, OpenAI), e.g. "
        "http://127.0.0.1:8001/v1; when set, the model engine serves every hub domain, "
        "custom domains with config.json_schema, and the rest as `engine_routes` says.",
    )
    vlm_model: str | None = Field(
        None, description="The model name sent to `vlm_base_url` (required with it)."
    )
    vlm_api_key: SecretStr | None = Field(
        None,
        description="Bearer key for `vlm_base_url`; never logged or printed. "
        "Default: no Authorization header.",
    )
    vlm_max_concurrency: int = Field(
        4, ge=1, description="Requests in flight to `vlm_base_url` at once, per process."
    )
    vlm_timeout_seconds: float = Field(
        120.0,
        gt=0,
        description="Time limit of one request to `vlm_base_url` (the job's own time limit "
        "bounds it too).",
    )
    vlm_max_attempts: int = Field(
        3,
        ge=1,
        le=10,
        description="Tries of one request to `vlm_base_url` on 429, 5xx, a timeout or a "
        "refused connection, with backoff, before the job goes back to the queue.",
    )
    engine_routes: dict[str, str] = Field(
        {},
        description="Which engine serves a domain, by name (`offline`, `vlm`): keys are "
        'domains or `prefix.*` patterns, e.g. {"document.markdown": "offline", '
        '"document.*": "vlm"} (in the environment, a JSON object). An exact domain wins over '
        "a pattern, the longest pattern over shorter ones (`*` matches every domain); unrouted domains go to the model "
        "engine when `vlm_base_url` is set, else to the first engine that serves them.",
    )
    sync_wait_seconds: float = Field(
        100.0,
        ge=0,
        description="How long a `batch=false` request waits for its result before it answers "
        "`pending` (below the official SDK's 120 s timeout).",
    )
    job_time_limit_seconds: float = Field(
        300.0, gt=0, description="A job running longer fails with that reason."
    )
    job_max_retries: int = Field(
        3, ge=0, description="Retries, with backoff, of a job that met a transient fault."
    )
    max_input_bytes: int = Field(
        100 * MiB, gt=0, description="Largest input file or fetched URL a job accepts."
    )
    max_inline_input_bytes: int = Field(
        25 * MiB,
        gt=0,
        description="Largest request body of a generate call (base64 images included).",
    )
    max_pages: int = Field(2000, gt=0, description="A PDF with more pages is refused.")
    max_pixels: int = Field(
        100_000_000, gt=0, description="An image or rendered page with more pixels is refused."
    )
    url_fetch_timeout_seconds: float = Field(
        30.0, gt=0, description="Time limit to fetch an outside http(s) input URL."
    )
    allow_private_urls: bool = Field(
        False,
        description="Let input URLs and `callback_url`s reach loopback, private and link-local addresses "
        "(`--allow-private-urls`). Off: such a URL is a 400, or fails its job when a name resolves to one.",
    )
    callback_max_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="Attempts to deliver a prediction's `callback_url` (a connection error, "
        "a timeout, a 5xx, 408 or 429 is tried again; another status ends it).",
    )
    callback_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="Time limit to connect, send and read per attempt."
    )
    callback_backoff_seconds: float = Field(
        2.0,
        gt=0,
        description="Wait before the second callback attempt; doubled before each next "
        "one (at most an hour).",
    )
    callback_threads: int = Field(
        2,
        ge=1,
        description="Callback deliveries one process makes at once, apart from its job "
        "slots (`worker_threads`).",
    )
    accept_all_waiting: bool = Field(
        True,
        description="Serve on vlmfiles' uvloop (server/loop.py), which accepts every "
        "connection waiting, not one per turn of the loop: a burst of new clients is "
        "answered at once. false: uvicorn's own choice of loop.",
    )

    @model_validator(mode="after")
    def _model_named(self) -> Settings:
        if self.vlm_base_url and not self.vlm_model:
            raise ValueError(
                "vlm_base_url is set but vlm_model is not: name the model the endpoint "
                "serves (--vlm-model / VLMFILES_VLM_MODEL)"
            )
        for pattern, name in self.engine_routes.items():
            if not pattern or not name:
                raise ValueError(f"engine_routes has an empty key or engine: {pattern!r}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("VLMFILES_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    # Derived values -------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'metadata.sqlite3'}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir.resolve() / "blobs").as_uri()

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def default_data_dir() -> Path:
    """Per user, not per current directory: ``vlmfiles keys create`` run from anywhere finds
    the data the server uses (platformdirs: XDG_DATA_HOME on Linux)."""
    from platformdirs import user_data_path

    return user_data_path("vlmfiles", appauthor=False)


def load_settings(**overrides: Any) -> Settings:
    """Settings from flags (``overrides``; None means "not given"), env, TOML, defaults."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
